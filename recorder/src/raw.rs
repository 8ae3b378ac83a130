//! What the page-side capture layer (`js/src/`, bundled into `reel.js`) hands to Rust.
//!
//! The capture layer walks the DOM and listens to the page in JavaScript,
//! where each DOM access is cheap, and sends its findings across the wasm
//! boundary once per batch as JSON. Values arrive unmasked, with the
//! context bits ([`flags`]) that the masking rules in [`crate::mask`] need;
//! nothing leaves the browser before those rules have run.

use crate::json::{whole_u32, JsonError, Parser};

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

#[derive(Debug)]
pub enum RawEvent {
    Meta {
        t: f64,
        href: String,
        title: String,
        w: u32,
        h: u32,
        ua: String,
        /// `document.referrer` (empty: none).
        referrer: String,
        /// The visitor id, where the page lets Reel keep one, and whether
        /// it is new in this session.
        visitor: Option<(String, bool)>,
        /// The session's pages before this one (URLs, oldest first, at
        /// most two) and when the last of them was shown: what a u-turn
        /// needs (`reel_shared::signals`).
        before: Vec<String>,
        before_t: f64,
    },
    Snapshot {
        t: f64,
        nodes: Vec<RawNode>,
        sx: f64,
        sy: f64,
    },
    /// The first nodes of a big snapshot, sent ahead in their own task so
    /// no single hand-off converts the whole page; the `snap` that follows
    /// carries the rest.
    SnapshotPart {
        nodes: Vec<RawNode>,
    },
    Mutation {
        t: f64,
        rem: Vec<u32>,
        add: Vec<RawAdd>,
        attr: Vec<RawAttr>,
        text: Vec<RawText>,
    },
    MouseMove {
        t: f64,
        pos: Vec<(f64, f64, f64)>,
    },
    Mouse {
        t: f64,
        kind: String,
        id: u32,
        x: f64,
        y: f64,
        label: RawLabel,
        /// Where in its target's border box (thousandths).
        bx: Option<f64>,
        by: Option<f64>,
        /// A click into a field or on plain text: never a dead click.
        inert: bool,
    },
    Scroll {
        t: f64,
        id: u32,
        x: f64,
        y: f64,
        /// The top document's scroll depth (thousandths).
        depth: Option<f64>,
    },
    /// The page changed in a way no event records (a dialog opened), or
    /// before its event (a scroll, recorded a little later): only the
    /// signal detector hears of it.
    Changed {
        t: f64,
    },
    Viewport {
        t: f64,
        w: u32,
        h: u32,
    },
    Input {
        t: f64,
        id: u32,
        field: RawField,
        label: RawLabel,
    },
    /// A named key pressed (`Enter`, `Shift+Tab`; `js/src/labels.js`
    /// never sends a printable character).
    Key {
        t: f64,
        id: u32,
        key: String,
        label: RawLabel,
    },
    Custom {
        t: f64,
        name: String,
        data: Option<String>,
    },
    Identify {
        t: f64,
        user: String,
        traits: Option<String>,
    },
    /// A console message: `level` is the console method's name.
    Console {
        t: f64,
        level: String,
        text: String,
    },
    /// An uncaught error (`kind` `uncaught`) or unhandled rejection.
    Error {
        t: f64,
        kind: String,
        msg: String,
        src: Option<String>,
        stack: Option<String>,
    },
    /// A CSSOM edit of the sheet of element `node`, or of constructed
    /// sheet `cs`; `op` is `ins`, `del` or `rep`.
    Sheet {
        t: f64,
        node: Option<u32>,
        cs: Option<u32>,
        op: String,
        path: Vec<u32>,
        i: u32,
        rule: String,
        text: String,
    },
    Adopt {
        t: f64,
        root: u32,
        sheets: Vec<u32>,
    },
    /// `a`: `play`, `pause`, `seek`, `rate`, `volume`.
    Media {
        t: f64,
        id: u32,
        a: String,
        time: f64,
        rate: f64,
        muted: bool,
        vol: f64,
    },
    Canvas {
        t: f64,
        id: u32,
        url: String,
    },
    Focus {
        t: f64,
        id: u32,
        f: bool,
    },
    Selection {
        t: f64,
        a: u32,
        ao: u32,
        f: u32,
        fo: u32,
    },
    Visibility {
        t: f64,
        v: bool,
    },
    /// `kind`: `start`, `move`, `end`, `cancel`.
    Touch {
        t: f64,
        kind: String,
        pts: Vec<(f64, f64)>,
    },
    /// A request of the page settled (`js/src/network.js`).
    Network(Box<RawNetwork>),
    /// A CSS animation's phase (`js/src/media.js`).
    Animation {
        t: f64,
        id: u32,
        name: String,
        pseudo: Option<String>,
        time: f64,
        paused: bool,
    },
    /// A popover shown (`o`) or hidden.
    Popover {
        t: f64,
        id: u32,
        o: bool,
    },
}

