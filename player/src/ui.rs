//! The player page: loading, `window.reelPlayer`, the clock and the
//! controls.
//!
//! All state lives in one [`App`] in a thread-local (wasm is
//! single-threaded); every callback from JS borrows it briefly. Nothing the
//! app does while borrowed can call back into it synchronously: DOM ops on
//! the iframe and property writes on the controls fire no events we listen
//! to. `try_borrow_mut` guards that anyway, so a surprise is a skipped
//! update, not a panic.

use crate::fetch;
use crate::json;
use crate::load::{Gap, Seen, GAP_CHECKS};
use crate::playback::Playback;
use crate::render;
use crate::timeline::{Panel, Timeline};
use js_sys::{Array, Function, Object, Promise, Reflect};
use reel_shared::{Chunk, Event, EventData, SessionId};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Document, HtmlElement, HtmlIFrameElement, HtmlInputElement, HtmlSelectElement, Window,
};

/// Playback speeds the control offers (`setSpeed` accepts any positive).
const SPEEDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0];

struct Ui {
    stage: HtmlElement,
    frame: HtmlElement,
    iframe: HtmlIFrameElement,
    cursor: Option<HtmlElement>,
    play: Option<HtmlElement>,
    timeline: Option<HtmlInputElement>,
    markers: Option<HtmlElement>,
    speed: Option<HtmlSelectElement>,
    time: Option<HtmlElement>,
    live: Option<HtmlElement>,
    skip: Option<HtmlInputElement>,
    /// A line under the status saying that part of the page is not shown.
    notice: Option<HtmlElement>,
    /// Dots following the cursor where it was a moment before.
    trail: Vec<HtmlElement>,
}

/// The cursor trail: this many dots, each this much further in the past.
const TRAIL_DOTS: usize = 6;
const TRAIL_STEP_MS: f64 = 40.0;

struct App {
    ui: Ui,
    doc: Document,
    pb: Playback,
    /// The playhead in ms; fractional while playing.
    time: f64,
    playing: bool,
    speed: f64,
    /// Wall-clock time (performance.now) and playhead at the last (re)start:
    /// the playhead is `anchor_time + (now - anchor_wall) * speed`.
    anchor_wall: f64,
    anchor_time: f64,
    /// The viewport the frame is sized to.
    viewport: (u32, u32),
    /// Where the timeline was dragged to, shown at the next animation
    /// frame: a rebuild can take longer than the input events come, and
    /// only the latest position matters.
    scrub: Option<f64>,
    /// Idle stretches pass in a moment while playing (on by default).
    skip_idle: bool,
    /// Polling the server for chunks recorded since, and following them.
    live: bool,
    /// The session's id, for live polling.
    id: String,
    /// Which chunks have arrived.
    seen: Seen,
    /// `performance.now()` when the first frame was shown, when everything
    /// was loaded, and how long the last seek took (ms): for the seek
    /// benchmark and for anyone curious (`reelPlayer.stats()`).
    first_frame_at: f64,
    loaded_at: f64,
    last_seek_ms: f64,
    /// The part of it spent in the model (state and ops), not the DOM.
    last_seek_model_ms: f64,
    /// The viewer was told that nodes nested too deep are not shown.
    depth_noted: bool,
    /// The rate the replay's animations run at: the speed while playing,
    /// 0 while paused (`apply.js` starts at 0).
    anim_rate: f64,
}

/// Marker ticks drawn per kind: one per this fraction of the timeline at
/// most (a million custom events would otherwise be a million buttons).
const TICK_SLOTS: f64 = 400.0;

/// How often live mode asks the server for new chunks.
const LIVE_POLL_MS: i32 = 1_500;
/// A session whose last event is this recent opens in live mode.
const LIVE_RECENT_MS: f64 = 60_000.0;
/// Skipping an idle stretch lands this long before its end, so the
/// activity that ends it is seen coming.
const IDLE_LEAD_MS: f64 = 500.0;

/// The animation-frame callback, kept alive for the page's lifetime.
type FrameCallback = Closure<dyn FnMut(f64)>;

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
    static READY: RefCell<Option<Promise>> = const { RefCell::new(None) };
    static RAF: RefCell<Option<FrameCallback>> = const { RefCell::new(None) };
    static RAF_PENDING: Cell<bool> = const { Cell::new(false) };
    /// Every chunk is in: `ready` has resolved (or is about to).
    static LOADED: Cell<bool> = const { Cell::new(false) };
    /// Rejects `ready`: called once, by the load or by the panic hook.
    static REJECT: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Shows that the session cannot be replayed, in place of "Loading…" or
/// over the replay, and rejects `ready` (once).
fn fail(msg: &str) {
    let text = format!("This session could not be replayed: {msg}");
    if let Some(page) = window().and_then(|w| w.document()) {
        show_status(&page, &text, true);
    }
    web_sys::console::error_1(&format!("reel: {text}").into());
    let reject = REJECT.with(|r| r.try_borrow_mut().ok().and_then(|mut r| r.take()));
    if let Some(reject) = reject {
        let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&text));
    }
}

