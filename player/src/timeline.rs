//! A session's events on one clock, and what the player derives from them.
//!
//! The clock is milliseconds from the session's start (its first event's
//! `t`). Events are sorted stably by `t`, so events recorded at the same
//! millisecond keep their recorded order: a custom event recorded right
//! after a DOM change stays after it.
//!
//! Seeking must be fast anywhere in a long session, so the timeline keeps
//! keyframes: copies of the model every ~500 events or 30 s of session time.
//! The state at `t` is the nearest keyframe at or before `t` plus the few
//! events after it. A large document makes each copy expensive, so
//! keyframes are also spaced by the document's size: their total memory
//! stays proportional to the session's events.

use crate::json::{Object, ToJson};
use crate::model::Model;
use reel_shared::signals;
use reel_shared::{
    ConsoleLevel, Event, EventData, MouseKind, NetworkKind, PageErrorKind, Signal, SignalKind,
};

/// A keyframe is due after this many events...
pub const KEYFRAME_EVENTS: usize = 500;
/// ...or this much session time, whichever comes first.
pub const KEYFRAME_MS: u64 = 30_000;
/// But never closer than `model.len() / KEYFRAME_SIZE_RATIO` events apart.
pub const KEYFRAME_SIZE_RATIO: usize = 16;
/// A gap without user activity longer than this is an idle stretch.
pub const IDLE_MS: u64 = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    Custom,
    Click,
    /// The frustration signals ([`reel_shared::signals`]): recorded by the
    /// recorder, or for recordings made before it did, found here by the
    /// same rules (all but dead clicks, which need what only the page
    /// knew).
    RageClick,
    DeadClick,
    ErrorClick,
    ThrashedCursor,
    UTurn,
    Navigation,
    /// A console message at level `error`, or an uncaught error or
    /// unhandled rejection.
    Error,
    /// The recorder dropped data (its buffer was full while the server was
    /// unreachable): what the replay shows around here may be incomplete.
    Gap,
    /// A comment on this moment (they come from the server's comments
    /// API, not from the recording: see [`Timeline::set_comments`]).
    Comment,
}

/// What a side-panel entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Navigation,
    Click,
    Input,
    Custom,
    Debug,
    Log,
    Info,
    Warn,
    Error,
    Gap,
    /// A named key pressed (`Enter`, `Escape`...).
    Key,
    /// A request of the page (the Network panel).
    Network,
    /// A frustration signal, by its kind's name (`rage_click`...).
    Signal(SignalKind),
}

/// The lists of lines the player's panels show, numbered as
/// `reelPlayer.rowCount(panel)`, `rows(panel, …)` and `rowsUntil(panel, …)`
/// take them (`false` and `true` still mean the first two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// Navigations, clicks, inputs, keys, custom events, gaps.
    Events = 0,
    /// Console messages and errors.
    Console = 1,
    /// Every request.
    Network = 2,
    /// Requests that failed: status 0 or at least 400.
    NetworkFailed = 3,
    /// Uncaught errors, unhandled rejections and `console.error`.
    Errors = 4,
}

pub const PANELS: usize = 5;

impl Panel {
    pub fn from_index(i: usize) -> Option<Panel> {
        [
            Panel::Events,
            Panel::Console,
            Panel::Network,
            Panel::NetworkFailed,
            Panel::Errors,
        ]
        .get(i)
        .copied()
    }

    fn holds(self, e: &Entry) -> bool {
        match self {
            Panel::Events => !e.console && e.kind != EntryKind::Network,
            Panel::Console => e.console,
            Panel::Network => e.kind == EntryKind::Network,
            Panel::NetworkFailed => e.net.as_ref().is_some_and(|n| n.failed()),
            Panel::Errors => e.kind == EntryKind::Error,
        }
    }
}

/// A request, as the Network panel's row shows it (the details, headers
/// and bodies, are read from the event when asked for: [`Timeline::detail`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetRow {
    pub kind: NetworkKind,
    pub method: String,
    pub url: String,
    pub status: u16,
    pub duration_ms: u32,
    /// When it started, ms from the session's start (the entry's `t` is
    /// when it settled).
    pub start: u64,
    pub request_bytes: Option<u64>,
    pub response_bytes: Option<u64>,
}

impl NetRow {
    /// Failed: no answer (status 0) or an error status.
    pub fn failed(&self) -> bool {
        self.status == 0 || self.status >= 400
    }
}

fn network_kind(k: NetworkKind) -> &'static str {
    match k {
        NetworkKind::Fetch => "fetch",
        NetworkKind::Xhr => "xhr",
        NetworkKind::Beacon => "beacon",
    }
}

/// One line of the player's side panels: the event list (navigations,
/// clicks, inputs, custom events) or the console (messages and errors),
/// and the drawer's network and error lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Ms from the session's start.
    pub t: u64,
    /// What happened, in a line (a URL, a message, a target).
    pub text: String,
    /// Whether it belongs in the console panel rather than the event list.
    pub console: bool,
    /// The event it stands for (an index into the timeline's events), for
    /// its details; `None` for lines the player made up (a missing chunk).
    pub event: Option<u32>,
    /// There is more to show than the line: a stack, headers or bodies.
    pub detail: bool,
    /// A request's row.
    pub net: Option<NetRow>,
}

/// Longest text an entry or marker name carries: a marker's tooltip and a
/// panel line are summaries, and recorded messages can be long.
const TEXT_MAX: usize = 300;

fn clip(s: &str) -> String {
    match s.char_indices().nth(TEXT_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A signal's line in the event list: its target by label, or what it
/// measured.
fn signal_text(s: &Signal) -> String {
    match (s.kind, label_of(&s.label)) {
        (SignalKind::UTurn, l) => format!(
            "Left {} after {:.1} s",
            l.map_or_else(|| "a page".into(), clip),
            f64::from(s.count) / 1000.0
        ),
        (SignalKind::ThrashedCursor, _) => format!("{} direction changes", s.count),
        (SignalKind::RageClick, Some(l)) => format!("{} clicks on “{}”", s.count, clip(l)),
        (_, Some(l)) => format!("on “{}”", clip(l)),
        (_, None) => format!("at {}, {}", s.x, s.y),
    }
}

/// Does this event show a person at the page (as opposed to the page
/// changing on its own)? Idle stretches are gaps between such events.
fn is_user_activity(data: &EventData) -> bool {
    matches!(
        data,
        EventData::Meta(_)
            | EventData::MouseMove(_)
            | EventData::Mouse(_)
            | EventData::Scroll(_)
            | EventData::Viewport(_)
            | EventData::Input(_)
            | EventData::Touch(_)
            | EventData::Selection(_)
            | EventData::Focus(_)
    )
}

/// One entry of `reelPlayer.markers()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub kind: MarkerKind,
    /// The custom event's name, the page URL, or a short label.
    pub name: String,
    /// Ms from the session's start.
    pub t: u64,
}

impl MarkerKind {
    /// The kind as JavaScript sees it (`reelPlayer.markers()`, CSS classes).
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Custom => "custom",
            MarkerKind::Click => "click",
            MarkerKind::RageClick => SignalKind::RageClick.name(),
            MarkerKind::DeadClick => SignalKind::DeadClick.name(),
            MarkerKind::ErrorClick => SignalKind::ErrorClick.name(),
            MarkerKind::ThrashedCursor => SignalKind::ThrashedCursor.name(),
            MarkerKind::UTurn => SignalKind::UTurn.name(),
            MarkerKind::Navigation => "navigation",
            MarkerKind::Error => "error",
            MarkerKind::Gap => "gap",
            MarkerKind::Comment => "comment",
        }
    }
}

