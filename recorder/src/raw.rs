//! What the page-side capture layer (`js/reel.js`) hands to Rust.
//!
//! The capture layer walks the DOM and listens to the page in JavaScript,
//! where each DOM access is cheap, and sends its findings across the wasm
//! boundary once per batch as JSON. Values arrive unmasked, with the
//! context bits ([`flags`]) that the masking rules in [`crate::mask`] need;
//! nothing leaves the browser before those rules have run.

use crate::json::{JsonError, Parser};

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
    },
    Scroll {
        t: f64,
        id: u32,
        x: f64,
        y: f64,
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

fn pairs_f64(p: &mut Parser) -> Res<Vec<(f64, f64)>> {
    Ok(triples(p)?.into_iter().map(|(a, b, _)| (a, b)).collect())
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
    /// One event. Every field may be absent (it then reads as zero or
    /// empty): the capture layer is our own script, and a half-filled event
    /// is better recorded than a whole batch refused.
    fn parse(p: &mut Parser) -> Res<RawEvent> {
        let kind = p.tag("k")?;
        let mut t = 0.0;
        // Read `t` and the kind-specific fields in one pass.
        macro_rules! fields {
            ($($key:literal => $read:expr),* $(,)?) => {
                p.object(|p, k| {
                    match k {
                        "t" => t = p.f64()?,
                        $($key => $read(p)?,)*
                        _ => p.skip()?,
                    }
                    Ok(())
                })?
            };
        }
        Ok(match kind.as_str() {
            "meta" => {
                let (mut href, mut title, mut w, mut h, mut ua) =
                    (String::new(), String::new(), 0, 0, String::new());
                fields! {
                    "href" => |p: &mut Parser| p.string().map(|v| href = v),
                    "title" => |p: &mut Parser| p.string().map(|v| title = v),
                    "w" => |p: &mut Parser| p.u32().map(|v| w = v),
                    "h" => |p: &mut Parser| p.u32().map(|v| h = v),
                    "ua" => |p: &mut Parser| p.string().map(|v| ua = v),
                }
                RawEvent::Meta {
                    t,
                    href,
                    title,
                    w,
                    h,
                    ua,
                }
            }
            "snap" => {
                let (mut nodes, mut sx, mut sy) = (Vec::new(), 0.0, 0.0);
                fields! {
                    "nodes" => |p: &mut Parser| list(p, RawNode::parse).map(|v| nodes = v),
                    "sx" => |p: &mut Parser| p.f64().map(|v| sx = v),
                    "sy" => |p: &mut Parser| p.f64().map(|v| sy = v),
                }
                RawEvent::Snapshot { t, nodes, sx, sy }
            }
            "snap-part" => {
                let mut nodes = Vec::new();
                fields! {
                    "nodes" => |p: &mut Parser| list(p, RawNode::parse).map(|v| nodes = v),
                }
                RawEvent::SnapshotPart { nodes }
            }
            "mut" => {
                let (mut rem, mut add, mut attr, mut text) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                fields! {
                    "rem" => |p: &mut Parser| p.u32s().map(|v| rem = v),
                    "add" => |p: &mut Parser| list(p, RawAdd::parse).map(|v| add = v),
                    "attr" => |p: &mut Parser| list(p, RawAttr::parse).map(|v| attr = v),
                    "text" => |p: &mut Parser| list(p, RawText::parse).map(|v| text = v),
                }
                RawEvent::Mutation {
                    t,
                    rem,
                    add,
                    attr,
                    text,
                }
            }
            "move" => {
                let mut pos = Vec::new();
                fields! { "pos" => |p: &mut Parser| triples(p).map(|v| pos = v) }
                RawEvent::MouseMove { t, pos }
            }
            "mouse" => {
                let (mut kind, mut id, mut x, mut y) = (String::new(), 0, 0.0, 0.0);
                fields! {
                    "kind" => |p: &mut Parser| p.string().map(|v| kind = v),
                    "id" => |p: &mut Parser| p.u32().map(|v| id = v),
                    "x" => |p: &mut Parser| p.f64().map(|v| x = v),
                    "y" => |p: &mut Parser| p.f64().map(|v| y = v),
                }
                RawEvent::Mouse { t, kind, id, x, y }
            }
            "scroll" => {
                let (mut id, mut x, mut y) = (0, 0.0, 0.0);
                fields! {
                    "id" => |p: &mut Parser| p.u32().map(|v| id = v),
                    "x" => |p: &mut Parser| p.f64().map(|v| x = v),
                    "y" => |p: &mut Parser| p.f64().map(|v| y = v),
                }
                RawEvent::Scroll { t, id, x, y }
            }
            "vp" => {
                let (mut w, mut h) = (0, 0);
                fields! {
                    "w" => |p: &mut Parser| p.u32().map(|v| w = v),
                    "h" => |p: &mut Parser| p.u32().map(|v| h = v),
                }
                RawEvent::Viewport { t, w, h }
            }
            "input" => {
                let mut id = 0;
                let mut field = RawField::default();
                p.object(|p, k| {
                    match k {
                        "t" => t = p.f64()?,
                        "id" => id = p.u32()?,
                        _ => field.read(p, k)?,
                    }
                    Ok(())
                })?;
                RawEvent::Input { t, id, field }
            }
            "custom" => {
                let (mut name, mut data) = (String::new(), None);
                fields! {
                    "name" => |p: &mut Parser| p.string().map(|v| name = v),
                    "data" => |p: &mut Parser| p.opt_string().map(|v| data = v),
                }
                RawEvent::Custom { t, name, data }
            }
            "identify" => {
                let (mut user, mut traits) = (String::new(), None);
                fields! {
                    "user" => |p: &mut Parser| p.string().map(|v| user = v),
                    "traits" => |p: &mut Parser| p.opt_string().map(|v| traits = v),
                }
                RawEvent::Identify { t, user, traits }
            }
            "console" => {
                let (mut level, mut text) = (String::new(), String::new());
                fields! {
                    "level" => |p: &mut Parser| p.string().map(|v| level = v),
                    "text" => |p: &mut Parser| p.string().map(|v| text = v),
                }
                RawEvent::Console { t, level, text }
            }
            "err" => {
                let (mut kind, mut msg, mut src, mut stack) =
                    (String::new(), String::new(), None, None);
                fields! {
                    "kind" => |p: &mut Parser| p.string().map(|v| kind = v),
                    "msg" => |p: &mut Parser| p.string().map(|v| msg = v),
                    "src" => |p: &mut Parser| p.opt_string().map(|v| src = v),
                    "stack" => |p: &mut Parser| p.opt_string().map(|v| stack = v),
                }
                RawEvent::Error {
                    t,
                    kind,
                    msg,
                    src,
                    stack,
                }
            }
            "sheet" => {
                let (mut node, mut cs, mut op, mut path, mut i, mut rule, mut text) = (
                    None,
                    None,
                    String::new(),
                    Vec::new(),
                    0,
                    String::new(),
                    String::new(),
                );
                fields! {
                    "node" => |p: &mut Parser| p.opt_u32().map(|v| node = v),
                    "cs" => |p: &mut Parser| p.opt_u32().map(|v| cs = v),
                    "op" => |p: &mut Parser| p.string().map(|v| op = v),
                    "path" => |p: &mut Parser| p.u32s().map(|v| path = v),
                    "i" => |p: &mut Parser| p.u32().map(|v| i = v),
                    "rule" => |p: &mut Parser| p.string().map(|v| rule = v),
                    "text" => |p: &mut Parser| p.string().map(|v| text = v),
                }
                RawEvent::Sheet {
                    t,
                    node,
                    cs,
                    op,
                    path,
                    i,
                    rule,
                    text,
                }
            }
            "adopt" => {
                let (mut root, mut sheets) = (0, Vec::new());
                fields! {
                    "root" => |p: &mut Parser| p.u32().map(|v| root = v),
                    "sheets" => |p: &mut Parser| p.u32s().map(|v| sheets = v),
                }
                RawEvent::Adopt { t, root, sheets }
            }
            "media" => {
                let (mut id, mut a, mut time, mut rate, mut muted, mut vol) =
                    (0, String::new(), 0.0, 0.0, false, 0.0);
                fields! {
                    "id" => |p: &mut Parser| p.u32().map(|v| id = v),
                    "a" => |p: &mut Parser| p.string().map(|v| a = v),
                    "time" => |p: &mut Parser| p.f64().map(|v| time = v),
                    "rate" => |p: &mut Parser| p.f64().map(|v| rate = v),
                    "muted" => |p: &mut Parser| p.bool().map(|v| muted = v),
                    "vol" => |p: &mut Parser| p.f64().map(|v| vol = v),
                }
                RawEvent::Media {
                    t,
                    id,
                    a,
                    time,
                    rate,
                    muted,
                    vol,
                }
            }
            "canvas" => {
                let (mut id, mut url) = (0, String::new());
                fields! {
                    "id" => |p: &mut Parser| p.u32().map(|v| id = v),
                    "url" => |p: &mut Parser| p.string().map(|v| url = v),
                }
                RawEvent::Canvas { t, id, url }
            }
            "focus" => {
                let (mut id, mut f) = (0, false);
                fields! {
                    "id" => |p: &mut Parser| p.u32().map(|v| id = v),
                    "f" => |p: &mut Parser| p.bool().map(|v| f = v),
                }
                RawEvent::Focus { t, id, f }
            }
            "sel" => {
                let (mut a, mut ao, mut f, mut fo) = (0, 0, 0, 0);
                fields! {
                    "a" => |p: &mut Parser| p.u32().map(|v| a = v),
                    "ao" => |p: &mut Parser| p.u32().map(|v| ao = v),
                    "f" => |p: &mut Parser| p.u32().map(|v| f = v),
                    "fo" => |p: &mut Parser| p.u32().map(|v| fo = v),
                }
                RawEvent::Selection { t, a, ao, f, fo }
            }
            "vis" => {
                let mut v = false;
                fields! { "v" => |p: &mut Parser| p.bool().map(|x| v = x) }
                RawEvent::Visibility { t, v }
            }
            "touch" => {
                let (mut kind, mut pts) = (String::new(), Vec::new());
                fields! {
                    "kind" => |p: &mut Parser| p.string().map(|v| kind = v),
                    "pts" => |p: &mut Parser| pairs_f64(p).map(|v| pts = v),
                }
                RawEvent::Touch { t, kind, pts }
            }
            _ => return p.error("unknown event kind"),
        })
    }
}

impl RawField {
    /// Reads one of the field-description keys (shared by `input` events
    /// and attribute changes); skips any other.
    fn read(&mut self, p: &mut Parser, key: &str) -> Res<()> {
        match key {
            "tag" => self.tag = p.string()?,
            "type" => self.ty = p.string()?,
            "ac" => self.ac = p.string()?,
            "m" => self.m = p.u32()?,
            "v" => self.v = p.opt_string()?,
            "c" => self.c = p.opt_bool()?,
            _ => p.skip()?,
        }
        Ok(())
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
            RawEvent::Mouse { t, kind, id, x, y } => {
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