/// A panic leaves the wasm unusable (it aborts): say so on the page rather
/// than leave it showing "Loading session…" forever. (`boot.js` covers the
/// traps that run no hook, such as running out of memory.)
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            static FIRST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
            if FIRST.swap(false, std::sync::atomic::Ordering::Relaxed) {
                fail(&info.to_string());
            }
        }));
    });
}

fn window() -> Option<Window> {
    web_sys::window()
}

fn now() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Runs `f` on the loaded app; `None` when not loaded (or busy).
fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|a| a.try_borrow_mut().ok().and_then(|mut a| a.as_mut().map(f)))
}

/// Whether the whole session is in (the app exists earlier, from the
/// first frame on, while the rest streams in).
fn loaded() -> bool {
    LOADED.with(Cell::get)
}

fn by_id<T: JsCast>(doc: &Document, id: &str) -> Option<T> {
    doc.get_element_by_id(id)
        .and_then(|e| e.dyn_into::<T>().ok())
}

fn set_style(el: &HtmlElement, prop: &str, value: &str) {
    let _ = el.style().set_property(prop, value);
}

fn set_text(el: &Option<HtmlElement>, text: &str) {
    if let Some(el) = el {
        el.set_text_content(Some(text));
    }
}

/// A marker kind for people: "rage click", not `rage_click`.
fn marker_label(kind: &str) -> &'static str {
    match kind {
        "custom" => "Custom event",
        "click" => "Click",
        "rage_click" => "Rage click",
        "dead_click" => "Dead click",
        "error_click" => "Error click",
        "thrashed_cursor" => "Thrashed cursor",
        "u_turn" => "U-turn",
        "navigation" => "Navigation",
        "error" => "Error",
        "gap" => "Recording gap",
        "comment" => "Comment",
        _ => "Marker",
    }
}

