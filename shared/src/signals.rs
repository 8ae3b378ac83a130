//! Frustration signals (contract §6): the one implementation of their
//! rules, a streaming detector over a session's events.
//!
//! The recorder runs it where every event of a page passes (its wasm
//! half, which also ticks it as time passes, so a dead click is decided
//! about a second after the click rather than at the next event) and
//! records what it finds as [`EventData::Signal`] events; the server's
//! digest and the player read those. The player runs it too, without the
//! capture layer's hints, over recordings made before signals existed.
//!
//! The rules, each with its constants below:
//! - **rage click**: [`RAGE_CLICKS`] or more clicks within
//!   [`RAGE_WINDOW_MS`] of the burst's first click, each within
//!   [`RAGE_RADIUS_PX`] of it; one signal per burst, when the burst ends
//!   (a click that does not fit, the window over, the page hidden or
//!   left), `count` the burst's clicks;
//! - **dead click**: a click after which, for [`DEAD_MS`], the page does
//!   not change: no DOM or stylesheet change, navigation (a new page, the
//!   page hidden), scroll, dialog (`alert`, `confirm`, `prompt`), field
//!   change, viewport, media or canvas change. The change may start at the
//!   click's `mousedown` (a menu that opens on press). Clicks into fields
//!   and on plain text do not count: the capture layer, which sees the
//!   target, says so with each click ([`Detector::observe`]'s `dead_ok`);
//! - **error click**: a click followed within [`ERROR_MS`] by an uncaught
//!   error or unhandled rejection: the last click before the error (the
//!   one it follows; earlier clicks are followed by that click first); one
//!   per click, `t` the error's;
//! - **thrashed cursor**: erratic movement of the mouse: at least
//!   [`THRASH_REVERSALS`] direction reversals within [`THRASH_WINDOW_MS`].
//!   A reversal is counted per axis (x and y alike): the pointer travels
//!   one way, then back by at least [`THRASH_LEG_PX`] from the farthest
//!   point it reached (smaller wobbles are not reversals). The thrash
//!   lasts while reversals keep coming less than [`THRASH_WINDOW_MS`]
//!   apart; one signal per thrash, when it ends, `count` its reversals,
//!   `since` its first reversal, `x`/`y` where that was;
//! - **u-turn**: a page left for the one before it after being shown for
//!   less than [`UTURN_MS`]: A, then B, then A again (URLs compared
//!   without their fragment), B shown under [`UTURN_MS`]. `since` is when
//!   B was shown, `count` how long (ms), `label` B's URL; the event's `t`
//!   is when A came back.

use crate::event::{limits, Event, EventData, MouseKind, Signal, SignalKind};
use crate::ids::{NodeId, NO_NODE};
use crate::text::cut;

/// Rage clicks: this many clicks...
pub const RAGE_CLICKS: u32 = 3;
/// ...within this many ms of the burst's first click...
pub const RAGE_WINDOW_MS: u64 = 1_000;
/// ...each within this many CSS pixels of it.
pub const RAGE_RADIUS_PX: i64 = 30;
/// A click is dead when the page does not change for this long after it.
pub const DEAD_MS: u64 = 1_000;
/// A click is an error click when an uncaught error follows within this.
pub const ERROR_MS: u64 = 1_000;
/// A thrash: this many direction reversals...
pub const THRASH_REVERSALS: usize = 5;
/// ...within this many ms (and it lasts while reversals come closer than
/// this).
pub const THRASH_WINDOW_MS: u64 = 2_000;
/// A reversal: the pointer comes back at least this many CSS pixels
/// (along one axis) from the farthest point of its travel.
pub const THRASH_LEG_PX: i32 = 30;
/// A u-turn: the page left was shown for less than this.
pub const UTURN_MS: u64 = 7_000;

/// A click not decided yet (dead or not; error or not).
#[derive(Clone, Debug)]
struct Click {
    t: u64,
    id: NodeId,
    x: i32,
    y: i32,
    label: Option<String>,
    selector: Option<String>,
    /// May be a dead click (not a field, not plain text).
    dead_ok: bool,
    /// The page changed since the click's press.
    changed: bool,
    /// An error click already.
    errored: bool,
}

