//! The events a recorder captures.
//!
//! Time: every event carries `t`, absolute milliseconds since the Unix
//! epoch, never decreasing within a session (the recorder clamps). The
//! session's start is its first event's `t`; the player's clock is `t` minus
//! that start. Events with equal `t` keep their recorded order, which is how
//! a custom event recorded right after a DOM change sorts after it.
//!
//! Compatibility: the wire encoding is positional (MessagePack arrays), so
//! fields are only ever appended, with `#[serde(default)]`, and enum
//! variants only added at the end; anything else bumps
//! [`crate::chunk::FORMAT_VERSION`].

use crate::ids::NodeId;
use crate::node::{FieldValue, FlatNode};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    pub data: EventData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventData {
    /// A page was loaded (the first page of a session, or a navigation).
    /// Always followed by a [`EventData::FullSnapshot`].
    Meta(Meta),
    FullSnapshot(Snapshot),
    Mutation(Mutation),
    /// Sampled pointer positions, batched.
    MouseMove(Vec<MousePosition>),
    Mouse(MouseInteraction),
    Scroll(Scroll),
    Viewport(Viewport),
    Input(Input),
    Custom(Custom),
    Identify(Identify),
    /// A console message of the page (level and truncated text).
    Console(Console),
    /// An uncaught error or unhandled promise rejection in the page.
    PageError(PageError),
    /// A CSSOM edit: `insertRule`, `deleteRule`, `replace`, `replaceSync`.
    StyleSheet(StyleSheetChange),
    /// The `adoptedStyleSheets` of a document or shadow root changed.
    AdoptedStyleSheets(AdoptedStyleSheets),
    /// A `<video>`/`<audio>` played, paused, seeked or changed rate/volume.
    Media(Media),
    /// A bitmap of a 2D canvas (opt-in, at the embedder's interval).
    Canvas(Canvas),
    Focus(Focus),
    Selection(Selection),
    Visibility(Visibility),
    Touch(Touch),
    /// The recorder dropped data (its buffer was full while the server was
    /// unreachable): the replay has a gap here.
    Dropped(Dropped),
    /// A `fetch`, `XMLHttpRequest` or `sendBeacon` of the page settled.
    Network(Network),
    /// A named key (`Enter`, `Escape`, `Tab`, arrows...) was pressed.
    Key(Key),
    /// A frustration signal (contract §6), detected by the recorder's one
    /// implementation of the rules ([`crate::signals`]) as events pass.
    Signal(Signal),
    /// Where a CSS animation was at `t` (issue 14): a seek shows it there.
    Animation(Animation),
    /// A popover was shown or hidden (its open state is not in the DOM).
    Popover(Popover),
    /// What the recorder inside a cross-origin frame recorded, joined to
    /// this session by message passing (issue 14): opaque here, expanded
    /// by every reader with [`crate::frames::expand`].
    FrameEvents(FrameEvents),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub href: String,
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub user_agent: String,
    /// `document.referrer` of the page, where the browser gives one.
    #[serde(default)]
    pub referrer: Option<String>,
    /// A random id the recorder keeps in the page's own storage to tell
    /// returning visitors; `None` where the page lets Reel keep nothing
    /// (before consent under `requireConsent`, under an honoured Do Not
    /// Track) or storage is unavailable.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// Whether `visitor_id` was created by this page load (`None` with it).
    #[serde(default)]
    pub new_visitor: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The whole document, flat, in document order; the first node is the
    /// document itself.
    pub nodes: Vec<FlatNode>,
    pub scroll_x: i32,
    pub scroll_y: i32,
}

/// One batch of DOM changes. The player applies removes, then adds (in list
/// order), then attribute and text changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    pub removes: Vec<NodeId>,
    pub adds: Vec<AddedTree>,
    pub attrs: Vec<AttrChange>,
    pub texts: Vec<TextChange>,
}