/// A request as the capture layer saw it: the URL absolute and unmasked;
/// headers (the embedder's redacted ones already left out) and bodies only
/// for URLs the embedder allowed. [`crate::netmask`] does the rest.
#[derive(Debug, Default)]
pub struct RawNetwork {
    pub t: f64,
    /// `fetch`, `xhr`, `beacon`.
    pub kind: String,
    pub method: String,
    pub url: String,
    pub status: f64,
    pub dur: f64,
    pub req_bytes: Option<f64>,
    pub res_bytes: Option<f64>,
    pub failure: Option<String>,
    /// `networkQueryAllow`: query parameters whose values are kept.
    pub query_allow: Vec<String>,
    pub req_headers: Vec<(String, String)>,
    pub res_headers: Vec<(String, String)>,
    pub req_body: Option<String>,
    pub res_body: Option<String>,
    /// The bodies' content types (empty when unknown).
    pub req_type: String,
    pub res_type: String,
}

/// What the capture layer (`js/src/labels.js`) says of an event's target:
/// its label (`lab`, unmasked), whether any text it was built from is
/// masked (`lm`), and its selector (`sel`).
#[derive(Debug, Default)]
pub struct RawLabel {
    pub text: Option<String>,
    pub masked: bool,
    pub selector: Option<String>,
}

/// A form field as the masking rules need to see it.
#[derive(Debug, Default)]
pub struct RawField {
    /// Lowercase tag: `input`, `textarea`, `select`.
    pub tag: String,
    /// The `type` attribute, lowercase (`text` when absent).
    pub ty: String,
    /// The `autocomplete` attribute, lowercase.
    pub ac: String,
    pub m: u32,
    pub v: Option<String>,
    pub c: Option<bool>,
}

#[derive(Debug)]
pub struct RawNode {
    pub id: u32,
    pub p: u32,
    /// The DOM `nodeType`.
    pub k: u8,
    pub tag: String,
    /// `svg` or `math` for foreign elements.
    pub ns: Option<String>,
    pub a: Vec<(String, String)>,
    /// Text or comment data; the doctype's name.
    pub x: Option<String>,
    /// Doctype public and system ids.
    pub pub_id: Option<String>,
    pub sys_id: Option<String>,
    pub m: u32,
    /// Live form state.
    pub v: Option<String>,
    pub c: Option<bool>,
    /// For an `<option>` of a multiple select: its select's
    /// `autocomplete`, which decides whether the choice may be recorded.
    pub ac: Option<String>,
    /// Inlined same-origin stylesheet text.
    pub css: Option<String>,
    /// Size of a blocked element.
    pub bw: f64,
    pub bh: f64,
}

#[derive(Debug)]
pub struct RawAdd {
    pub p: u32,
    pub n: u32,
    pub nodes: Vec<RawNode>,
}

#[derive(Debug)]
pub struct RawAttr {
    pub id: u32,
    pub name: String,
    pub v: Option<String>,
    /// The element's context bits and field description, for the
    /// attributes that masking cares about.
    pub m: u32,
    pub tag: String,
    pub ty: String,
    pub ac: String,
}

#[derive(Debug)]
pub struct RawText {
    pub id: u32,
    pub v: String,
    pub m: u32,
}