/// Tells the page's other scripts (`controls.js`: panels, idle shading)
/// that the timeline changed: loaded further, or live events arrived.
fn changed() {
    if let Some(w) = window() {
        if let Ok(e) = web_sys::Event::new("reel:timeline") {
            let _ = w.dispatch_event(&e);
        }
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub fn format_ms(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0).floor() as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

impl App {
    fn duration(&self) -> f64 {
        self.pb.duration() as f64
    }

    /// Moves the playhead to `t` and brings the iframe there; `jump` for a
    /// seek rather than a step of playback (see [`render::apply`]).
    fn show(&mut self, t: f64, jump: bool) {
        let t = if t.is_finite() {
            t.clamp(0.0, self.duration())
        } else {
            0.0
        };
        let started = now();
        let ops = self.pb.seek(t.floor() as u64);
        let modelled = now();
        render::apply(&self.doc, &ops, jump);
        self.last_seek_ms = now() - started;
        self.last_seek_model_ms = modelled - started;
        self.time = t;
        if !self.depth_noted && self.pb.model().depth_cut() {
            self.depth_noted = true;
            if let Some(n) = &self.ui.notice {
                n.set_text_content(Some(&format!(
                    "Parts of this page nested deeper than {} levels are not shown.",
                    crate::model::MAX_DEPTH
                )));
                n.set_hidden(false);
            }
        }
        self.refresh();
    }

    /// Shows chunks the server never served as recording gaps.
    fn add_gaps(&mut self, gaps: Vec<Gap>) {
        if gaps.is_empty() {
            return;
        }
        for g in gaps {
            self.pb.add_gap(g.t, g.to - g.from);
        }
        self.draw_markers();
        changed();
    }

    /// Brings everything but the document up to date with the playhead.
    fn refresh(&mut self) {
        let rate = if self.playing { self.speed } else { 0.0 };
        if rate != self.anim_rate {
            self.anim_rate = rate;
            render::set_rate(&self.doc, rate);
        }
        let vp = self.pb.model().viewport();
        if vp != self.viewport && vp.0 > 0 && vp.1 > 0 {
            self.viewport = vp;
            self.fit();
        }
        if let Some(cursor) = &self.ui.cursor {
            match self.pb.timeline().pointer_at(self.time) {
                Some((x, y, clicked)) => {
                    set_style(cursor, "display", "block");
                    set_style(cursor, "transform", &format!("translate({x}px, {y}px)"));
                    let _ = cursor
                        .class_list()
                        .toggle_with_force("reel-clicking", clicked);
                }
                None => set_style(cursor, "display", "none"),
            }
        }
        let tl = self.pb.timeline();
        for (i, dot) in self.ui.trail.iter().enumerate() {
            let back = self.time - TRAIL_STEP_MS * (i as f64 + 1.0);
            // Only while moving: a resting cursor has no trail.
            match (tl.pointer_at(back), tl.pointer_at(self.time)) {
                (Some((x, y, _)), Some((cx, cy, _))) if (x - cx).abs() + (y - cy).abs() > 1.0 => {
                    set_style(dot, "display", "block");
                    set_style(dot, "transform", &format!("translate({x}px, {y}px)"));
                }
                _ => set_style(dot, "display", "none"),
            }
        }
        if let Some(range) = &self.ui.timeline {
            range.set_value_as_number(self.time.floor());
        }
        set_text(
            &self.ui.time,
            &format!("{} / {}", format_ms(self.time), format_ms(self.duration())),
        );
        if let Some(play) = &self.ui.play {
            play.set_text_content(Some(if self.playing { "❚❚" } else { "▶" }));
            let _ = play.set_attribute("aria-label", if self.playing { "Pause" } else { "Play" });
        }
    }

    /// Sizes the frame to the recorded viewport and scales it to fit the
    /// stage, centred; never scaled up, so small viewports stay crisp.
    fn fit(&self) {
        let (vw, vh) = (
            f64::from(self.viewport.0.max(1)),
            f64::from(self.viewport.1.max(1)),
        );
        let (sw, sh) = (
            f64::from(self.ui.stage.client_width()),
            f64::from(self.ui.stage.client_height()),
        );
        let scale = if sw > 0.0 && sh > 0.0 {
            (sw / vw).min(sh / vh).min(1.0)
        } else {
            1.0
        };
        let ox = ((sw - vw * scale) / 2.0).max(0.0);
        let oy = ((sh - vh * scale) / 2.0).max(0.0);
        set_style(&self.ui.frame, "width", &format!("{vw}px"));
        set_style(&self.ui.frame, "height", &format!("{vh}px"));
        set_style(
            &self.ui.frame,
            "transform",
            &format!("translate({ox}px, {oy}px) scale({scale})"),
        );
    }

    /// The playhead the wall clock says we should be at.
    fn clock(&self) -> f64 {
        if self.playing {
            self.anchor_time + (now() - self.anchor_wall) * self.speed
        } else {
            self.time
        }
    }

    fn anchor(&mut self) {
        self.anchor_wall = now();
        self.anchor_time = self.time;
    }

    /// One animation frame: a pending scrub, then a step of playback.
    fn tick(&mut self) {
        if let Some(t) = self.scrub.take() {
            self.seek(t);
        }
        if !self.playing {
            return;
        }
        let mut t = self.clock();
        if self.skip_idle {
            if let Some(end) = self.pb.timeline().idle_end(t.max(0.0) as u64) {
                let land = end as f64 - IDLE_LEAD_MS;
                if land > t {
                    t = land;
                    self.time = t;
                    self.anchor();
                }
            }
        }
        if t >= self.duration() {
            t = self.duration();
            // Live, the end moves on as chunks arrive: wait for them there.
            if self.live {
                self.time = t;
                self.anchor();
            } else {
                self.playing = false;
            }
        }
        self.show(t, false);
    }

    /// Events that arrived later: the timeline grows, markers and panels
    /// follow; the live DOM keeps showing the playhead.
    fn append(&mut self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        self.pb.append(events);
        if let Some(range) = &self.ui.timeline {
            range.set_max(&self.pb.duration().to_string());
        }
        self.draw_markers();
        let t = self.time;
        self.show(t, false);
        changed();
    }

    fn set_live_indicator(&self) {
        if let Some(el) = &self.ui.live {
            let on = self.live;
            let _ = el.class_list().toggle_with_force("reel-on", on);
            let _ = el.set_attribute("aria-pressed", if on { "true" } else { "false" });
        }
    }

    fn set_live(&mut self, on: bool) {
        self.live = on;
        self.set_live_indicator();
        if on {
            // Follow the recording: to its end, playing in real time.
            self.set_speed(1.0);
            let end = self.duration();
            self.seek(end);
            self.play_from_anywhere();
        }
    }

    /// `play`, but at the end of a live session it waits for more.
    fn play_from_anywhere(&mut self) {
        if self.live && !self.playing {
            self.playing = true;
            self.anchor();
            self.refresh();
        } else {
            self.play();
        }
    }

    fn play(&mut self) {
        if self.playing || self.duration() <= 0.0 {
            return;
        }
        if self.time >= self.duration() {
            self.show(0.0, true);
        }
        self.playing = true;
        self.anchor();
        self.refresh();
    }

    fn pause(&mut self) {
        if self.playing {
            self.tick();
            self.playing = false;
            self.refresh();
        }
    }

    fn set_speed(&mut self, x: f64) {
        if !(x.is_finite() && x > 0.0) {
            return;
        }
        if self.playing {
            self.time = self.clock().min(self.duration());
            self.anchor();
        }
        self.speed = x;
        if let Some(sel) = &self.ui.speed {
            if SPEEDS.contains(&x) {
                sel.set_value(&x.to_string());
            }
        }
    }

    fn seek(&mut self, ms: f64) {
        self.scrub = None;
        self.show(ms, true);
        if self.playing {
            self.anchor();
        }
    }

    fn draw_markers(&self) {
        let Some(container) = &self.ui.markers else {
            return;
        };
        container.set_inner_html("");
        let duration = self.duration();
        if duration <= 0.0 {
            return;
        }
        let Some(doc) = container.owner_document() else {
            return;
        };
        let mut drawn = std::collections::HashSet::new();
        for m in self.pb.timeline().markers() {
            let slot = (m.t as f64 / duration * TICK_SLOTS).floor() as u64;
            if !drawn.insert((m.kind, slot)) {
                continue;
            }
            let Ok(tick) = doc.create_element("button") else {
                continue;
            };
            let Ok(tick) = tick.dyn_into::<HtmlElement>() else {
                continue;
            };
            let kind = m.kind.name();
            tick.set_class_name(&format!("reel-tick reel-tick-{kind}"));
            let _ = tick.set_attribute("type", "button");
            tick.set_title(&format!(
                "{}: {} ({})",
                marker_label(kind),
                m.name,
                format_ms(m.t as f64)
            ));
            let _ = tick.set_attribute(
                "aria-label",
                &format!(
                    "{} {} at {}",
                    kind.replace('_', " "),
                    m.name,
                    format_ms(m.t as f64)
                ),
            );
            set_style(
                &tick,
                "left",
                &format!("{}%", m.t as f64 / duration * 100.0),
            );
            let t = m.t as f64;
            on(&tick, "click", move |_| {
                with_app(|app| app.seek(t));
                schedule();
            });
            let _ = container.append_child(&tick);
        }
    }
}

/// Adds an event listener that lives as long as the page.
fn on(target: &web_sys::EventTarget, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let _ = target.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
    cb.forget();
}

/// Asks for an animation frame while playing or scrubbing (one at a time).
fn schedule() {
    let wanted = with_app(|a| a.playing || a.scrub.is_some()).unwrap_or(false);
    if !wanted || RAF_PENDING.with(Cell::get) {
        return;
    }
    let Some(w) = window() else { return };
    RAF.with(|r| {
        if let Some(cb) = r.borrow().as_ref() {
            if w.request_animation_frame(cb.as_ref().unchecked_ref())
                .is_ok()
            {
                RAF_PENDING.with(|p| p.set(true));
            }
        }
    });
}

fn install_clock() {
    RAF.with(|r| {
        *r.borrow_mut() = Some(Closure::new(|_ts: f64| {
            RAF_PENDING.with(|p| p.set(false));
            with_app(App::tick);
            schedule();
        }))
    });
    // Animation frames stop in background tabs; a slow timer keeps the
    // clock honest there (tick is idempotent: it reads the wall clock).
    if let Some(w) = window() {
        let cb = Closure::<dyn FnMut()>::new(|| {
            with_app(App::tick);
        });
        let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(
            cb.as_ref().unchecked_ref(),
            250,
        );
        cb.forget();
    }
}

/// The session id from `/sessions/{id}` (or `?session={id}`).
fn session_id(w: &Window) -> Option<String> {
    let loc = w.location();
    let path = loc.pathname().ok()?;
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    let from_path = loop {
        match segs.next() {
            Some("sessions") => break segs.next().map(str::to_string),
            Some(_) => continue,
            None => break None,
        }
    };
    let id = from_path.or_else(|| {
        let search = loc.search().ok()?;
        web_sys::UrlSearchParams::new_with_str(&search)
            .ok()?
            .get("session")
    })?;
    id.parse::<SessionId>().ok().map(|s| s.to_string())
}

/// Resolves once the iframe holds its own document (the `srcdoc` one, in
/// standards mode), not the initial `about:blank` it is replaced by.
async fn iframe_document(iframe: &HtmlIFrameElement) -> Result<Document, String> {
    let wants_srcdoc = iframe.has_attribute("srcdoc");
    for _ in 0..200 {
        if let Some(doc) = iframe.content_document() {
            let url = doc.url().unwrap_or_default();
            if doc.ready_state() == "complete" && (!wants_srcdoc || url == "about:srcdoc") {
                return Ok(doc);
            }
        }
        sleep(25).await;
    }
    iframe
        .content_document()
        .ok_or_else(|| "the replay frame has no readable document".to_string())
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        if let Some(w) = window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(p).await;
}

fn find_ui(doc: &Document) -> Result<Ui, String> {
    let iframe: HtmlIFrameElement =
        by_id(doc, "reel-replay").ok_or("no <iframe id=reel-replay> on the page")?;
    let frame: HtmlElement = by_id(doc, "reel-frame")
        .or_else(|| iframe.parent_element().and_then(|e| e.dyn_into().ok()))
        .ok_or("the replay iframe has no container")?;
    let stage: HtmlElement = by_id(doc, "reel-stage")
        .or_else(|| frame.parent_element().and_then(|e| e.dyn_into().ok()))
        .ok_or("the replay frame has no stage")?;
    Ok(Ui {
        stage,
        frame,
        iframe,
        cursor: by_id(doc, "reel-cursor"),
        play: by_id(doc, "reel-play"),
        timeline: by_id(doc, "reel-timeline"),
        markers: by_id(doc, "reel-markers"),
        speed: by_id(doc, "reel-speed"),
        time: by_id(doc, "reel-time"),
        live: by_id(doc, "reel-live"),
        skip: by_id(doc, "reel-skip"),
        notice: by_id(doc, "reel-notice"),
        trail: (0..TRAIL_DOTS)
            .filter_map(|i| by_id(doc, &format!("reel-trail-{i}")))
            .collect(),
    })
}

fn show_status(doc: &Document, text: &str, error: bool) {
    if let Some(el) = by_id::<HtmlElement>(doc, "reel-status") {
        el.set_text_content(Some(text));
        el.set_class_name(if error {
            "reel-status reel-error"
        } else {
            "reel-status"
        });
        el.set_hidden(text.is_empty());
    }
}

/// Describes the session in the header from its index entry.
fn show_meta(doc: &Document, meta: &fetch::SessionMeta) {
    let url = meta.url.as_str();
    if let Some(el) = by_id::<HtmlElement>(doc, "reel-title") {
        el.set_text_content(Some(if url.is_empty() { "Session" } else { url }));
        el.set_title(url);
    }
    let started = meta.started_at.as_deref();
    let user = meta.user_id.as_deref();
    let mut parts = Vec::new();
    if let Some(s) = started {
        parts.push(format!("started {s}"));
    }
    if let Some(u) = user {
        parts.push(format!("user {u}"));
    }
    if let Some(el) = by_id::<HtmlElement>(doc, "reel-meta") {
        el.set_text_content(Some(&parts.join(" · ")));
    }
}

/// The `t` of a deep link `/sessions/{id}?t=MS`.
fn deep_link_time(w: &Window) -> Option<f64> {
    let search = w.location().search().ok()?;
    let t = web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("t")?;
    t.trim()
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
}

/// Whether the session's index entry says it was still being recorded a
/// moment ago.
fn recently_active(meta: &fetch::SessionMeta) -> bool {
    let started = meta
        .started_at
        .as_deref()
        .map_or(f64::NAN, js_sys::Date::parse);
    let end = started + meta.duration_ms;
    end.is_finite() && js_sys::Date::now() - end < LIVE_RECENT_MS
}

/// The new events of `chunks` (a chunk seen before is dropped: live polls
/// overlap when chunks arrive out of order).
fn fresh_events(seen: &mut Seen, chunks: Vec<Chunk>) -> Vec<Event> {
    let mut events = Vec::new();
    for c in chunks {
        if seen.add(c.header.seq, c.header.t_start) {
            events.extend(c.events);
        }
    }
    events
}

async fn load(page: Document) -> Result<(), String> {
    let w = window().ok_or("no window")?;
    let ui = find_ui(&page)?;
    let id = session_id(&w)
        .ok_or("this page's URL names no session (expected /sessions/{32 hex digits})")?;
    show_status(&page, "Loading session…", false);
    // The chunks are on their way while the metadata loads.
    let chunks = fetch::ChunkStream::request(&id, 0)?;
    let meta = fetch::session_meta(&id).await?;
    show_meta(&page, &meta);
    let doc = iframe_document(&ui.iframe).await?;
    let mut stream = fetch::ChunkStream::opened(&id, chunks).await?;
    let mut seen = Seen::default();
    let mut pending: Vec<Event> = Vec::new();
    let mut ui = Some(ui);
    let mut last_append = now();
    // Stream the chunks in: the first frame as soon as a snapshot is in,
    // the rest appended a few times a second (each append redoes the
    // markers, so not once per network read).
    while let Some(chunks) = stream.next().await? {
        pending.extend(fresh_events(&mut seen, chunks));
        if let Some(u) = ui.take() {
            if pending
                .iter()
                .any(|e| matches!(e.data, EventData::FullSnapshot(_)))
            {
                start_app(u, doc.clone(), &id, std::mem::take(&mut pending));
                with_app(|a| a.first_frame_at = now());
                show_status(&page, "Loading the rest of the session…", false);
                // Let the browser paint it before decoding on.
                sleep(0).await;
            } else {
                ui = Some(u);
            }
        } else if now() - last_append > 250.0 {
            let more = std::mem::take(&mut pending);
            with_app(|a| a.append(more));
            // Keep the page responsive (and its controls usable) while the
            // rest loads.
            sleep(0).await;
            last_append = now();
        }
    }
    match ui.take() {
        Some(u) => {
            let empty = pending.is_empty();
            start_app(u, doc, &id, pending);
            with_app(|a| a.first_frame_at = now());
            show_status(
                &page,
                if empty {
                    "This session has no events yet."
                } else {
                    ""
                },
                false,
            );
        }
        None => {
            with_app(|a| a.append(pending));
            show_status(&page, "", false);
        }
    }
    let live = recently_active(&meta);
    let deep = deep_link_time(&w);
    with_app(|a| {
        a.seen = std::mem::take(&mut seen);
        if !live {
            // Nothing more will come: a seq missing now is a gap for good.
            let gaps = a.seen.settle(0);
            a.add_gaps(gaps);
        }
        a.loaded_at = now();
        if let Some(t) = deep {
            a.seek(t);
        }
        // Still being recorded: poll for more and say so, but leave the
        // playhead alone (whoever opened it may want the start, and
        // `seek` must keep meaning what it says); Play, or the Live button,
        // follows the recording.
        if live {
            a.live = true;
            a.set_live_indicator();
        }
    });
    LOADED.with(|l| l.set(true));
    changed();
    schedule();
    spawn_local(poll_live());
    Ok(())
}

/// Builds the app on the first events and shows the first frame.
fn start_app(ui: Ui, doc: Document, id: &str, events: Vec<Event>) {
    let timeline = Timeline::new(events);
    let mut app = App {
        ui,
        doc,
        pb: Playback::new(timeline),
        time: 0.0,
        playing: false,
        speed: 1.0,
        anchor_wall: 0.0,
        anchor_time: 0.0,
        viewport: (0, 0),
        scrub: None,
        skip_idle: true,
        live: false,
        id: id.to_string(),
        seen: Seen::default(),
        first_frame_at: 0.0,
        loaded_at: 0.0,
        last_seek_ms: 0.0,
        last_seek_model_ms: 0.0,
        depth_noted: false,
        anim_rate: 0.0,
    };
    if let Some(range) = &app.ui.timeline {
        range.set_max(&app.pb.duration().to_string());
        range.set_disabled(false);
    }
    if let Some(skip) = &app.ui.skip {
        skip.set_checked(true);
    }
    app.draw_markers();
    app.viewport = (1280, 720);
    app.fit();
    app.show(0.0, true);
    APP.with(|a| *a.borrow_mut() = Some(app));
    if let (Some(w), Some(page)) = (window(), window().and_then(|w| w.document())) {
        wire_controls(&page, &w);
    }
    changed();
}

/// While live mode is on, asks for the chunks recorded since the last
/// ones and appends their events. Runs for the page's lifetime; a failed
/// poll is retried at the next interval.
async fn poll_live() {
    loop {
        sleep(LIVE_POLL_MS).await;
        let Some((true, id, from)) = with_app(|a| {
            if !a.live {
                // Not followed: what is missing now is a gap.
                let gaps = a.seen.settle(0);
                a.add_gaps(gaps);
                return (false, String::new(), 0);
            }
            (true, a.id.clone(), a.seen.poll_from())
        }) else {
            continue;
        };
        let mut chunks = Vec::new();
        let result = async {
            let mut stream = fetch::ChunkStream::open(&id, from).await?;
            while let Some(more) = stream.next().await? {
                chunks.extend(more);
            }
            Ok::<(), String>(())
        }
        .await;
        if let Err(e) = result {
            web_sys::console::warn_1(&format!("reel: live update failed: {e}").into());
        }
        with_app(|a| {
            let events = fresh_events(&mut a.seen, chunks);
            a.append(events);
            let gaps = a.seen.settle(GAP_CHECKS);
            a.add_gaps(gaps);
        });
        schedule();
    }
}

fn wire_controls(page: &Document, w: &Window) {
    let _ = page;
    let Some(ui) = with_app(|a| {
        (
            a.ui.play.clone(),
            a.ui.timeline.clone(),
            a.ui.speed.clone(),
            a.ui.live.clone(),
            a.ui.skip.clone(),
        )
    }) else {
        return;
    };
    if let Some(play) = ui.0 {
        on(&play, "click", |_| toggle());
    }
    if let Some(range) = ui.1 {
        let r = range.clone();
        on(&range, "input", move |_| {
            let v = r.value_as_number();
            with_app(|a| a.scrub = Some(v));
            schedule();
        });
    }
    if let Some(sel) = ui.2 {
        let s = sel.clone();
        on(&sel, "change", move |_| {
            let v: f64 = s.value().parse().unwrap_or(1.0);
            with_app(|a| a.set_speed(v));
        });
    }
    if let Some(live) = ui.3 {
        on(&live, "click", |_| {
            with_app(|a| a.set_live(!a.live));
            schedule();
        });
    }
    if let Some(skip) = ui.4 {
        let s = skip.clone();
        on(&skip, "change", move |_| {
            let on = s.checked();
            with_app(|a| a.skip_idle = on);
        });
    }
    on(w, "resize", |_| {
        with_app(|a| a.fit());
    });
}

fn toggle() {
    with_app(|a| if a.playing { a.pause() } else { a.play() });
    schedule();
}

/// Runs `f` now if the session is loaded, else once `ready` resolves.
/// Returns a promise that settles after `f` ran (or rejects with `ready`).
fn when_ready(f: impl FnOnce() + 'static) -> Promise {
    if loaded() {
        f();
        return Promise::resolve(&JsValue::UNDEFINED);
    }
    let ready = READY
        .with(|r| r.borrow().clone())
        .unwrap_or_else(|| Promise::resolve(&JsValue::UNDEFINED));
    let mut f = Some(f);
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(f) = f.take() {
            f();
        }
    });
    let settled = ready.then(&cb);
    cb.forget(); // one small closure per early call
    settled
}