impl EntryKind {
    /// The kind as JavaScript sees it (`reelPlayer.entries()`).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Navigation => "navigation",
            EntryKind::Click => "click",
            EntryKind::Input => "input",
            EntryKind::Custom => "custom",
            EntryKind::Debug => "debug",
            EntryKind::Log => "log",
            EntryKind::Info => "info",
            EntryKind::Warn => "warn",
            EntryKind::Error => "error",
            EntryKind::Gap => "gap",
            EntryKind::Key => "key",
            EntryKind::Network => "network",
            EntryKind::Signal(k) => k.name(),
        }
    }
}

impl ToJson for Marker {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("kind", self.kind.name())
            .field("name", &self.name)
            .field("t", &self.t)
            .end();
    }
}

impl ToJson for Entry {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("kind", self.kind.name())
            .field("t", &self.t)
            .field("text", &self.text)
            .field("console", &self.console)
            .field("detail", &self.detail)
            .field("net", &self.net)
            .end();
    }
}

impl ToJson for NetRow {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("kind", network_kind(self.kind))
            .field("method", &self.method)
            .field("url", &self.url)
            .field("status", &u32::from(self.status))
            .field("duration_ms", &self.duration_ms)
            .field("start", &self.start)
            .field("request_bytes", &self.request_bytes)
            .field("response_bytes", &self.response_bytes)
            .field("failed", &self.failed())
            .end();
    }
}

/// A list of `(name, value)` pairs as `[[name, value], …]`.
struct Pairs<'a>(&'a [(String, String)]);

impl ToJson for Pairs<'_> {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            k.write_json(out);
            out.push(',');
            v.write_json(out);
            out.push(']');
        }
        out.push(']');
    }
}

/// A recorded pointer position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// Ms from the session's start.
    pub t: u64,
    pub x: i32,
    pub y: i32,
    pub click: bool,
}

#[derive(Clone, Debug)]
struct Keyframe {
    /// `events[..next]` are applied in `model`.
    next: usize,
    model: Model,
}

#[derive(Clone, Debug)]
pub struct Timeline {
    events: Vec<Event>,
    start: u64,
    duration: u64,
    keyframes: Vec<Keyframe>,
    markers: Vec<Marker>,
    pointer: Vec<Pointer>,
    idle: Vec<(u64, u64)>,
    entries: Vec<Entry>,
    /// Indexes into `entries` of each panel's lines (see [`Panel`]), so a
    /// panel can show any window of a million lines without the others.
    rows: [Vec<u32>; PANELS],
    /// Comments on the session (`(ms from the start, text)`), shown as
    /// markers; they survive rebuilds like `missing`.
    comments: Vec<(u64, String)>,
    /// Chunks the server never served (`(session ms, how many)`): shown as
    /// recording gaps like the recorder's own `Dropped` events.
    missing: Vec<(u64, u32)>,
    /// Keyframe building continues from here when events are appended
    /// (live mode, streaming load): the model with every event applied.
    tip: Model,
    /// Events, and session ms, at the last keyframe.
    last_kf: (usize, u64),
}

impl Timeline {
    /// Builds the timeline of a session from its events in any order
    /// (normally: chunk by chunk, in sequence order).
    pub fn new(mut events: Vec<Event>) -> Self {
        events.sort_by_key(|e| e.t); // stable: equal t keep recorded order
        let start = events.first().map_or(0, |e| e.t);
        let duration = events.last().map_or(0, |e| e.t - start);
        let mut tl = Timeline {
            events,
            start,
            duration,
            keyframes: Vec::new(),
            markers: Vec::new(),
            pointer: Vec::new(),
            idle: Vec::new(),
            entries: Vec::new(),
            rows: Default::default(),
            comments: Vec::new(),
            missing: Vec::new(),
            tip: Model::new(),
            last_kf: (0, 0),
        };
        tl.keyframes.push(Keyframe {
            next: 0,
            model: Model::new(),
        });
        tl.build_keyframes(0);
        tl.build_derived();
        tl
    }

    /// Adds events that arrived later (live mode, a streamed load). Events
    /// in order after the last ones extend the timeline in place, so the
    /// keyframes built so far stay valid and the playhead's state with them;
    /// anything earlier rebuilds it. Returns false when it was rebuilt.
    pub fn append(&mut self, mut more: Vec<Event>) -> bool {
        if more.is_empty() {
            return true;
        }
        more.sort_by_key(|e| e.t);
        let last = self.events.last().map(|e| e.t);
        if last.is_some_and(|l| more[0].t < l) || last.is_none() {
            let mut all = std::mem::take(&mut self.events);
            all.extend(more);
            let missing = std::mem::take(&mut self.missing);
            let comments = std::mem::take(&mut self.comments);
            *self = Timeline::new(all);
            if !missing.is_empty() || !comments.is_empty() {
                self.missing = missing;
                self.comments = comments;
                self.build_derived();
            }
            return false;
        }
        let from = self.events.len();
        self.events.extend(more);
        self.duration = self.events.last().map_or(0, |e| e.t - self.start);
        self.build_keyframes(from);
        self.build_derived();
        true
    }

    /// Applies `events[from..]` to the tip model, keeping a copy every so
    /// often. The last event never gets a keyframe (nothing would follow
    /// it), but when more arrive the spacing counts from the last one kept.
    fn build_keyframes(&mut self, from: usize) {
        let (mut last_next, mut last_t) = self.last_kf;
        for i in from..self.events.len() {
            let e = &self.events[i];
            self.tip.apply_event_quiet(e);
            let next = i + 1;
            let rel = e.t - self.start;
            let since = next - last_next;
            let due = since >= KEYFRAME_EVENTS || rel.saturating_sub(last_t) >= KEYFRAME_MS;
            if due && since >= self.tip.len() / KEYFRAME_SIZE_RATIO && next < self.events.len() {
                self.keyframes.push(Keyframe {
                    next,
                    model: self.tip.clone(),
                });
                last_next = next;
                last_t = rel;
            }
        }
        self.last_kf = (last_next, last_t);
    }