/// Reads a batch: a JSON array of raw events.
pub fn parse_batch(json: &str) -> Result<Vec<RawEvent>, JsonError> {
    let mut p = Parser::new(json);
    let mut out = Vec::new();
    p.array(|p| {
        out.push(RawEvent::parse(p)?);
        Ok(())
    })?;
    p.end()?;
    Ok(out)
}

type Res<T> = Result<T, JsonError>;

/// `[a, b, c]` of numbers.
fn triples(p: &mut Parser) -> Res<Vec<(f64, f64, f64)>> {
    let mut v = Vec::new();
    p.array(|p| {
        let mut t = [0.0; 3];
        let mut n = 0;
        p.array(|p| {
            let x = p.f64()?;
            if let Some(slot) = t.get_mut(n) {
                *slot = x;
            }
            n += 1;
            Ok(())
        })?;
        v.push((t[0], t[1], t[2]));
        Ok(())
    })?;
    Ok(v)
}

fn pairs_str(p: &mut Parser) -> Res<Vec<(String, String)>> {
    let mut v = Vec::new();
    p.array(|p| {
        let mut pair = (String::new(), String::new());
        let mut n = 0;
        p.array(|p| {
            match n {
                0 => pair.0 = p.string()?,
                1 => pair.1 = p.string()?,
                _ => p.skip()?,
            }
            n += 1;
            Ok(())
        })?;
        v.push(pair);
        Ok(())
    })?;
    Ok(v)
}

fn list<T>(p: &mut Parser, item: fn(&mut Parser) -> Res<T>) -> Res<Vec<T>> {
    let mut v = Vec::new();
    p.array(|p| {
        v.push(item(p)?);
        Ok(())
    })?;
    Ok(v)
}