fn method(obj: &Object, name: &str, f: Box<dyn Fn(JsValue) -> JsValue>) {
    let cb = Closure::wrap(f).into_js_value();
    let _ = Reflect::set(obj, &name.into(), &cb);
}

fn method3(obj: &Object, name: &str, f: Box<dyn Fn(JsValue, JsValue, JsValue) -> JsValue>) {
    let cb = Closure::wrap(f).into_js_value();
    let _ = Reflect::set(obj, &name.into(), &cb);
}

/// Which panel a JS argument names: a number (see `timeline::Panel`), or
/// `true`/`false` for the console and the event list.
fn panel_arg(v: &JsValue) -> Panel {
    match v.as_f64() {
        Some(_) => Panel::from_index(index_arg(v)).unwrap_or(Panel::Events),
        None if v.is_truthy() => Panel::Console,
        None => Panel::Events,
    }
}

/// A non-negative whole number from JS (0 for anything else).
fn index_arg(v: &JsValue) -> usize {
    v.as_f64()
        .filter(|x| x.is_finite() && *x > 0.0)
        .map_or(0, |x| x.min(u32::MAX as f64) as usize)
}

/// JSON text as a JS value (`null` when there is none).
fn json_value(json: Option<Option<String>>) -> JsValue {
    json.flatten()
        .and_then(|j| js_sys::JSON::parse(&j).ok())
        .unwrap_or(JsValue::NULL)
}