#[derive(Clone, Debug)]
struct Burst {
    first: Click,
    count: u32,
}

/// One axis of the pointer's travel.
#[derive(Clone, Copy, Debug, Default)]
struct Axis {
    /// -1, 0 (not moving yet) or 1.
    dir: i32,
    /// The farthest point of the current leg (or the start).
    far: i32,
    started: bool,
}

impl Axis {
    /// Takes one position; whether it makes a reversal.
    fn step(&mut self, v: i32) -> bool {
        if !self.started {
            *self = Axis {
                dir: 0,
                far: v,
                started: true,
            };
            return false;
        }
        let d = i64::from(v) - i64::from(self.far);
        let leg = i64::from(THRASH_LEG_PX);
        match self.dir {
            0 if d.abs() >= leg => {
                self.dir = d.signum() as i32;
                self.far = v;
                false
            }
            0 => false,
            dir if d.signum() as i32 == dir => {
                self.far = v;
                false
            }
            dir if d.abs() >= leg => {
                self.dir = -dir;
                self.far = v;
                true
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Thrash {
    x: Axis,
    y: Axis,
    /// Recent reversals: (t, x, y).
    recent: Vec<(u64, i32, i32)>,
    /// The thrash under way: its first reversal, count, last reversal.
    on: Option<((u64, i32, i32), u32, u64)>,
}

/// The streaming detector: feed it a session's events in recorded order
/// ([`Detector::observe`]), and the passing of time ([`Detector::tick`]);
/// it appends the signals it finds to `out`, stamped no earlier than any
/// event it has seen (times never decrease).
#[derive(Clone, Debug, Default)]
pub struct Detector {
    /// The latest time seen (events, ticks).
    last_t: u64,
    /// Clicks of the last [`DEAD_MS`] (and [`ERROR_MS`]).
    clicks: Vec<Click>,
    /// The last `mousedown`.
    down: Option<u64>,
    /// The last change of the page.
    changed: Option<u64>,
    burst: Option<Burst>,
    thrash: Thrash,
    /// The session's last two pages: URL without fragment, when shown.
    pages: Vec<(String, u64)>,
}

impl Detector {
    pub fn new() -> Self {
        Detector::default()
    }

    /// The pages this session showed before this recorder started (a new
    /// page load continues the session), oldest first: only what a u-turn
    /// needs, the last two. Ignored once the detector has seen a page.
    pub fn previous_pages<'a>(&mut self, pages: impl IntoIterator<Item = (&'a str, u64)>) {
        if !self.pages.is_empty() {
            return;
        }
        for (url, t) in pages {
            self.page(url, t);
        }
        self.keep_two_pages();
    }

    fn keep_two_pages(&mut self) {
        let extra = self.pages.len().saturating_sub(2);
        self.pages.drain(..extra);
    }

    /// One event. `dead_ok`: for a click, whether it may be a dead click
    /// (the capture layer says false for a click into a field or on plain
    /// text); ignored otherwise.
    pub fn observe(&mut self, e: &Event, dead_ok: bool, out: &mut Vec<Event>) {
        self.advance(e.t, out);
        let t = e.t;
        match &e.data {
            EventData::Mouse(m) if m.kind == MouseKind::Click => {
                let click = Click {
                    t,
                    id: m.id,
                    x: m.x,
                    y: m.y,
                    label: m.label.clone(),
                    selector: m.selector.clone(),
                    dead_ok,
                    changed: self.changed.is_some_and(|c| {
                        c >= self
                            .down
                            .filter(|&d| t.saturating_sub(d) <= DEAD_MS)
                            .unwrap_or(t)
                    }),
                    errored: false,
                };
                self.rage(&click, out);
                self.clicks.push(click);
            }
            EventData::Mouse(m) if m.kind == MouseKind::Down => self.down = Some(t),
            EventData::MouseMove(ps) => {
                for p in ps {
                    self.movement(t.saturating_add(u64::from(p.dt)), p.x, p.y, out);
                }
            }
            EventData::PageError(_) => {
                // The click the error follows: the last one, if recent.
                let from = t.saturating_sub(ERROR_MS);
                if let Some(c) = self.clicks.last_mut().filter(|c| c.t >= from && !c.errored) {
                    c.errored = true;
                    let s = signal(SignalKind::ErrorClick, t, c.t, c, 1);
                    self.emit([s], out);
                }
            }
            EventData::Meta(m) => {
                self.change(t);
                self.end_all(out);
                self.page(&m.href, t);
                let u_turn = match &self.pages[..] {
                    [(a, _), (left, shown), (c, _)]
                        if a == c && t.saturating_sub(*shown) < UTURN_MS =>
                    {
                        Some(Signal {
                            kind: SignalKind::UTurn,
                            since: *shown,
                            id: NO_NODE,
                            x: 0,
                            y: 0,
                            count: u32::try_from(t.saturating_sub(*shown)).unwrap_or(u32::MAX),
                            label: Some(cut(left.clone(), limits::MAX_LABEL)),
                            selector: None,
                        })
                    }
                    _ => None,
                };
                if let Some(s) = u_turn {
                    self.emit(
                        [Event {
                            t,
                            data: EventData::Signal(s),
                        }],
                        out,
                    );
                }
                self.keep_two_pages();
            }
            EventData::Visibility(v) if !v.visible => {
                self.change(t);
                self.end_all(out);
            }
            EventData::Mutation(_)
            | EventData::FullSnapshot(_)
            | EventData::Input(_)
            | EventData::Scroll(_)
            | EventData::Viewport(_)
            | EventData::StyleSheet(_)
            | EventData::AdoptedStyleSheets(_)
            | EventData::Media(_)
            | EventData::Canvas(_)
            | EventData::Popover(_)
            | EventData::FrameEvents(_)
            | EventData::Dropped(_) => self.change(t),
            _ => {}
        }
    }

    /// The page changed at `t` in a way no event records (a dialog), or
    /// before its event is recorded (a scroll, whose position is recorded
    /// a little later).
    pub fn changed(&mut self, t: u64, out: &mut Vec<Event>) {
        self.advance(t, out);
        self.change(t);
    }

    /// Time passed: every event up to `now` has been observed, so what
    /// waited on it is decided.
    pub fn tick(&mut self, now: u64, out: &mut Vec<Event>) {
        self.advance(now, out);
    }

    /// Whether something waits for time to pass (a click, a burst, a
    /// thrash): the capture layer ticks again soon while it does.
    pub fn waiting(&self) -> bool {
        !self.clicks.is_empty() || self.burst.is_some() || self.thrash.on.is_some()
    }

    fn change(&mut self, t: u64) {
        self.changed = Some(self.changed.map_or(t, |c| c.max(t)));
        for c in &mut self.clicks {
            c.changed = true;
        }
    }

    fn page(&mut self, href: &str, t: u64) {
        let url = href.split('#').next().unwrap_or(href);
        if self.pages.last().is_some_and(|(u, _)| u == url) {
            return; // the same page again (a new snapshot of it)
        }
        self.pages.push((url.to_owned(), t));
    }

    /// Decides what time `t` settles, then moves the clock to it.
    fn advance(&mut self, t: u64, out: &mut Vec<Event>) {
        let mut found = Vec::new();
        // Dead clicks: no change in the window after them.
        self.clicks.retain(|c| {
            let end = c.t.saturating_add(DEAD_MS.max(ERROR_MS));
            if t <= end {
                return true;
            }
            if c.dead_ok && !c.changed {
                found.push(signal(SignalKind::DeadClick, end, c.t, c, 1));
            }
            false
        });
        if let Some(b) = &self.burst {
            if t > b.first.t.saturating_add(RAGE_WINDOW_MS) {
                let end = b.first.t.saturating_add(RAGE_WINDOW_MS);
                found.extend(self.end_burst(end));
            }
        }
        if let Some((_, _, last)) = self.thrash.on {
            let end = last.saturating_add(THRASH_WINDOW_MS);
            if t > end {
                found.extend(self.end_thrash(end));
            }
        }
        sort_by_t(&mut found);
        self.emit(found, out);
        self.last_t = self.last_t.max(t);
    }

    /// The page is gone (hidden, or another page): bursts and thrashes
    /// end; clicks are decided by it (a navigation is a change).
    fn end_all(&mut self, out: &mut Vec<Event>) {
        let t = self.last_t;
        let mut found: Vec<Event> = self.end_burst(t).into_iter().collect();
        found.extend(self.end_thrash(t));
        self.clicks.clear();
        self.emit(found, out);
    }

    fn rage(&mut self, c: &Click, out: &mut Vec<Event>) {
        if let Some(b) = &mut self.burst {
            let (dx, dy) = (
                i64::from(c.x) - i64::from(b.first.x),
                i64::from(c.y) - i64::from(b.first.y),
            );
            let near = dx * dx + dy * dy <= RAGE_RADIUS_PX * RAGE_RADIUS_PX;
            if near && c.t - b.first.t <= RAGE_WINDOW_MS {
                b.count += 1;
                return;
            }
            let ended = self.end_burst(c.t);
            self.emit(ended, out);
        }
        self.burst = Some(Burst {
            first: c.clone(),
            count: 1,
        });
    }

    fn end_burst(&mut self, t: u64) -> Option<Event> {
        let b = self.burst.take()?;
        (b.count >= RAGE_CLICKS)
            .then(|| signal(SignalKind::RageClick, t, b.first.t, &b.first, b.count))
    }

    fn movement(&mut self, t: u64, x: i32, y: i32, out: &mut Vec<Event>) {
        // Samples run ahead of their event's time: a thrash they end is
        // stamped with the clock, not with the sample.
        if let Some((_, _, last)) = self.thrash.on {
            if t > last.saturating_add(THRASH_WINDOW_MS) {
                let ended = self.end_thrash(self.last_t);
                self.emit(ended, out);
            }
        }
        let th = &mut self.thrash;
        let reversals = usize::from(th.x.step(x)) + usize::from(th.y.step(y));
        for _ in 0..reversals {
            match &mut th.on {
                Some((_, count, last)) => {
                    *count += 1;
                    *last = (*last).max(t);
                }
                None => {
                    th.recent
                        .retain(|&(rt, _, _)| t.saturating_sub(rt) <= THRASH_WINDOW_MS);
                    th.recent.push((t, x, y));
                    if th.recent.len() >= THRASH_REVERSALS {
                        let first = th.recent[0];
                        th.on = Some((first, th.recent.len() as u32, t));
                        th.recent.clear();
                    }
                }
            }
        }
    }

    fn end_thrash(&mut self, t: u64) -> Option<Event> {
        let ((since, x, y), count, _) = self.thrash.on.take()?;
        let s = Signal {
            kind: SignalKind::ThrashedCursor,
            since,
            id: NO_NODE,
            x,
            y,
            count,
            label: None,
            selector: None,
        };
        Some(Event {
            t,
            data: EventData::Signal(s),
        })
    }

    /// Appends `found`, no earlier than anything seen (and each beginning
    /// no later than it is reported).
    fn emit(&mut self, found: impl IntoIterator<Item = Event>, out: &mut Vec<Event>) {
        for mut e in found {
            e.t = e.t.max(self.last_t);
            self.last_t = e.t;
            if let EventData::Signal(s) = &mut e.data {
                s.since = s.since.min(e.t);
            }
            out.push(e);
        }
    }
}

fn signal(kind: SignalKind, t: u64, since: u64, c: &Click, count: u32) -> Event {
    Event {
        t,
        data: EventData::Signal(Signal {
            kind,
            since,
            id: c.id,
            x: c.x,
            y: c.y,
            count,
            label: c.label.clone().map(|l| cut(l, limits::MAX_LABEL)),
            selector: c.selector.clone().map(|s| cut(s, limits::MAX_SELECTOR)),
        }),
    }
}

/// The signals of a whole recording, found without the capture layer's
/// hints (so no dead clicks: whether a click was on a field or on plain
/// text is not in the events): what the player shows for recordings made
/// before the recorder detected signals.
pub fn detect(events: &[Event]) -> Vec<Event> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for e in events {
        d.observe(e, false, &mut out);
    }
    d.tick(u64::MAX, &mut out);
    out
}

/// Orders signals by `t`, equal times kept in order (stable): an
/// insertion sort, as there are a handful at most, and the recorder's
/// wasm then carries no general sort (drift sort is ~2.5 KB there).
fn sort_by_t(v: &mut [Event]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1].t > v[j].t {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