impl RawEvent {
    /// One event. Its members are gathered first (a [`Bag`]), then read by
    /// kind: one small reader for every kind, rather than a parser per kind,
    /// which was the largest part of this module's wasm. Every field may be
    /// absent (it then reads as zero or empty): the capture layer is our own
    /// script, and a half-filled event is better recorded than a whole batch
    /// refused. A field of the wrong type is an error.
    fn parse(p: &mut Parser) -> Res<RawEvent> {
        let mut b = Bag {
            at: p.position(),
            ..Bag::default()
        };
        p.object(|p, k| b.read(p, k))?;
        let kind = b.string("k");
        let t = b.f64("t");
        let ev = match kind.as_str() {
            "meta" => RawEvent::Meta {
                t,
                href: b.string("href"),
                title: b.string("title"),
                w: b.u32("w"),
                h: b.u32("h"),
                ua: b.string("ua"),
                referrer: b.string("ref"),
                visitor: b
                    .opt_string("vid")
                    .map(|v| (v, matches!(b.take("nv"), Some(Scalar::Num(n)) if n != 0.0))),
                before: std::mem::take(&mut b.strs),
                before_t: b.f64("pt"),
            },
            "snap" => RawEvent::Snapshot {
                t,
                nodes: std::mem::take(&mut b.nodes),
                sx: b.f64("sx"),
                sy: b.f64("sy"),
            },
            "snap-part" => RawEvent::SnapshotPart { nodes: b.nodes },
            "mut" => RawEvent::Mutation {
                t,
                rem: b.ints("rem"),
                add: b.add,
                attr: b.attr,
                text: b.text,
            },
            "move" => RawEvent::MouseMove { t, pos: b.pos },
            "mouse" => RawEvent::Mouse {
                t,
                kind: b.string("kind"),
                id: b.u32("id"),
                x: b.f64("x"),
                y: b.f64("y"),
                label: b.label(),
                bx: b.opt_f64("bx"),
                by: b.opt_f64("by"),
                inert: b.f64("nd") != 0.0,
            },
            "chg" => RawEvent::Changed { t },
            "key" => RawEvent::Key {
                t,
                id: b.u32("id"),
                key: b.string("key"),
                label: b.label(),
            },
            "scroll" => RawEvent::Scroll {
                t,
                id: b.u32("id"),
                x: b.f64("x"),
                y: b.f64("y"),
                depth: b.opt_f64("d"),
            },
            "vp" => RawEvent::Viewport {
                t,
                w: b.u32("w"),
                h: b.u32("h"),
            },
            "input" => RawEvent::Input {
                t,
                id: b.u32("id"),
                field: RawField {
                    tag: b.string("tag"),
                    ty: b.string("type"),
                    ac: b.string("ac"),
                    m: b.u32("m"),
                    v: b.opt_string("v"),
                    c: b.opt_bool("c"),
                },
                label: b.label(),
            },
            "custom" => RawEvent::Custom {
                t,
                name: b.string("name"),
                data: b.opt_string("data"),
            },
            "identify" => RawEvent::Identify {
                t,
                user: b.string("user"),
                traits: b.opt_string("traits"),
            },
            "console" => RawEvent::Console {
                t,
                level: b.string("level"),
                text: b.string("text"),
            },
            "err" => RawEvent::Error {
                t,
                kind: b.string("kind"),
                msg: b.string("msg"),
                src: b.opt_string("src"),
                stack: b.opt_string("stack"),
            },
            "sheet" => RawEvent::Sheet {
                t,
                node: b.opt_u32("node"),
                cs: b.opt_u32("cs"),
                op: b.string("op"),
                path: b.ints("path"),
                i: b.u32("i"),
                rule: b.string("rule"),
                text: b.string("text"),
            },
            "adopt" => RawEvent::Adopt {
                t,
                root: b.u32("root"),
                sheets: b.ints("sheets"),
            },
            "media" => RawEvent::Media {
                t,
                id: b.u32("id"),
                a: b.string("a"),
                time: b.f64("time"),
                rate: b.f64("rate"),
                muted: b.bool("muted"),
                vol: b.f64("vol"),
            },
            "canvas" => RawEvent::Canvas {
                t,
                id: b.u32("id"),
                url: b.string("url"),
            },
            "focus" => RawEvent::Focus {
                t,
                id: b.u32("id"),
                f: b.bool("f"),
            },
            "sel" => RawEvent::Selection {
                t,
                a: b.u32("a"),
                ao: b.u32("ao"),
                f: b.u32("f"),
                fo: b.u32("fo"),
            },
            "vis" => RawEvent::Visibility { t, v: b.bool("v") },
            "touch" => RawEvent::Touch {
                t,
                kind: b.string("kind"),
                pts: b.pos.into_iter().map(|(x, y, _)| (x, y)).collect(),
            },
            "net" => RawEvent::Network(Box::new(RawNetwork {
                t,
                kind: b.string("kind"),
                method: b.string("method"),
                url: b.string("url"),
                status: b.f64("st"),
                dur: b.f64("dur"),
                req_bytes: b.opt_f64("qb"),
                res_bytes: b.opt_f64("sb"),
                failure: b.opt_string("fail"),
                query_allow: std::mem::take(&mut b.strs),
                req_headers: b.pairs("rqh"),
                res_headers: b.pairs("rsh"),
                req_body: b.opt_string("rqb"),
                res_body: b.opt_string("rsb"),
                req_type: b.string("rqt"),
                res_type: b.string("rst"),
            })),
            "anim" => RawEvent::Animation {
                t,
                id: b.u32("id"),
                name: b.string("name"),
                pseudo: b.opt_string("ps"),
                time: b.f64("time"),
                paused: b.bool("p"),
            },
            "pop" => RawEvent::Popover {
                t,
                id: b.u32("id"),
                o: b.bool("o"),
            },
            _ => {
                b.wrong("unknown event kind");
                RawEvent::Changed { t }
            }
        };
        // The first field of the wrong type (or the unknown kind) refuses
        // the event.
        match b.bad {
            Some(what) => Err(JsonError { at: b.at, what }),
            None => Ok(ev),
        }
    }
}

/// A scalar member of an event object.
enum Scalar {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
}

