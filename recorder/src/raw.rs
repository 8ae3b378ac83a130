//! What the page-side capture layer (`js/reel.js`) hands to Rust.
//!
//! The capture layer walks the DOM and listens to the page in JavaScript,
//! where each DOM access is cheap, and sends its findings across the wasm
//! boundary once per batch as JSON. Values arrive unmasked, with the
//! context bits ([`flags`]) that the masking rules in [`crate::mask`] need;
//! nothing leaves the browser before those rules have run.

use serde::Deserialize;

/// Context bits computed by the capture layer for each node.
pub mod flags {
    /// Inside `data-reel-mask`, the `maskTextSelector`, or under `maskAllText`.
    pub const MASK_TEXT: u32 = 1;
    /// Inside (or on) an element with `data-reel-unmask`.
    pub const UNMASK: u32 = 2;
    /// The element is blocked (`data-reel-block` or `blockSelector`).
    pub const BLOCK: u32 = 4;
    /// The field was a password field at some point (a password toggled to
    /// `type=text` stays masked).
    pub const WAS_SENSITIVE: u32 = 8;
    /// A text node whose parent is a `<textarea>`: its text is the field's
    /// default value.
    pub const IN_TEXTAREA: u32 = 16;
}

#[derive(Debug, Deserialize)]
#[serde(tag = "k")]
pub enum RawEvent {
    #[serde(rename = "meta")]
    Meta {
        t: f64,
        href: String,
        title: String,
        w: u32,
        h: u32,
        ua: String,
    },
    #[serde(rename = "snap")]
    Snapshot {
        t: f64,
        nodes: Vec<RawNode>,
        sx: f64,
        sy: f64,
    },
    /// The first nodes of a big snapshot, sent ahead in their own task so
    /// no single hand-off converts the whole page; the `snap` that follows
    /// carries the rest.
    #[serde(rename = "snap-part")]
    SnapshotPart { nodes: Vec<RawNode> },
    #[serde(rename = "mut")]
    Mutation {
        t: f64,
        #[serde(default)]
        rem: Vec<u32>,
        #[serde(default)]
        add: Vec<RawAdd>,
        #[serde(default)]
        attr: Vec<RawAttr>,
        #[serde(default)]
        text: Vec<RawText>,
    },
    #[serde(rename = "move")]
    MouseMove { t: f64, pos: Vec<(f64, f64, f64)> },
    #[serde(rename = "mouse")]
    Mouse {
        t: f64,
        kind: String,
        id: u32,
        x: f64,
        y: f64,
    },
    #[serde(rename = "scroll")]
    Scroll { t: f64, id: u32, x: f64, y: f64 },
    #[serde(rename = "vp")]
    Viewport { t: f64, w: u32, h: u32 },
    #[serde(rename = "input")]
    Input {
        t: f64,
        id: u32,
        #[serde(flatten)]
        field: RawField,
    },
    #[serde(rename = "custom")]
    Custom {
        t: f64,
        name: String,
        data: Option<String>,
    },
    #[serde(rename = "identify")]
    Identify {
        t: f64,
        user: String,
        traits: Option<String>,
    },
    /// A console message: `level` is the console method's name.
    #[serde(rename = "console")]
    Console { t: f64, level: String, text: String },
    /// An uncaught error (`kind` `uncaught`) or unhandled rejection.
    #[serde(rename = "err")]
    Error {
        t: f64,
        kind: String,
        msg: String,
        #[serde(default)]
        src: Option<String>,
        #[serde(default)]
        stack: Option<String>,
    },
    /// A CSSOM edit of the sheet of element `node`, or of constructed
    /// sheet `cs`; `op` is `ins`, `del` or `rep`.
    #[serde(rename = "sheet")]
    Sheet {
        t: f64,
        #[serde(default)]
        node: Option<u32>,
        #[serde(default)]
        cs: Option<u32>,
        op: String,
        #[serde(default)]
        path: Vec<u32>,
        #[serde(default)]
        i: u32,
        #[serde(default)]
        rule: String,
        #[serde(default)]
        text: String,
    },
    #[serde(rename = "adopt")]
    Adopt { t: f64, root: u32, sheets: Vec<u32> },
    /// `a`: `play`, `pause`, `seek`, `rate`, `volume`.
    #[serde(rename = "media")]
    Media {
        t: f64,
        id: u32,
        a: String,
        time: f64,
        rate: f64,
        muted: bool,
        vol: f64,
    },
    #[serde(rename = "canvas")]
    Canvas { t: f64, id: u32, url: String },
    #[serde(rename = "focus")]
    Focus { t: f64, id: u32, f: bool },
    #[serde(rename = "sel")]
    Selection {
        t: f64,
        a: u32,
        ao: u32,
        f: u32,
        fo: u32,
    },
    #[serde(rename = "vis")]
    Visibility { t: f64, v: bool },
    /// `kind`: `start`, `move`, `end`, `cancel`.
    #[serde(rename = "touch")]
    Touch {
        t: f64,
        kind: String,
        pts: Vec<(f64, f64)>,
    },
}

/// A form field as the masking rules need to see it.
#[derive(Debug, Default, Deserialize)]
pub struct RawField {
    /// Lowercase tag: `input`, `textarea`, `select`.
    #[serde(default)]
    pub tag: String,
    /// The `type` attribute, lowercase (`text` when absent).
    #[serde(default, rename = "type")]
    pub ty: String,
    /// The `autocomplete` attribute, lowercase.
    #[serde(default)]
    pub ac: String,
    #[serde(default)]
    pub m: u32,
    pub v: Option<String>,
    pub c: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawNode {
    pub id: u32,
    pub p: u32,
    /// The DOM `nodeType`.
    pub k: u8,
    #[serde(default)]
    pub tag: String,
    /// `svg` or `math` for foreign elements.
    #[serde(default)]
    pub ns: Option<String>,
    #[serde(default)]
    pub a: Vec<(String, String)>,
    /// Text or comment data; the doctype's name.
    #[serde(default)]
    pub x: Option<String>,
    /// Doctype public and system ids.
    #[serde(default)]
    pub pub_id: Option<String>,
    #[serde(default)]
    pub sys_id: Option<String>,
    #[serde(default)]
    pub m: u32,
    /// Live form state.
    #[serde(default)]
    pub v: Option<String>,
    #[serde(default)]
    pub c: Option<bool>,
    /// For an `<option>` of a multiple select: its select's
    /// `autocomplete`, which decides whether the choice may be recorded.
    #[serde(default)]
    pub ac: Option<String>,
    /// Inlined same-origin stylesheet text.
    #[serde(default)]
    pub css: Option<String>,
    /// Size of a blocked element.
    #[serde(default)]
    pub bw: f64,
    #[serde(default)]
    pub bh: f64,
}

#[derive(Debug, Deserialize)]
pub struct RawAdd {
    pub p: u32,
    pub n: u32,
    pub nodes: Vec<RawNode>,
}

#[derive(Debug, Deserialize)]
pub struct RawAttr {
    pub id: u32,
    pub name: String,
    pub v: Option<String>,
    /// The element's context bits and field description, for the
    /// attributes that masking cares about.
    #[serde(default)]
    pub m: u32,
    #[serde(default)]
    pub tag: String,
    #[serde(default, rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub ac: String,
}

#[derive(Debug, Deserialize)]
pub struct RawText {
    pub id: u32,
    pub v: String,
    #[serde(default)]
    pub m: u32,
}