    /// Markers, pointer track, idle stretches and panel entries: cheap
    /// linear passes, simply redone when events are appended.
    fn build_derived(&mut self) {
        self.markers.clear();
        self.pointer.clear();
        self.idle.clear();
        self.entries.clear();
        self.build_markers();
        self.build_pointer();
        self.build_idle();
        self.build_entries();
        self.add_missing();
        self.add_comments();
        for (i, rows) in self.rows.iter_mut().enumerate() {
            rows.clear();
            let Some(panel) = Panel::from_index(i) else {
                continue;
            };
            rows.extend(
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| panel.holds(e))
                    .map(|(i, _)| i as u32),
            );
        }
    }

    /// Shows the session's comments (`(ms from the start, text)`) as
    /// markers of kind `comment`, replacing any shown before.
    pub fn set_comments(&mut self, mut comments: Vec<(u64, String)>) {
        for c in &mut comments {
            c.0 = c.0.min(self.duration);
            c.1 = clip(&c.1);
        }
        comments.sort_by_key(|c| c.0);
        self.comments = comments;
        self.build_derived();
    }

    /// Merges the comments into the markers, in time order (after the
    /// markers of the same moment).
    fn add_comments(&mut self) {
        for (t, text) in &self.comments {
            let at = self.markers.partition_point(|m| m.t <= *t);
            self.markers.insert(
                at,
                Marker {
                    kind: MarkerKind::Comment,
                    name: text.clone(),
                    t: *t,
                },
            );
        }
    }

    /// Records that `chunks` chunks of the session were never served
    /// before the one starting at `t` (ms since the Unix epoch): a
    /// recording gap on the timeline and in the event list.
    pub fn add_gap(&mut self, t: u64, chunks: u32) {
        let t = t.saturating_sub(self.start).min(self.duration);
        self.missing.push((t, chunks));
        self.build_derived();
    }

    /// Merges the gaps of [`Timeline::add_gap`] into markers and entries,
    /// in time order.
    fn add_missing(&mut self) {
        for &(t, chunks) in &self.missing {
            let text = format!("recording gap: {chunks} chunk(s) missing on the server");
            let at = self.markers.partition_point(|m| m.t <= t);
            self.markers.insert(
                at,
                Marker {
                    kind: MarkerKind::Gap,
                    name: text.clone(),
                    t,
                },
            );
            let at = self.entries.partition_point(|e| e.t <= t);
            self.entries.insert(
                at,
                Entry {
                    kind: EntryKind::Gap,
                    t,
                    text,
                    console: false,
                    event: None,
                    detail: false,
                    net: None,
                },
            );
        }
    }

    /// How many lines a panel has.
    pub fn row_count(&self, panel: Panel) -> usize {
        self.rows[panel as usize].len()
    }

    /// Lines `from..to` of a panel (clamped).
    pub fn rows(&self, panel: Panel, from: usize, to: usize) -> Vec<&Entry> {
        let rows = &self.rows[panel as usize];
        let to = to.min(rows.len());
        let from = from.min(to);
        rows[from..to]
            .iter()
            .filter_map(|&i| self.entries.get(i as usize))
            .collect()
    }

    /// How many lines of a panel are at or before `t` (the last of them is
    /// the current one).
    pub fn rows_until(&self, panel: Panel, t: f64) -> usize {
        self.rows[panel as usize].partition_point(|&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.t as f64 <= t)
        })
    }

    /// How many console lines are errors.
    pub fn error_count(&self) -> usize {
        self.rows[Panel::Errors as usize].len()
    }

    /// The details of line `row` of `panel`, as JSON: a request's headers
    /// and bodies, an error's message, source and stack. `None` for a
    /// line with nothing more to show.
    pub fn detail(&self, panel: Panel, row: usize) -> Option<String> {
        let entry = self
            .entries
            .get(*self.rows[panel as usize].get(row)? as usize)?;
        let event = self.events.get(entry.event? as usize)?;
        let mut out = String::new();
        match &event.data {
            EventData::Network(n) => {
                Object::new(&mut out)
                    .field("kind", network_kind(n.kind))
                    .field("method", &n.method)
                    .field("url", &n.url)
                    .field("status", &u32::from(n.status))
                    .field("duration_ms", &n.duration_ms)
                    .field("start", &entry.net.as_ref().map_or(entry.t, |r| r.start))
                    .field("t", &entry.t)
                    .field("request_bytes", &n.request_bytes)
                    .field("response_bytes", &n.response_bytes)
                    .field("failure", &n.failure)
                    .field("request_headers", &Pairs(&n.request_headers))
                    .field("response_headers", &Pairs(&n.response_headers))
                    .field("request_body", &n.request_body)
                    .field("response_body", &n.response_body)
                    .end();
            }
            EventData::PageError(pe) => {
                Object::new(&mut out)
                    .field(
                        "kind",
                        match pe.kind {
                            PageErrorKind::Uncaught => "uncaught",
                            PageErrorKind::UnhandledRejection => "unhandled_rejection",
                        },
                    )
                    .field("t", &entry.t)
                    .field("message", &pe.message)
                    .field("source", &pe.source)
                    .field("stack", &pe.stack)
                    .end();
            }
            EventData::Console(c) => {
                Object::new(&mut out)
                    .field("kind", "console")
                    .field("t", &entry.t)
                    .field("message", &c.text)
                    .field("source", &None::<String>)
                    .field("stack", &None::<String>)
                    .end();
            }
            _ => return None,
        }
        Some(out)
    }

    /// The time of the first marker more than 1 ms after `t` (`forward`)
    /// or the last one more than 1 ms before it.
    pub fn marker_near(&self, t: f64, forward: bool) -> Option<u64> {
        if forward {
            let i = self.markers.partition_point(|m| m.t as f64 <= t + 1.0);
            self.markers.get(i).map(|m| m.t)
        } else {
            let i = self.markers.partition_point(|m| (m.t as f64) < t - 1.0);
            i.checked_sub(1)
                .and_then(|i| self.markers.get(i))
                .map(|m| m.t)
        }
    }

    fn build_markers(&mut self) {
        let mut recorded = false;
        for e in &self.events {
            let t = e.t - self.start;
            match &e.data {
                EventData::Custom(c) => self.markers.push(Marker {
                    kind: MarkerKind::Custom,
                    name: clip(&c.name),
                    t,
                }),
                EventData::Meta(m) => self.markers.push(Marker {
                    kind: MarkerKind::Navigation,
                    name: clip(&m.href),
                    t,
                }),
                EventData::Mouse(m) if m.kind == MouseKind::Click => {
                    self.markers.push(Marker {
                        kind: MarkerKind::Click,
                        name: label_of(&m.label).map_or_else(|| "click".into(), clip),
                        t,
                    });
                }
                EventData::Signal(s) => {
                    recorded = true;
                    let m = self.signal_marker(s);
                    self.markers.push(m);
                }
                EventData::Console(c) if c.level == ConsoleLevel::Error => {
                    self.markers.push(Marker {
                        kind: MarkerKind::Error,
                        name: clip(&c.text),
                        t,
                    })
                }
                EventData::PageError(pe) => self.markers.push(Marker {
                    kind: MarkerKind::Error,
                    name: clip(&pe.message),
                    t,
                }),
                EventData::Dropped(d) => self.markers.push(Marker {
                    kind: MarkerKind::Gap,
                    name: gap_text(d),
                    t,
                }),
                _ => {}
            }
        }
        if !recorded {
            // A recording from before the recorder found signals: the same
            // rules, run here.
            for e in signals::detect(&self.events) {
                if let EventData::Signal(s) = &e.data {
                    let m = self.signal_marker(s);
                    self.markers.push(m);
                }
            }
        }
        // A signal's marker is where it began, before it was found.
        self.markers.sort_by_key(|m| m.t);
    }

    /// A signal's marker: at its beginning (the click, the burst's first
    /// click, the thrash's start, the page left as it was shown).
    fn signal_marker(&self, s: &Signal) -> Marker {
        let kind = match s.kind {
            SignalKind::RageClick => MarkerKind::RageClick,
            SignalKind::DeadClick => MarkerKind::DeadClick,
            SignalKind::ErrorClick => MarkerKind::ErrorClick,
            SignalKind::ThrashedCursor => MarkerKind::ThrashedCursor,
            SignalKind::UTurn => MarkerKind::UTurn,
        };
        Marker {
            kind,
            name: s.kind.name().replace('_', " ").replace("u turn", "u-turn"),
            t: s.since.saturating_sub(self.start).min(self.duration),
        }
    }

    fn build_pointer(&mut self) {
        for e in &self.events {
            let t = e.t - self.start;
            match &e.data {
                EventData::MouseMove(ps) => self.pointer.extend(ps.iter().map(|p| Pointer {
                    t: t.saturating_add(u64::from(p.dt)),
                    x: p.x,
                    y: p.y,
                    click: false,
                })),
                EventData::Mouse(m) => self.pointer.push(Pointer {
                    t,
                    x: m.x,
                    y: m.y,
                    click: m.kind == MouseKind::Click,
                }),
                _ => {}
            }
        }
        self.pointer.sort_by_key(|p| p.t);
    }

    /// Gaps of more than [`IDLE_MS`] between user activity (the session's
    /// start and end count as activity: nobody wants to watch the page sit
    /// there before the first move or after the last).
    fn build_idle(&mut self) {
        let mut last = 0u64;
        let activity = self
            .events
            .iter()
            .filter(|e| is_user_activity(&e.data))
            .map(|e| e.t - self.start)
            .chain(std::iter::once(self.duration));
        for t in activity {
            if t.saturating_sub(last) > IDLE_MS {
                self.idle.push((last, t));
            }
            last = last.max(t);
        }
    }

    fn build_entries(&mut self) {
        let mut last_input: Option<reel_shared::NodeId> = None;
        for (index, e) in self.events.iter().enumerate() {
            let t = e.t - self.start;
            let entry = |kind, text: String, console| Entry {
                kind,
                t,
                text,
                console,
                event: u32::try_from(index).ok(),
                detail: false,
                net: None,
            };
            let got = match &e.data {
                EventData::Meta(m) => Some(entry(EntryKind::Navigation, clip(&m.href), false)),
                EventData::Mouse(m) if m.kind == MouseKind::Click => Some(entry(
                    EntryKind::Click,
                    match label_of(&m.label) {
                        Some(l) => format!("Clicked “{}”", clip(l)),
                        None => format!("click at {}, {}", m.x, m.y),
                    },
                    false,
                )),
                // Typing is one input event per keystroke: one entry per
                // run of inputs into the same field.
                EventData::Input(i) if last_input == Some(i.id) => None,
                EventData::Input(i) => {
                    last_input = Some(i.id);
                    let text = match (label_of(&i.label), i.checked) {
                        (Some(l), Some(true)) => format!("Checked “{}”", clip(l)),
                        (Some(l), Some(false)) => format!("Unchecked “{}”", clip(l)),
                        (Some(l), None) => format!("Typed into “{}”", clip(l)),
                        (None, _) => format!("input in field {}", i.id),
                    };
                    self.entries.push(entry(EntryKind::Input, text, false));
                    continue;
                }
                EventData::Key(k) => Some(entry(
                    EntryKind::Key,
                    match label_of(&k.label) {
                        Some(l) => format!("Pressed {} in “{}”", clip(&k.key), clip(l)),
                        None => format!("Pressed {}", clip(&k.key)),
                    },
                    false,
                )),
                EventData::Custom(c) => Some(entry(EntryKind::Custom, clip(&c.name), false)),
                EventData::Signal(s) => {
                    Some(entry(EntryKind::Signal(s.kind), signal_text(s), false))
                }
                EventData::Console(c) => Some(entry(
                    match c.level {
                        ConsoleLevel::Debug => EntryKind::Debug,
                        ConsoleLevel::Log => EntryKind::Log,
                        ConsoleLevel::Info => EntryKind::Info,
                        ConsoleLevel::Warn => EntryKind::Warn,
                        ConsoleLevel::Error => EntryKind::Error,
                    },
                    clip(&c.text),
                    true,
                )),
                EventData::PageError(pe) => {
                    let mut text = pe.message.clone();
                    if let Some(src) = &pe.source {
                        text = format!("{text} ({src})");
                    }
                    Some(Entry {
                        detail: pe.stack.is_some(),
                        ..entry(EntryKind::Error, clip(&text), true)
                    })
                }
                EventData::Network(n) => {
                    let row = NetRow {
                        kind: n.kind,
                        method: clip(&n.method),
                        url: clip(&n.url),
                        status: n.status,
                        duration_ms: n.duration_ms,
                        start: t.saturating_sub(u64::from(n.duration_ms)),
                        request_bytes: n.request_bytes,
                        response_bytes: n.response_bytes,
                    };
                    let text = format!("{} {} {}", n.status, row.method, row.url);
                    self.entries.push(Entry {
                        detail: !n.request_headers.is_empty()
                            || !n.response_headers.is_empty()
                            || n.request_body.is_some()
                            || n.response_body.is_some(),
                        net: Some(row),
                        ..entry(EntryKind::Network, text, false)
                    });
                    // Requests run beside what the user does: a run of
                    // typing goes on across them.
                    continue;
                }
                EventData::Dropped(d) => Some(entry(EntryKind::Gap, gap_text(d), false)),
                _ => None,
            };
            if let Some(en) = got {
                if !matches!(en.kind, EntryKind::Debug | EntryKind::Log | EntryKind::Info) {
                    last_input = None;
                }
                self.entries.push(en);
            }
        }
    }

    /// The side panels' lines, in time order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The end of the idle stretch `t` is in, if it is in one.
    pub fn idle_end(&self, t: u64) -> Option<u64> {
        let i = self.idle.partition_point(|&(from, _)| from <= t);
        let &(from, to) = self.idle.get(i.checked_sub(1)?)?;
        (t >= from && t < to).then_some(to)
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The session's start, ms since the Unix epoch.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Ms from the first event to the last.
    pub fn duration(&self) -> u64 {
        self.duration
    }

    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }

    /// Stretches `(from, to)` with no events for longer than [`IDLE_MS`].
    pub fn idle(&self) -> &[(u64, u64)] {
        &self.idle
    }

    pub fn keyframe_count(&self) -> usize {
        self.keyframes.len()
    }

    /// How many events are at or before `t`: `events[..index_after(t)]`.
    pub fn index_after(&self, t: u64) -> usize {
        self.events.partition_point(|e| e.t - self.start <= t)
    }

    /// The keyframe to start from to reach `events[..end]` applied.
    fn keyframe_for(&self, end: usize) -> &Keyframe {
        let i = self.keyframes.partition_point(|k| k.next <= end);
        &self.keyframes[i.saturating_sub(1)]
    }

    /// How many events the nearest keyframe for `events[..end]` covers.
    pub fn keyframe_before(&self, end: usize) -> usize {
        self.keyframe_for(end).next
    }

    /// The model with every event at or before `t` applied, and how many
    /// events that is.
    pub fn state_at(&self, t: u64) -> (Model, usize) {
        let end = self.index_after(t);
        let kf = self.keyframe_for(end);
        let mut model = kf.model.clone();
        for e in &self.events[kf.next.min(end)..end] {
            model.apply_event_quiet(e);
        }
        (model, end)
    }

    /// Where the pointer was at `t`, moving linearly between samples less
    /// than a second apart; and whether a click happened in the 400 ms
    /// before (for the cursor's click ripple).
    pub fn pointer_at(&self, t: f64) -> Option<(f64, f64, bool)> {
        let i = self.pointer.partition_point(|p| (p.t as f64) <= t);
        let a = self.pointer.get(i.checked_sub(1)?)?;
        let (mut x, mut y) = (f64::from(a.x), f64::from(a.y));
        if let Some(b) = self.pointer.get(i) {
            let span = (b.t - a.t) as f64;
            if span > 0.0 && span < 1000.0 {
                let f = ((t - a.t as f64) / span).clamp(0.0, 1.0);
                x += (f64::from(b.x) - x) * f;
                y += (f64::from(b.y) - y) * f;
            }
        }
        let clicked = self.pointer[..i]
            .iter()
            .rev()
            .take_while(|p| t - (p.t as f64) < 400.0)
            .any(|p| p.click);
        Some((x, y, clicked))
    }
}