/// The members of one event object: scalars by name, the few arrays by
/// what they hold.
#[derive(Default)]
struct Bag {
    /// Where the object starts, for errors.
    at: usize,
    /// The first member found of the wrong type: the accessors note it
    /// and go on (returning zero or empty) rather than return early, as
    /// each early return dropped every member read so far, and that drop
    /// code, once per field, was most of the batch parser's wasm.
    bad: Option<&'static str>,
    scalars: Vec<(String, Scalar)>,
    /// `rem`, `path`, `sheets`.
    ints: Vec<(String, Vec<u32>)>,
    nodes: Vec<RawNode>,
    add: Vec<RawAdd>,
    attr: Vec<RawAttr>,
    text: Vec<RawText>,
    /// `pos` (x, y, dt) and `pts` (x, y).
    pos: Vec<(f64, f64, f64)>,
    /// `qa`, `pu` (strings).
    strs: Vec<String>,
    /// `rqh`, `rsh` (name, value pairs).
    pairs: Vec<(String, Vec<(String, String)>)>,
}

/// Its accessors are `#[inline(never)]`: called for every field of every
/// kind, inlined they multiplied the batch parser in the wasm.
impl Bag {
    fn read(&mut self, p: &mut Parser, k: &str) -> Res<()> {
        let v = match p.peek() {
            Some(b'[') => {
                match k {
                    "nodes" => self.nodes = list(p, RawNode::parse)?,
                    "add" => self.add = list(p, RawAdd::parse)?,
                    "attr" => self.attr = list(p, RawAttr::parse)?,
                    "text" => self.text = list(p, RawText::parse)?,
                    "pos" | "pts" => self.pos = triples(p)?,
                    "rem" | "path" | "sheets" => self.ints.push((k.to_owned(), p.u32s()?)),
                    "qa" | "pu" => self.strs = list(p, |p| p.string())?,
                    "rqh" | "rsh" => self.pairs.push((k.to_owned(), pairs_str(p)?)),
                    _ => p.skip()?,
                }
                return Ok(());
            }
            Some(b'{') => return p.skip(),
            Some(b'"') => Scalar::Str(p.string()?),
            Some(b't' | b'f') => Scalar::Bool(p.bool()?),
            Some(b'n') if p.null() => Scalar::Null,
            _ => Scalar::Num(p.f64()?),
        };
        self.scalars.push((k.to_owned(), v));
        Ok(())
    }

    fn wrong(&mut self, what: &'static str) {
        self.bad.get_or_insert(what);
    }

    #[inline(never)]
    fn take(&mut self, k: &str) -> Option<Scalar> {
        let i = self.scalars.iter().rposition(|(n, _)| n == k)?;
        Some(self.scalars.swap_remove(i).1)
    }

    #[inline(never)]
    fn f64(&mut self, k: &str) -> f64 {
        match self.take(k) {
            None | Some(Scalar::Null) => 0.0,
            Some(Scalar::Num(v)) => v,
            Some(_) => {
                self.wrong("expected a number");
                0.0
            }
        }
    }

    #[inline(never)]
    fn opt_f64(&mut self, k: &str) -> Option<f64> {
        match self.take(k) {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Num(v)) => Some(v),
            Some(_) => {
                self.wrong("expected a number");
                None
            }
        }
    }

    #[inline(never)]
    fn pairs(&mut self, k: &str) -> Vec<(String, String)> {
        match self.pairs.iter().rposition(|(n, _)| n == k) {
            Some(i) => self.pairs.swap_remove(i).1,
            None => Vec::new(),
        }
    }

    #[inline(never)]
    fn opt_u32(&mut self, k: &str) -> Option<u32> {
        let n = match self.take(k) {
            None | Some(Scalar::Null) => return None,
            Some(Scalar::Num(v)) => whole_u32(v),
            Some(_) => None,
        };
        if n.is_none() {
            self.wrong("expected a whole number (u32)");
        }
        n
    }

    #[inline(never)]
    fn u32(&mut self, k: &str) -> u32 {
        self.opt_u32(k).unwrap_or(0)
    }

    #[inline(never)]
    fn opt_string(&mut self, k: &str) -> Option<String> {
        match self.take(k) {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Str(s)) => Some(s),
            Some(_) => {
                self.wrong("expected a string");
                None
            }
        }
    }

    #[inline(never)]
    fn string(&mut self, k: &str) -> String {
        self.opt_string(k).unwrap_or_default()
    }

    #[inline(never)]
    fn opt_bool(&mut self, k: &str) -> Option<bool> {
        match self.take(k) {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Bool(b)) => Some(b),
            Some(_) => {
                self.wrong("expected true or false");
                None
            }
        }
    }

    #[inline(never)]
    fn bool(&mut self, k: &str) -> bool {
        self.opt_bool(k).unwrap_or(false)
    }

    #[inline(never)]
    fn label(&mut self) -> RawLabel {
        RawLabel {
            text: self.opt_string("lab"),
            masked: self.f64("lm") != 0.0,
            selector: self.opt_string("sel"),
        }
    }

    #[inline(never)]
    fn ints(&mut self, k: &str) -> Vec<u32> {
        match self.ints.iter().rposition(|(n, _)| n == k) {
            Some(i) => self.ints.swap_remove(i).1,
            None => Vec::new(),
        }
    }
}