/// Builds `window.reelPlayer` (contract §4).
fn install_api(w: &Window, ready: &Promise) {
    let api = Object::new();
    let _ = Reflect::set(&api, &"ready".into(), ready);
    method(
        &api,
        "duration",
        Box::new(|_| JsValue::from_f64(with_app(|a| a.duration()).unwrap_or(0.0))),
    );
    method(
        &api,
        "currentTime",
        Box::new(|_| JsValue::from_f64(with_app(|a| a.time).unwrap_or(0.0))),
    );
    method(
        &api,
        "seek",
        Box::new(|ms: JsValue| {
            let ms = ms.as_f64().unwrap_or(0.0);
            when_ready(move || {
                with_app(|a| a.seek(ms));
                schedule();
            })
            .into()
        }),
    );
    method(
        &api,
        "play",
        Box::new(|_| {
            when_ready(|| {
                with_app(App::play);
                schedule();
            })
            .into()
        }),
    );
    method(
        &api,
        "pause",
        Box::new(|_| {
            when_ready(|| {
                with_app(App::pause);
            })
            .into()
        }),
    );
    method(
        &api,
        "setSpeed",
        Box::new(|x: JsValue| {
            let x = x.as_f64().unwrap_or(1.0);
            when_ready(move || {
                with_app(|a| a.set_speed(x));
            })
            .into()
        }),
    );
    method(
        &api,
        "markers",
        Box::new(|_| {
            let json = with_app(|a| json::to_string(a.pb.timeline().markers())).unwrap_or_default();
            js_sys::JSON::parse(if json.is_empty() { "[]" } else { &json })
                .unwrap_or_else(|_| Array::new().into())
        }),
    );
    // Beyond the contract: what the page's own controls (controls.js) and
    // the tests use.
    method(
        &api,
        "entries",
        Box::new(|_| {
            json_value(with_app(|a| {
                Some(json::to_string(a.pb.timeline().entries()))
            }))
        }),
    );
    // The panels, a window at a time (the first argument picks the panel,
    // see `timeline::Panel`): controls.js keeps only the lines in view in
    // the DOM.
    method(
        &api,
        "rowCount",
        Box::new(|panel: JsValue| {
            let panel = panel_arg(&panel);
            JsValue::from_f64(with_app(|a| a.pb.timeline().row_count(panel)).unwrap_or(0) as f64)
        }),
    );
    method3(
        &api,
        "rows",
        Box::new(|panel: JsValue, from: JsValue, to: JsValue| {
            let (panel, from, to) = (panel_arg(&panel), index_arg(&from), index_arg(&to));
            json_value(with_app(|a| {
                Some(json::to_string(&a.pb.timeline().rows(panel, from, to)))
            }))
        }),
    );
    method3(
        &api,
        "rowsUntil",
        Box::new(|panel: JsValue, t: JsValue, _| {
            let (panel, t) = (panel_arg(&panel), t.as_f64().unwrap_or(0.0));
            JsValue::from_f64(
                with_app(|a| a.pb.timeline().rows_until(panel, t)).unwrap_or(0) as f64,
            )
        }),
    );
    // A line's details (a request's headers and bodies, an error's stack).
    method3(
        &api,
        "detail",
        Box::new(|panel: JsValue, row: JsValue, _| {
            let (panel, row) = (panel_arg(&panel), index_arg(&row));
            json_value(with_app(|a| a.pb.timeline().detail(panel, row)))
        }),
    );
    // The session's comments as timeline markers: `[{t, text}]`, from
    // support.js, which reads them from the comments API.
    method(
        &api,
        "setComments",
        Box::new(|list: JsValue| {
            if !Array::is_array(&list) {
                return JsValue::UNDEFINED;
            }
            let comments: Vec<(u64, String)> = Array::from(&list)
                .iter()
                .filter_map(|c| {
                    let t = Reflect::get(&c, &"t".into()).ok()?.as_f64()?;
                    let text = Reflect::get(&c, &"text".into()).ok()?.as_string()?;
                    (t.is_finite() && t >= 0.0).then_some((t as u64, text))
                })
                .collect();
            with_app(|a| {
                a.pb.set_comments(comments);
                a.draw_markers();
            });
            changed();
            JsValue::UNDEFINED
        }),
    );
    method(
        &api,
        "errorCount",
        Box::new(|_| {
            JsValue::from_f64(with_app(|a| a.pb.timeline().error_count()).unwrap_or(0) as f64)
        }),
    );
    method3(
        &api,
        "markerNear",
        Box::new(|t: JsValue, forward: JsValue, _| {
            let t = t.as_f64().unwrap_or(0.0);
            with_app(|a| a.pb.timeline().marker_near(t, forward.is_truthy()))
                .flatten()
                .map_or(JsValue::NULL, |m| JsValue::from_f64(m as f64))
        }),
    );
    // For the tests: a panic inside the wasm, to check it shows on the page.
    method(
        &api,
        "panicForTest",
        Box::new(|msg: JsValue| {
            panic!("{}", msg.as_string().unwrap_or_default());
        }),
    );
    method(
        &api,
        "idle",
        Box::new(|_| json_value(with_app(|a| Some(json::to_string(a.pb.timeline().idle()))))),
    );
    method(
        &api,
        "playing",
        Box::new(|_| JsValue::from_bool(with_app(|a| a.playing).unwrap_or(false))),
    );
    method(
        &api,
        "speed",
        Box::new(|_| JsValue::from_f64(with_app(|a| a.speed).unwrap_or(1.0))),
    );
    method(
        &api,
        "skipInactivity",
        Box::new(|on: JsValue| {
            JsValue::from_bool(
                with_app(|a| {
                    if let Some(on) = on.as_bool() {
                        a.skip_idle = on;
                        if let Some(skip) = &a.ui.skip {
                            skip.set_checked(on);
                        }
                    }
                    a.skip_idle
                })
                .unwrap_or(true),
            )
        }),
    );
    method(
        &api,
        "live",
        Box::new(|on: JsValue| {
            let state = with_app(|a| {
                if let Some(on) = on.as_bool() {
                    if on != a.live {
                        a.set_live(on);
                    }
                }
                a.live
            });
            schedule();
            JsValue::from_bool(state.unwrap_or(false))
        }),
    );
    method(
        &api,
        "setRecycling",
        Box::new(|on| {
            crate::model::diff::RECYCLE.store(
                on.as_bool().unwrap_or(true),
                std::sync::atomic::Ordering::Relaxed,
            );
            JsValue::UNDEFINED
        }),
    );
    method(
        &api,
        "stats",
        Box::new(|_| {
            let v = with_app(|a| {
                let mut out = String::new();
                json::Object::new(&mut out)
                    .field("firstFrameMs", &a.first_frame_at)
                    .field("loadedMs", &a.loaded_at)
                    .field("lastSeekMs", &a.last_seek_ms)
                    .field("lastSeekModelMs", &a.last_seek_model_ms)
                    .field("events", &a.pb.timeline().events().len())
                    .field("keyframes", &a.pb.timeline().keyframe_count())
                    .end();
                out
            });
            json_value(v.map(Some))
        }),
    );
    let _ = Reflect::set(w, &"reelPlayer".into(), &api);
}