/// A recorded label worth showing (not empty, not only spaces).
fn label_of(label: &Option<String>) -> Option<&str> {
    label.as_deref().map(str::trim).filter(|l| !l.is_empty())
}

/// What a viewer is told about data the recorder had to drop.
fn gap_text(d: &reel_shared::Dropped) -> String {
    format!(
        "recording gap: {} chunk(s), {} KB dropped while the server was unreachable",
        d.chunks,
        d.bytes.div_ceil(1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{doc, el, meta, random_event, snapshot, text, Rng};
    use crate::testdom::FakeDom;
    use reel_shared::{Custom, MouseInteraction, MousePosition, Mutation, TextChange};

    fn ev(t: u64, data: EventData) -> Event {
        Event { t, data }
    }

    fn click(t: u64, x: i32, y: i32) -> Event {
        ev(
            t,
            EventData::Mouse(MouseInteraction {
                kind: MouseKind::Click,
                id: 0,
                x,
                y,
                label: None,
                selector: None,
                box_x: None,
                box_y: None,
            }),
        )
    }

    fn custom(t: u64, name: &str) -> Event {
        ev(
            t,
            EventData::Custom(Custom {
                name: name.into(),
                data: None,
            }),
        )
    }

    #[test]
    fn sorts_stably_and_measures_from_the_first_event() {
        let tl = Timeline::new(vec![
            custom(1_000_500, "b"),
            custom(1_000_000, "a"),
            custom(1_000_500, "c"),
        ]);
        assert_eq!(tl.start(), 1_000_000);
        assert_eq!(tl.duration(), 500);
        let names: Vec<_> = tl
            .markers()
            .iter()
            .map(|m| (m.name.as_str(), m.t))
            .collect();
        assert_eq!(names, vec![("a", 0), ("b", 500), ("c", 500)]);
        assert_eq!(tl.index_after(0), 1);
        assert_eq!(tl.index_after(499), 1);
        assert_eq!(tl.index_after(500), 3);
        let empty = Timeline::new(vec![]);
        assert_eq!((empty.duration(), empty.index_after(10)), (0, 0));
        assert_eq!(empty.state_at(10).1, 0);
    }

    #[test]
    fn markers_for_navigation_custom_clicks_and_rage() {
        let events = vec![
            ev(0, meta("https://a.test/")),
            click(100, 10, 10),
            click(400, 12, 10),
            custom(500, "checkout"),
            click(800, 10, 14), // third within 1 s and 30 px of the first: rage
            click(900, 10, 10), // same burst: no second rage marker, at its start
            click(5000, 10, 10),
            click(5100, 200, 10), // far away
            click(5200, 10, 10),
            click(7000, 50, 50),
            click(7600, 50, 50),
            click(8100, 50, 50), // 1100 ms after the first of the three: no
            ev(9000, meta("https://a.test/next")),
        ];
        let tl = Timeline::new(events);
        let got: Vec<_> = tl
            .markers()
            .iter()
            .map(|m| (m.kind, m.name.as_str(), m.t))
            .collect();
        use MarkerKind::*;
        assert_eq!(
            got,
            vec![
                (Navigation, "https://a.test/", 0),
                (Click, "click", 100),
                (RageClick, "rage click", 100),
                (Click, "click", 400),
                (Custom, "checkout", 500),
                (Click, "click", 800),
                (Click, "click", 900),
                (Click, "click", 5000),
                (Click, "click", 5100),
                (Click, "click", 5200),
                (Click, "click", 7000),
                (Click, "click", 7600),
                (Click, "click", 8100),
                (Navigation, "https://a.test/next", 9000),
            ]
        );
        let json = crate::json::to_string(&tl.markers()[2]);
        assert_eq!(json, r#"{"kind":"rage_click","name":"rage click","t":100}"#);
        assert!(tl.idle().len() <= 1);
    }

    fn signal(t: u64, kind: reel_shared::SignalKind, since: u64, label: &str) -> Event {
        ev(
            t,
            EventData::Signal(reel_shared::Signal {
                kind,
                since,
                id: 4,
                x: 1,
                y: 2,
                count: 2_500,
                label: Some(label.into()),
                selector: None,
            }),
        )
    }

    #[test]
    fn recorded_signals_are_markers_where_they_began_and_entries_by_label() {
        use reel_shared::SignalKind as S;
        let events = vec![
            ev(0, meta("https://a.test/")),
            click(100, 10, 10),
            click(200, 10, 10),
            click(300, 10, 10), // no rage marker of the player's own: the recording has signals
            signal(1_100, S::DeadClick, 100, "Save"),
            signal(1_200, S::ErrorClick, 150, "Pay"),
            signal(4_000, S::ThrashedCursor, 2_000, ""),
            signal(6_000, S::UTurn, 3_500, "https://a.test/b"),
        ];
        let tl = Timeline::new(events);
        let got: Vec<_> = tl
            .markers()
            .iter()
            .filter(|m| m.kind != MarkerKind::Click)
            .map(|m| (m.kind.name(), m.name.as_str(), m.t))
            .collect();
        assert_eq!(
            got,
            vec![
                ("navigation", "https://a.test/", 0),
                ("dead_click", "dead click", 100),
                ("error_click", "error click", 150),
                ("thrashed_cursor", "thrashed cursor", 2_000),
                ("u_turn", "u-turn", 3_500),
            ]
        );
        let entries: Vec<_> = tl
            .entries()
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Signal(_)))
            .map(|e| (e.kind.name(), e.text.as_str()))
            .collect();
        assert_eq!(
            entries,
            vec![
                ("dead_click", "on “Save”"),
                ("error_click", "on “Pay”"),
                ("thrashed_cursor", "2500 direction changes"),
                ("u_turn", "Left https://a.test/b after 2.5 s"),
            ]
        );
    }

    fn moved(t: u64) -> Event {
        ev(
            t,
            EventData::MouseMove(vec![MousePosition { x: 1, y: 1, dt: 0 }]),
        )
    }

    #[test]
    fn idle_stretches_are_gaps_in_user_activity() {
        let tl = Timeline::new(vec![
            moved(0),
            custom(3000, "page busy on its own"),
            moved(5000),
            moved(10_001),
            custom(20_000, "end"),
        ]);
        assert_eq!(tl.idle(), &[(5000, 10_001), (10_001, 20_000)]);
        assert_eq!(tl.idle_end(4000), None);
        assert_eq!(tl.idle_end(5000), Some(10_001));
        assert_eq!(tl.idle_end(12_000), Some(20_000));
        assert_eq!(tl.idle_end(20_000), None);
    }

    #[test]
    fn errors_are_markers_and_panels_list_what_happened() {
        use reel_shared::{Console, Input, PageError, PageErrorKind};
        let tl = Timeline::new(vec![
            ev(0, meta("https://a.test/")),
            click(100, 5, 6),
            ev(
                200,
                EventData::Console(Console {
                    level: ConsoleLevel::Warn,
                    text: "careful".into(),
                }),
            ),
            ev(
                300,
                EventData::Console(Console {
                    level: ConsoleLevel::Error,
                    text: "boom".into(),
                }),
            ),
            ev(
                400,
                EventData::PageError(PageError {
                    kind: PageErrorKind::Uncaught,
                    message: "TypeError: x".into(),
                    source: Some("app.js:1:2".into()),
                    stack: None,
                }),
            ),
            ev(
                500,
                EventData::Input(Input {
                    id: 9,
                    value: None,
                    checked: None,
                    label: None,
                    selector: None,
                }),
            ),
            ev(
                600,
                EventData::Input(Input {
                    id: 9,
                    value: None,
                    checked: None,
                    label: None,
                    selector: None,
                }),
            ),
        ]);
        let errors: Vec<_> = tl
            .markers()
            .iter()
            .filter(|m| m.kind == MarkerKind::Error)
            .map(|m| (m.name.as_str(), m.t))
            .collect();
        assert_eq!(errors, vec![("boom", 300), ("TypeError: x", 400)]);
        let lines: Vec<_> = tl
            .entries()
            .iter()
            .map(|e| (e.kind, e.t, e.console))
            .collect();
        use EntryKind::*;
        assert_eq!(
            lines,
            vec![
                (Navigation, 0, false),
                (Click, 100, false),
                (Warn, 200, true),
                (Error, 300, true),
                (Error, 400, true),
                (Input, 500, false), // one entry for the run of typing
            ]
        );
        assert_eq!(tl.entries()[4].text, "TypeError: x (app.js:1:2)");
        assert_eq!(clip(&"é".repeat(400)).chars().count(), TEXT_MAX + 1);
    }

    #[test]
    fn dropped_data_is_a_gap_marker_and_an_entry() {
        let tl = Timeline::new(vec![
            ev(0, meta("https://a.test/")),
            ev(
                700,
                EventData::Dropped(reel_shared::Dropped {
                    chunks: 3,
                    bytes: 5000,
                }),
            ),
        ]);
        let gaps: Vec<_> = tl
            .markers()
            .iter()
            .filter(|m| m.kind == MarkerKind::Gap)
            .map(|m| (m.name.as_str(), m.t))
            .collect();
        let text = "recording gap: 3 chunk(s), 5 KB dropped while the server was unreachable";
        assert_eq!(gaps, vec![(text, 700)]);
        assert_eq!(tl.entries()[1].kind, EntryKind::Gap);
        assert_eq!(tl.entries()[1].text, text);
    }

    /// Appending in pieces gives the same timeline as loading at once, and
    /// keeps the keyframes already built.
    #[test]
    fn panels_markers_and_missing_chunks() {
        let mut tl = Timeline::new(vec![
            ev(1000, meta("https://a.test/")),
            custom(1100, "one"),
            ev(
                1200,
                EventData::Console(reel_shared::Console {
                    level: ConsoleLevel::Error,
                    text: "boom".into(),
                }),
            ),
            custom(5000, "two"),
        ]);
        assert_eq!(
            (tl.row_count(Panel::Events), tl.row_count(Panel::Console)),
            (3, 1)
        );
        let texts = |v: Vec<&Entry>| v.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
        assert_eq!(texts(tl.rows(Panel::Events, 1, 99)), vec!["one", "two"]);
        assert_eq!(texts(tl.rows(Panel::Events, 7, 9)), Vec::<String>::new());
        assert_eq!(tl.rows_until(Panel::Events, 99.0), 1);
        assert_eq!(tl.rows_until(Panel::Events, 3999.0), 2);
        assert_eq!(tl.rows_until(Panel::Events, 4000.0), 3);
        assert_eq!(tl.error_count(), 1);
        assert_eq!(tl.marker_near(100.0, true), Some(200));
        assert_eq!(tl.marker_near(100.0, false), Some(0));
        assert_eq!(tl.marker_near(4000.0, true), None);
        // A chunk the server never served: a gap marker and an entry, kept
        // through appends, in order.
        tl.add_gap(3000, 2);
        tl.append(vec![custom(6000, "three")]);
        tl.append(vec![custom(2500, "late")]); // out of order: rebuilt
        let gap: Vec<_> = tl
            .markers()
            .iter()
            .filter(|m| m.kind == MarkerKind::Gap)
            .map(|m| (m.name.as_str(), m.t))
            .collect();
        assert_eq!(
            gap,
            vec![("recording gap: 2 chunk(s) missing on the server", 2000)]
        );
        assert_eq!(
            texts(tl.rows(Panel::Events, 0, 99))[1..],
            [
                "one",
                "late",
                "recording gap: 2 chunk(s) missing on the server",
                "two",
                "three"
            ]
        );
        assert!(tl.markers().windows(2).all(|w| w[0].t <= w[1].t));
    }

    #[test]
    fn appending_equals_loading_at_once() {
        let mut rng = Rng::new(11);
        let mut next_id = 3;
        let mut events = vec![
            ev(0, meta("https://a.test/x/")),
            ev(
                0,
                snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])]),
            ),
        ];
        let mut t = 0;
        for _ in 0..3000 {
            t += rng.below(40) * rng.below(3);
            events.push(ev(t, random_event(&mut rng, &mut next_id)));
        }
        let whole = Timeline::new(events.clone());
        let mut parts = Timeline::new(events[..1].to_vec());
        let mut i = 1;
        while i < events.len() {
            let n = (rng.below(400) as usize + 1).min(events.len() - i);
            let kfs = parts.keyframe_count();
            assert!(parts.append(events[i..i + n].to_vec()), "in order");
            assert!(parts.keyframe_count() >= kfs);
            i += n;
        }
        assert_eq!(parts.duration(), whole.duration());
        assert_eq!(parts.markers(), whole.markers());
        assert_eq!(parts.idle(), whole.idle());
        assert_eq!(parts.entries(), whole.entries());
        for probe in [0, t / 3, t / 2, t] {
            assert_eq!(
                parts.state_at(probe).0.outline(),
                whole.state_at(probe).0.outline()
            );
        }
        // Out of order: rebuilt, still right.
        let mut late = Timeline::new(events[2000..].to_vec());
        assert!(!late.append(events[..2000].to_vec()));
        assert_eq!(late.state_at(t).0.outline(), whole.state_at(t).0.outline());
    }

    #[test]
    fn pointer_positions_interpolate() {
        let tl = Timeline::new(vec![
            custom(0, "start"),
            ev(
                100,
                EventData::MouseMove(vec![
                    MousePosition { x: 0, y: 0, dt: 0 },
                    MousePosition {
                        x: 100,
                        y: 50,
                        dt: 100,
                    },
                ]),
            ),
            click(300, 100, 50),
            ev(
                5000,
                EventData::MouseMove(vec![MousePosition { x: 7, y: 7, dt: 0 }]),
            ),
        ]);
        assert_eq!(tl.pointer_at(50.0), None);
        assert_eq!(tl.pointer_at(100.0), Some((0.0, 0.0, false)));
        assert_eq!(tl.pointer_at(150.0), Some((50.0, 25.0, false)));
        assert_eq!(tl.pointer_at(200.0), Some((100.0, 50.0, false)));
        assert_eq!(tl.pointer_at(350.0), Some((100.0, 50.0, true)));
        assert_eq!(
            tl.pointer_at(1000.0),
            Some((100.0, 50.0, false)),
            "samples far apart do not interpolate"
        );
        assert_eq!(tl.pointer_at(6000.0), Some((7.0, 7.0, false)));
    }

    /// A long random session: every state reached through a keyframe equals
    /// the state reached by replaying from the start.
    #[test]
    fn keyframes_give_the_same_state_as_replaying_from_the_start() {
        let mut rng = Rng::new(7);
        let mut next_id = 3;
        let mut events = vec![
            ev(0, meta("https://a.test/x/")),
            ev(
                0,
                snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])]),
            ),
        ];
        let mut t = 0;
        for _ in 0..3000 {
            t += rng.below(40) * rng.below(3); // many equal timestamps
            if rng.below(500) == 0 {
                t += 40_000;
            }
            events.push(ev(t, random_event(&mut rng, &mut next_id)));
        }
        let tl = Timeline::new(events.clone());
        assert!(tl.keyframe_count() > 5, "{}", tl.keyframe_count());
        let mut model = Model::new();
        let mut applied = 0;
        let mut probes: Vec<u64> = (0..80).map(|_| rng.below(t + 10)).collect();
        probes.extend([0, t, t + 5]);
        probes.sort_unstable();
        for probe in probes {
            while applied < events.len() && events[applied].t <= probe {
                model.apply_quiet(&events[applied].data);
                applied += 1;
            }
            let (kf_model, end) = tl.state_at(probe);
            assert_eq!(end, applied);
            assert_eq!(kf_model.outline(), model.outline(), "at {probe}");
            assert_eq!(
                FakeDom::from_ops(&kf_model.render_all()).html(),
                FakeDom::from_ops(&model.render_all()).html(),
                "at {probe}"
            );
        }
    }

    #[test]
    fn large_documents_space_keyframes_out() {
        let mut nodes = vec![doc(1), el(2, 1, "html", &[])];
        for i in 3..20_000 {
            nodes.push(text(i, 2, "x"));
        }
        let mut events = vec![ev(0, snapshot(nodes))];
        for i in 0..5000 {
            events.push(ev(
                i,
                EventData::Mutation(Mutation {
                    texts: vec![TextChange {
                        id: 3,
                        text: format!("{i}"),
                    }],
                    ..Default::default()
                }),
            ));
        }
        let tl = Timeline::new(events);
        // 20,000 nodes / 16 = one keyframe per 1,250 events at most.
        assert!(
            tl.keyframe_count() <= 1 + 5000 / 1250,
            "{}",
            tl.keyframe_count()
        );
        assert!(tl.state_at(4000).0.outline().starts_with("<html>4000x"));
    }

    fn net(t: u64, status: u16, url: &str, headers: bool) -> Event {
        ev(
            t,
            EventData::Network(reel_shared::Network {
                kind: NetworkKind::Fetch,
                method: "GET".into(),
                url: url.into(),
                status,
                duration_ms: 250,
                request_bytes: None,
                response_bytes: Some(2048),
                failure: (status == 0).then(|| "network error".into()),
                request_headers: if headers {
                    vec![("accept".into(), "application/json".into())]
                } else {
                    vec![]
                },
                response_headers: vec![],
                request_body: None,
                response_body: headers.then(|| "{\"orders\":[]}".into()),
            }),
        )
    }

    /// Labels name what was clicked, typed into and pressed; requests and
    /// errors have panels of their own, with details; comments are markers.
    #[test]
    fn labels_network_errors_and_comments() {
        let labelled = |kind, label: Option<&str>| {
            EventData::Mouse(MouseInteraction {
                kind,
                id: 4,
                x: 5,
                y: 6,
                label: label.map(Into::into),
                selector: Some("[data-testid=load]".into()),
                box_x: None,
                box_y: None,
            })
        };
        let input = |label: Option<&str>, checked: Option<bool>| {
            EventData::Input(reel_shared::Input {
                id: if checked.is_some() { 10 } else { 9 },
                value: None,
                checked,
                label: label.map(Into::into),
                selector: None,
            })
        };
        let mut tl = Timeline::new(vec![
            ev(1000, meta("https://a.test/")),
            ev(1100, labelled(MouseKind::Click, Some("Load orders"))),
            ev(1200, labelled(MouseKind::Click, Some("  "))),
            ev(1300, input(Some("Email"), None)),
            net(1350, 200, "https://a.test/api/orders?page=1", true),
            ev(1400, input(Some("Email"), None)),
            ev(1500, input(Some("Remember me"), Some(true))),
            ev(
                1600,
                EventData::Key(reel_shared::Key {
                    id: 9,
                    key: "Enter".into(),
                    label: Some("Search".into()),
                    selector: None,
                }),
            ),
            ev(
                1700,
                EventData::Key(reel_shared::Key {
                    id: 9,
                    key: "Escape".into(),
                    label: None,
                    selector: None,
                }),
            ),
            ev(1800, input(None, None)),
            net(2000, 0, "https://a.test/api/pay", false),
            net(2100, 503, "https://a.test/api/stock", false),
            ev(
                2200,
                EventData::PageError(reel_shared::PageError {
                    kind: PageErrorKind::Uncaught,
                    message: "TypeError: x is undefined".into(),
                    source: Some("https://a.test/app.js:3:9".into()),
                    stack: Some("TypeError: x is undefined\n    at pay (app.js:3:9)".into()),
                }),
            ),
        ]);
        let events: Vec<String> = tl
            .rows(Panel::Events, 0, 99)
            .iter()
            .map(|e| e.text.clone())
            .collect();
        assert_eq!(
            events,
            [
                "https://a.test/",
                "Clicked “Load orders”",
                "click at 5, 6",
                "Typed into “Email”",
                "Checked “Remember me”",
                "Pressed Enter in “Search”",
                "Pressed Escape",
                "input in field 9",
            ],
            "a run of typing goes on across a request"
        );
        assert_eq!(tl.markers()[1].name, "Load orders");
        assert_eq!(tl.markers()[2].name, "click");

        assert_eq!(tl.row_count(Panel::Network), 3);
        assert_eq!(tl.row_count(Panel::NetworkFailed), 2);
        let first = tl.rows(Panel::Network, 0, 1)[0];
        let row = first.net.as_ref().unwrap();
        assert_eq!((first.t, row.start, row.failed()), (350, 100, false));
        assert!(first.detail);
        let json = crate::json::to_string(first);
        assert!(
            json.contains(r#""net":{"kind":"fetch","method":"GET","url":"https://a.test/api/orders?page=1","status":200,"duration_ms":250,"start":100"#),
            "{json}"
        );
        let failed: Vec<u16> = tl
            .rows(Panel::NetworkFailed, 0, 9)
            .iter()
            .map(|e| e.net.as_ref().unwrap().status)
            .collect();
        assert_eq!(failed, [0, 503]);
        assert_eq!(tl.rows_until(Panel::NetworkFailed, 1000.0), 1);
        let d = tl.detail(Panel::Network, 0).unwrap();
        assert!(
            d.contains(r#""request_headers":[["accept","application/json"]]"#),
            "{d}"
        );
        assert!(d.contains(r#""response_body":"{\"orders\":[]}""#), "{d}");
        let d = tl.detail(Panel::NetworkFailed, 0).unwrap();
        assert!(d.contains(r#""failure":"network error""#), "{d}");

        assert_eq!(tl.error_count(), 1);
        let err = tl.rows(Panel::Errors, 0, 9)[0];
        assert!(err.detail && err.console && err.t == 1200);
        let d = tl.detail(Panel::Errors, 0).unwrap();
        assert!(
            d.contains(r#""stack":"TypeError: x is undefined\n    at pay (app.js:3:9)""#),
            "{d}"
        );
        assert_eq!(tl.detail(Panel::Errors, 1), None);
        assert_eq!(
            tl.detail(Panel::Events, 0),
            None,
            "a navigation has no details"
        );

        // Comments: markers of their own kind, kept through rebuilds.
        tl.set_comments(vec![(5_000, "past the end".into()), (150, "here".into())]);
        let comments: Vec<(&str, u64)> = tl
            .markers()
            .iter()
            .filter(|m| m.kind == MarkerKind::Comment)
            .map(|m| (m.name.as_str(), m.t))
            .collect();
        assert_eq!(comments, [("here", 150), ("past the end", 1200)]);
        tl.append(vec![custom(1500, "late")]); // out of order: rebuilt
        assert_eq!(
            tl.markers()
                .iter()
                .filter(|m| m.kind == MarkerKind::Comment)
                .count(),
            2
        );
        assert!(tl.markers().windows(2).all(|w| w[0].t <= w[1].t));
        assert_eq!(
            crate::json::to_string(&tl.markers()[0..1]),
            r#"[{"kind":"navigation","name":"https://a.test/","t":0}]"#
        );
        tl.set_comments(vec![]);
        assert!(tl.markers().iter().all(|m| m.kind != MarkerKind::Comment));
    }
}