impl RawNode {
    fn parse(p: &mut Parser) -> Res<RawNode> {
        let mut n = RawNode {
            id: 0,
            p: 0,
            k: 0,
            tag: String::new(),
            ns: None,
            a: Vec::new(),
            x: None,
            pub_id: None,
            sys_id: None,
            m: 0,
            v: None,
            c: None,
            ac: None,
            css: None,
            bw: 0.0,
            bh: 0.0,
        };
        p.object(|p, k| {
            match k {
                "id" => n.id = p.u32()?,
                "p" => n.p = p.u32()?,
                "k" => n.k = p.u32()?.min(255) as u8,
                "tag" => n.tag = p.string()?,
                "ns" => n.ns = p.opt_string()?,
                "a" => n.a = pairs_str(p)?,
                "x" => n.x = p.opt_string()?,
                "pub_id" => n.pub_id = p.opt_string()?,
                "sys_id" => n.sys_id = p.opt_string()?,
                "m" => n.m = p.u32()?,
                "v" => n.v = p.opt_string()?,
                "c" => n.c = p.opt_bool()?,
                "ac" => n.ac = p.opt_string()?,
                "css" => n.css = p.opt_string()?,
                "bw" => n.bw = p.f64()?,
                "bh" => n.bh = p.f64()?,
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(n)
    }
}

impl RawAdd {
    fn parse(p: &mut Parser) -> Res<RawAdd> {
        let mut a = RawAdd {
            p: 0,
            n: 0,
            nodes: Vec::new(),
        };
        p.object(|p, k| {
            match k {
                "p" => a.p = p.u32()?,
                "n" => a.n = p.u32()?,
                "nodes" => a.nodes = list(p, RawNode::parse)?,
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(a)
    }
}

impl RawAttr {
    fn parse(p: &mut Parser) -> Res<RawAttr> {
        let mut a = RawAttr {
            id: 0,
            name: String::new(),
            v: None,
            m: 0,
            tag: String::new(),
            ty: String::new(),
            ac: String::new(),
        };
        p.object(|p, k| {
            match k {
                "id" => a.id = p.u32()?,
                "name" => a.name = p.string()?,
                "v" => a.v = p.opt_string()?,
                "m" => a.m = p.u32()?,
                "tag" => a.tag = p.string()?,
                "type" => a.ty = p.string()?,
                "ac" => a.ac = p.string()?,
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(a)
    }
}

impl RawText {
    fn parse(p: &mut Parser) -> Res<RawText> {
        let mut t = RawText {
            id: 0,
            v: String::new(),
            m: 0,
        };
        p.object(|p, k| {
            match k {
                "id" => t.id = p.u32()?,
                "v" => t.v = p.string()?,
                "m" => t.m = p.u32()?,
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_every_field_whatever_the_key_order() {
        let raws = parse_batch(
            r#"[{"t":5,"x":1.5,"k":"mouse","kind":"click","id":7,"y":-2,"extra":{"a":[1,2]}},
                {"k":"input","t":6,"id":3,"tag":"input","type":"password","ac":"","m":8,"v":"s\u00e9cret","c":null},
                {"k":"mut","t":7,"rem":[4],"add":[{"p":1,"n":0,"nodes":[{"id":9,"p":1,"k":1,"tag":"b","a":[["class","x"]]}]}],
                 "attr":[{"id":2,"name":"value","v":null,"type":"text"}],"text":[{"id":5,"v":"hi","m":1}]},
                {"k":"move","t":8,"pos":[[1,2,3],[4,5,6]]}]"#,
        )
        .unwrap();
        assert_eq!(raws.len(), 4);
        match &raws[0] {
            RawEvent::Mouse {
                t, kind, id, x, y, ..
            } => {
                assert_eq!(
                    (*t, kind.as_str(), *id, *x, *y),
                    (5.0, "click", 7, 1.5, -2.0)
                )
            }
            other => panic!("{other:?}"),
        }
        match &raws[1] {
            RawEvent::Input { id, field, .. } => {
                assert_eq!((*id, field.ty.as_str(), field.m), (3, "password", 8));
                assert_eq!(field.v.as_deref(), Some("sécret"));
                assert_eq!(field.c, None);
            }
            other => panic!("{other:?}"),
        }
        match &raws[2] {
            RawEvent::Mutation {
                rem,
                add,
                attr,
                text,
                ..
            } => {
                assert_eq!(rem, &[4]);
                assert_eq!(add[0].nodes[0].a, vec![("class".into(), "x".into())]);
                assert_eq!((attr[0].v.as_deref(), attr[0].ty.as_str()), (None, "text"));
                assert_eq!((text[0].v.as_str(), text[0].m), ("hi", 1));
            }
            other => panic!("{other:?}"),
        }
        match &raws[3] {
            RawEvent::MouseMove { pos, .. } => assert_eq!(pos, &[(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_request_reads_every_field() {
        let raws = parse_batch(
            r#"[{"k":"net","t":9,"kind":"fetch","method":"POST","url":"https://a.example/x?q=1",
                "st":201,"dur":12.5,"qb":3,"sb":null,"fail":null,"qa":["q"],
                "rqh":[["content-type","application/json"]],"rsh":[],"rqb":"{}","rst":"text/plain"}]"#,
        )
        .unwrap();
        match &raws[0] {
            RawEvent::Network(n) => {
                assert_eq!(
                    (n.kind.as_str(), n.method.as_str(), n.status),
                    ("fetch", "POST", 201.0)
                );
                assert_eq!((n.req_bytes, n.res_bytes, n.dur), (Some(3.0), None, 12.5));
                assert_eq!(n.query_allow, vec!["q".to_string()]);
                assert_eq!(
                    n.req_headers,
                    vec![("content-type".into(), "application/json".into())]
                );
                assert!(n.res_headers.is_empty());
                assert_eq!(
                    (n.req_body.as_deref(), n.res_body.as_deref()),
                    (Some("{}"), None)
                );
                assert_eq!(
                    (n.req_type.as_str(), n.res_type.as_str()),
                    ("", "text/plain")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_batch_with_an_unknown_kind_or_a_wrong_type_is_refused() {
        assert!(parse_batch(r#"[{"k":"nope","t":1}]"#).is_err());
        assert!(parse_batch(r#"[{"t":1}]"#).is_err());
        assert!(parse_batch(r#"[{"k":"scroll","t":1,"id":"x"}]"#).is_err());
        assert!(parse_batch(r#"[{"k":"scroll","t":1,"id":-1}]"#).is_err());
    }

    #[test]
    fn no_prefix_of_a_batch_panics() {
        let batch = r#"[{"k":"snap","t":1,"sx":0,"sy":0,"nodes":[{"id":1,"p":0,"k":9},{"id":2,"p":1,"k":3,"x":"\ud83d\ude00 \"q\""}]},{"k":"vp","t":2,"w":10,"h":20}]"#;
        assert_eq!(parse_batch(batch).map(|v| v.len()), Ok(2));
        for end in 0..batch.len() {
            if batch.is_char_boundary(end) {
                assert!(parse_batch(&batch[..end]).is_err());
            }
        }
    }
}