/// Entry point: called by wasm-bindgen's `init()` from `boot.js`.
pub fn start() {
    let Some(w) = window() else { return };
    let Some(page) = w.document() else { return };
    let mut settle: Option<(Function, Function)> = None;
    install_panic_hook();
    let ready = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    READY.with(|r| *r.borrow_mut() = Some(ready.clone()));
    if let Some((_, reject)) = &settle {
        REJECT.with(|r| *r.borrow_mut() = Some(reject.clone()));
    }
    // A failed load is reported on the page and by `ready` to whoever
    // awaits it; this handler only keeps it from also being logged as an
    // unhandled rejection when nobody does.
    let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
    let _ = ready.catch(&ignore);
    ignore.forget();
    install_api(&w, &ready);
    install_clock();
    spawn_local(async move {
        let result = load(page.clone()).await;
        let Some((resolve, _)) = settle else {
            return;
        };
        match result {
            Ok(()) => {
                REJECT.with(|r| r.borrow_mut().take());
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
            Err(msg) => {
                show_status(&page, &msg, true);
                web_sys::console::error_1(&format!("reel: {msg}").into());
                let reject = REJECT.with(|r| r.borrow_mut().take());
                if let Some(reject) = reject {
                    let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&msg));
                }
            }
        }
    });
}
