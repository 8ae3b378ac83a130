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
use crate::playback::Playback;
use crate::render;
use crate::timeline::Timeline;
use js_sys::{Array, Function, Object, Promise, Reflect};
use reel_shared::SessionId;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Document, Element, HtmlElement, HtmlIFrameElement, HtmlInputElement, HtmlSelectElement, Window,
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
}

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
}

/// The animation-frame callback, kept alive for the page's lifetime.
type FrameCallback = Closure<dyn FnMut(f64)>;

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
    static READY: RefCell<Option<Promise>> = const { RefCell::new(None) };
    static RAF: RefCell<Option<FrameCallback>> = const { RefCell::new(None) };
    static RAF_PENDING: Cell<bool> = const { Cell::new(false) };
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

fn loaded() -> bool {
    APP.with(|a| a.try_borrow().map(|a| a.is_some()).unwrap_or(false))
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

    /// Moves the playhead to `t` and brings the iframe there.
    fn show(&mut self, t: f64) {
        let t = if t.is_finite() {
            t.clamp(0.0, self.duration())
        } else {
            0.0
        };
        let ops = self.pb.seek(t.floor() as u64);
        render::apply(&self.doc, &ops);
        self.time = t;
        self.refresh();
    }

    /// Brings everything but the document up to date with the playhead.
    fn refresh(&mut self) {
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
        if t >= self.duration() {
            t = self.duration();
            self.playing = false;
        }
        self.show(t);
    }

    fn play(&mut self) {
        if self.playing || self.duration() <= 0.0 {
            return;
        }
        if self.time >= self.duration() {
            self.show(0.0);
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
        self.show(ms);
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
        for m in self.pb.timeline().markers() {
            let Ok(tick) = doc.create_element("button") else {
                continue;
            };
            let Ok(tick) = tick.dyn_into::<HtmlElement>() else {
                continue;
            };
            let kind = serde_json::to_value(m.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            tick.set_class_name(&format!("reel-tick reel-tick-{kind}"));
            let _ = tick.set_attribute("type", "button");
            tick.set_title(&m.name);
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
fn show_meta(doc: &Document, meta: &serde_json::Value) {
    let url = meta
        .get("urls")
        .and_then(|u| u.get(0))
        .and_then(|u| u.as_str())
        .unwrap_or("");
    if let Some(el) = by_id::<HtmlElement>(doc, "reel-title") {
        el.set_text_content(Some(if url.is_empty() { "Session" } else { url }));
        el.set_title(url);
    }
    let started = meta.get("started_at").map(|s| match s {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let user = meta.get("user_id").and_then(|u| u.as_str());
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

async fn load(page: Document) -> Result<(), String> {
    let w = window().ok_or("no window")?;
    let ui = find_ui(&page)?;
    let id = session_id(&w)
        .ok_or("this page's URL names no session (expected /sessions/{32 hex digits})")?;
    show_status(&page, "Loading session…", false);
    let meta = fetch::session_meta(&id).await?;
    show_meta(&page, &meta);
    let events = fetch::session_events(&id).await?;
    let doc = iframe_document(&ui.iframe).await?;
    let timeline = Timeline::new(events);
    let empty = timeline.events().is_empty();
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
    };
    if let Some(range) = &app.ui.timeline {
        range.set_max(&app.pb.duration().to_string());
        range.set_disabled(false);
    }
    app.draw_markers();
    app.viewport = (1280, 720);
    app.fit();
    app.show(0.0);
    show_status(
        &page,
        if empty {
            "This session has no events yet."
        } else {
            ""
        },
        false,
    );
    APP.with(|a| *a.borrow_mut() = Some(app));
    wire_controls(&page, &w);
    Ok(())
}

fn wire_controls(page: &Document, w: &Window) {
    let Some(ui) = with_app(|a| (a.ui.play.clone(), a.ui.timeline.clone(), a.ui.speed.clone()))
    else {
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
    on(w, "resize", |_| {
        with_app(|a| a.fit());
    });
    // Space toggles playback, unless a control has the focus.
    on(page, "keydown", |e| {
        let Ok(ke) = e.dyn_into::<web_sys::KeyboardEvent>() else {
            return;
        };
        let in_control = ke
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .is_some_and(|el| {
                matches!(
                    el.tag_name().as_str(),
                    "INPUT" | "SELECT" | "BUTTON" | "TEXTAREA"
                )
            });
        if ke.key() == " " && !in_control {
            ke.prevent_default();
            toggle();
        }
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
            let json =
                with_app(|a| serde_json::to_string(a.pb.timeline().markers()).unwrap_or_default())
                    .unwrap_or_default();
            js_sys::JSON::parse(if json.is_empty() { "[]" } else { &json })
                .unwrap_or_else(|_| Array::new().into())
        }),
    );
    let _ = Reflect::set(w, &"reelPlayer".into(), &api);
}

/// Entry point: called by wasm-bindgen's `init()` from `boot.js`.
pub fn start() {
    let Some(w) = window() else { return };
    let Some(page) = w.document() else { return };
    let mut settle: Option<(Function, Function)> = None;
    let ready = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    READY.with(|r| *r.borrow_mut() = Some(ready.clone()));
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
        let Some((resolve, reject)) = settle else {
            return;
        };
        match result {
            Ok(()) => {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
            Err(msg) => {
                show_status(&page, &msg, true);
                web_sys::console::error_1(&format!("reel: {msg}").into());
                let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&msg));
            }
        }
    });
}