/// A subtree inserted under `parent`, before `next` (or appended when `next`
/// is [`crate::NO_NODE`]). `nodes[0]` is the subtree's root; the rest follow
/// in document order, each appended to its own parent. Adds are ordered so
/// that `next` already exists when an add is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddedTree {
    pub parent: NodeId,
    pub next: NodeId,
    pub nodes: Vec<FlatNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    pub id: NodeId,
    pub name: String,
    /// `None`: the attribute was removed.
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextChange {
    pub id: NodeId,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MousePosition {
    pub x: i32,
    pub y: i32,
    /// Milliseconds after the event's `t`.
    pub dt: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MouseKind {
    Down,
    Up,
    Click,
    DblClick,
    ContextMenu,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MouseInteraction {
    pub kind: MouseKind,
    /// The target node, or [`crate::NO_NODE`] when it is not recorded.
    pub id: NodeId,
    pub x: i32,
    pub y: i32,
    /// The target's accessible name or visible text (masked where its
    /// text is masked), at most [`limits::MAX_LABEL`] bytes.
    #[serde(default)]
    pub label: Option<String>,
    /// A CSS selector for the target, preferring test ids, ids, roles and
    /// names over positions; at most [`limits::MAX_SELECTOR`] bytes.
    #[serde(default)]
    pub selector: Option<String>,
    /// Where the click fell in its target's border box, in thousandths of
    /// the box's width (0..=1000): a heatmap point that survives other
    /// viewport sizes. `None` without a target box.
    #[serde(default)]
    pub box_x: Option<u16>,
    /// As `box_x`, in thousandths of the box's height.
    #[serde(default)]
    pub box_y: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scroll {
    /// The scrolled element, or the document node for the window.
    pub id: NodeId,
    pub x: i32,
    pub y: i32,
    /// For the top document only: the thousandths of the page's height
    /// whose bottom edge is in view, `(scrollY + innerHeight) /
    /// scrollHeight`, capped at 1000. Also sent at page load (the first
    /// fold) with the page's initial scroll position.
    #[serde(default)]
    pub depth: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub id: NodeId,
    pub value: Option<FieldValue>,
    pub checked: Option<bool>,
    /// As [`MouseInteraction::label`].
    #[serde(default)]
    pub label: Option<String>,
    /// As [`MouseInteraction::selector`].
    #[serde(default)]
    pub selector: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Custom {
    pub name: String,
    /// The embedder's data, as JSON text.
    pub data: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identify {
    pub user_id: String,
    /// The embedder's traits, as JSON text.
    pub traits: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleLevel {
    Debug,
    Log,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Console {
    pub level: ConsoleLevel,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageErrorKind {
    Uncaught,
    UnhandledRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageError {
    pub kind: PageErrorKind,
    pub message: String,
    /// `file:line:column` where known.
    pub source: Option<String>,
    pub stack: Option<String>,
}

/// Which stylesheet a CSSOM edit or adoption refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SheetRef {
    /// The sheet of a `<style>` or `<link>` element.
    Node(NodeId),
    /// A constructed stylesheet (`new CSSStyleSheet()`), numbered by the
    /// recorder; its first `Replace` creates it in the replay.
    Constructed(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SheetOp {
    /// `insertRule(rule, index)`; `path` addresses nested grouping rules
    /// (`@media`), outermost first, empty for top-level rules.
    Insert {
        path: Vec<u32>,
        index: u32,
        rule: String,
    },
    Delete {
        path: Vec<u32>,
        index: u32,
    },
    /// The whole sheet's text (`replace`, `replaceSync`).
    Replace {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StyleSheetChange {
    pub sheet: SheetRef,
    pub op: SheetOp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdoptedStyleSheets {
    /// The document or shadow root.
    pub root: NodeId,
    pub sheets: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaAction {
    Play,
    Pause,
    Seek,
    RateChange,
    VolumeChange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub id: NodeId,
    pub action: MediaAction,
    /// `currentTime`, seconds.
    pub time: f64,
    pub rate: f64,
    pub muted: bool,
    pub volume: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canvas {
    pub id: NodeId,
    /// A `data:image/webp` (or png) URL.
    pub data_url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Focus {
    pub id: NodeId,
    pub focused: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub anchor: NodeId,
    pub anchor_offset: u32,
    pub focus: NodeId,
    pub focus_offset: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Visibility {
    pub visible: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TouchKind {
    Start,
    Move,
    End,
    Cancel,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    pub kind: TouchKind,
    /// Viewport coordinates of every active touch point.
    pub points: Vec<(i32, i32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub chunks: u32,
    pub bytes: u64,
}

/// Which page API made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkKind {
    Fetch,
    Xhr,
    Beacon,
}

/// One request of the page, recorded when it settled: the event's `t` is
/// when it settled, and it started `duration_ms` earlier. Headers and
/// bodies are present only for URLs the embedder allowed
/// (`networkDetailUrls`), with credentials left out and secret-looking
/// body fields masked by the recorder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub kind: NetworkKind,
    /// `GET`, `POST`, ... (`POST` for a beacon).
    pub method: String,
    /// Absolute URL, query-string values masked except the allowed ones.
    pub url: String,
    /// The HTTP status; 0 when the request failed (network error, CORS,
    /// abort, timeout) or, for a beacon, whose outcome the page never sees.
    pub status: u16,
    pub duration_ms: u32,
    /// The request body's size in bytes, where known.
    pub request_bytes: Option<u64>,
    /// The response body's size in bytes, where known.
    pub response_bytes: Option<u64>,
    /// Why the request failed (`abort`, `network error`, `timeout`...).
    pub failure: Option<String>,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    /// At most [`limits::MAX_BODY`] bytes.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

/// A named key pressed in an element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub id: NodeId,
    /// The key's name (`Enter`, `Escape`, `Tab`, `ArrowDown`, `Backspace`,
    /// ...), never a printable character.
    pub key: String,
    pub label: Option<String>,
    pub selector: Option<String>,
}

/// Which frustration signal (contract §6; the rules are in
/// [`crate::signals`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignalKind {
    RageClick,
    DeadClick,
    ErrorClick,
    ThrashedCursor,
    UTurn,
}

impl SignalKind {
    /// The kind's name in the player's markers and the API (`rage_click`,
    /// `dead_click`, `error_click`, `thrashed_cursor`, `u_turn`).
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::RageClick => "rage_click",
            SignalKind::DeadClick => "dead_click",
            SignalKind::ErrorClick => "error_click",
            SignalKind::ThrashedCursor => "thrashed_cursor",
            SignalKind::UTurn => "u_turn",
        }
    }
}

/// A frustration signal. The event's `t` is when it was detected; `since`
/// is when what it marks began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: SignalKind,
    /// When it began: the click (dead, error), the burst's first click
    /// (rage), the thrash's first movement, the page that was left (u-turn:
    /// when it was shown).
    pub since: u64,
    /// The click's target, or [`crate::NO_NODE`].
    pub id: NodeId,
    /// Viewport position of the (first) click or of the thrash's start;
    /// 0 for a u-turn.
    pub x: i32,
    pub y: i32,
    /// Clicks in a rage burst, direction reversals of a thrash, the
    /// milliseconds the left page was shown for a u-turn; 1 otherwise.
    pub count: u32,
    /// As [`MouseInteraction::label`] of the click; for a u-turn, the URL
    /// of the page left.
    pub label: Option<String>,
    /// As [`MouseInteraction::selector`] of the click.
    pub selector: Option<String>,
}

/// The phase of one CSS animation (`CSSAnimation` of the Web Animations
/// API) at the event's `t`. The recorder sends one for every animation of
/// the page with each full snapshot and marker, and once for an animation
/// that started since; the player sets the replay's animation of the same
/// element and name to this phase, moved on by the time since `t` unless
/// `paused`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Animation {
    /// The animated element.
    pub id: NodeId,
    /// `animationName`, at most [`limits::MAX_LABEL`] bytes.
    pub name: String,
    /// `::before`, `::after`, ... for an animation of a pseudo-element.
    pub pseudo: Option<String>,
    /// `currentTime`, milliseconds.
    pub time: f64,
    /// Its play state is `paused`: the phase does not move on.
    pub paused: bool,
}

/// A popover (`[popover]`) was shown (`open`) or hidden; with a full
/// snapshot, one for each popover open then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Popover {
    pub id: NodeId,
    pub open: bool,
}

/// A cross-origin frame's events, as a whole chunk sealed (and so masked)
/// by the recorder running in that frame. The parent's recorder cannot
/// read them (its wasm carries no decoder) and does not need to: a frame
/// that sends garbage costs its own events only, never the chunk around
/// them (see [`crate::frames`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameEvents {
    /// The frame element's node id in the parent's document.
    pub frame: NodeId,
    /// The first node id of the block the parent gave the frame
    /// ([`crate::frames::BLOCK`] ids): the frame's events may name no other
    /// nodes (but `frame`, as its document's parent).
    pub base: NodeId,
    /// The frame's chunk, MessagePack `bin` on the wire.
    #[serde(with = "bytes")]
    pub chunk: Vec<u8>,
}

/// `Vec<u8>` as MessagePack `bin` (serde's default is an array of
/// integers, up to twice the size).
mod bytes {
    use serde::{de, Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Size bounds of the fields added for support (issue 17): the recorder
/// cuts to them, and ingest refuses a chunk that exceeds them.
pub mod limits {
    /// An element's label.
    pub const MAX_LABEL: usize = 1024;
    /// An element's selector.
    pub const MAX_SELECTOR: usize = 1024;
    /// A key's name (the longest named keys are ~20 bytes).
    pub const MAX_KEY: usize = 64;
    /// A request's method.
    pub const MAX_METHOD: usize = 64;
    /// A request's URL; a page's referrer.
    pub const MAX_URL: usize = 8 * 1024;
    /// A visitor id (the recorder makes 22-character ones).
    pub const MAX_VISITOR_ID: usize = 64;
    /// A request's failure reason.
    pub const MAX_FAILURE: usize = 1024;
    /// Headers in one list (request or response).
    pub const MAX_HEADERS: usize = 64;
    /// One header's name or value.
    pub const MAX_HEADER: usize = 4 * 1024;
    /// A request or response body.
    pub const MAX_BODY: usize = 64 * 1024;
}
