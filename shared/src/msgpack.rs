//! The MessagePack writer for the event model, by hand.
//!
//! Why not `rmp_serde::to_vec`: the recorder is downloaded by every page
//! that embeds it, and serde's generic serializer plus rmp-serde cost it
//! tens of kilobytes of wasm for what is a fixed, small model. This writer
//! produces byte for byte what `rmp_serde::to_vec` produces for the same
//! value once its node ids are made relative ([`crate::node::ids_to_wire`];
//! rmp-serde's default configuration: structs as arrays, enum variants by
//! name, integers in their shortest form), so a decoder that reads with
//! serde (rmp-serde) and ours ([`crate::msgpack_read`]) read it alike;
//! `shared/tests/chunk_props.rs` checks the equality on arbitrary events.
//!
//! Invariant: when a type in `event.rs` or `node.rs` changes, this file
//! changes with it (the property test fails until it does).

use crate::chunk::{ChunkHeader, ChunkStats};
use crate::event::*;
use crate::node::{Element, FieldValue, FlatNode, Namespace, NodeKind};

/// Appends `e` as `rmp_serde::encode::write` would.
pub fn write_event(out: &mut Vec<u8>, e: &Event) {
    array(out, 2);
    uint(out, e.t);
    write_data(out, &e.data);
}

/// Appends a chunk header as `rmp_serde::to_vec` would.
pub fn write_header(out: &mut Vec<u8>, h: &ChunkHeader) {
    array(out, 6);
    // SessionId serialises through `collect_str`: its hex form.
    let mut hex = [0u8; 32];
    for (i, b) in h.session.as_bytes().iter().enumerate() {
        hex[2 * i] = HEX[(b >> 4) as usize];
        hex[2 * i + 1] = HEX[(b & 15) as usize];
    }
    str_bytes(out, &hex);
    uint(out, h.seq.into());
    uint(out, h.t_start);
    uint(out, h.t_end);
    uint(out, h.event_count.into());
    stats(out, &h.stats);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn stats(out: &mut Vec<u8>, s: &ChunkStats) {
    array(out, 5);
    uint(out, s.clicks.into());
    uint(out, s.errors.into());
    array(out, s.urls.len());
    for u in &s.urls {
        string(out, u);
    }
    opt_str(out, s.user_id.as_deref());
    opt_str(out, s.user_agent.as_deref());
}

fn write_data(out: &mut Vec<u8>, d: &EventData) {
    match d {
        EventData::Meta(m) => {
            variant(out, "Meta");
            array(out, 8);
            string(out, &m.href);
            string(out, &m.title);
            uint(out, m.width.into());
            uint(out, m.height.into());
            string(out, &m.user_agent);
            opt_str(out, m.referrer.as_deref());
            opt_str(out, m.visitor_id.as_deref());
            opt_bool(out, m.new_visitor);
        }
        EventData::FullSnapshot(s) => {
            variant(out, "FullSnapshot");
            array(out, 3);
            nodes(out, &s.nodes);
            sint(out, s.scroll_x.into());
            sint(out, s.scroll_y.into());
        }
        EventData::Mutation(m) => {
            variant(out, "Mutation");
            array(out, 4);
            array(out, m.removes.len());
            for &id in &m.removes {
                uint(out, id.into());
            }
            array(out, m.adds.len());
            for a in &m.adds {
                array(out, 3);
                uint(out, a.parent.into());
                uint(out, a.next.into());
                nodes(out, &a.nodes);
            }
            array(out, m.attrs.len());
            for a in &m.attrs {
                array(out, 3);
                uint(out, a.id.into());
                string(out, &a.name);
                opt_str(out, a.value.as_deref());
            }
            array(out, m.texts.len());
            for t in &m.texts {
                array(out, 2);
                uint(out, t.id.into());
                string(out, &t.text);
            }
        }
        EventData::MouseMove(ps) => {
            variant(out, "MouseMove");
            array(out, ps.len());
            for p in ps {
                array(out, 3);
                sint(out, p.x.into());
                sint(out, p.y.into());
                uint(out, p.dt.into());
            }
        }
        EventData::Mouse(m) => {
            variant(out, "Mouse");
            array(out, 8);
            string(
                out,
                match m.kind {
                    MouseKind::Down => "Down",
                    MouseKind::Up => "Up",
                    MouseKind::Click => "Click",
                    MouseKind::DblClick => "DblClick",
                    MouseKind::ContextMenu => "ContextMenu",
                },
            );
            uint(out, m.id.into());
            sint(out, m.x.into());
            sint(out, m.y.into());
            opt_str(out, m.label.as_deref());
            opt_str(out, m.selector.as_deref());
            opt_uint(out, m.box_x.map(u64::from));
            opt_uint(out, m.box_y.map(u64::from));
        }
        EventData::Scroll(s) => {
            variant(out, "Scroll");
            array(out, 4);
            uint(out, s.id.into());
            sint(out, s.x.into());
            sint(out, s.y.into());
            opt_uint(out, s.depth.map(u64::from));
        }
        EventData::Viewport(v) => {
            variant(out, "Viewport");
            array(out, 2);
            uint(out, v.width.into());
            uint(out, v.height.into());
        }
        EventData::Input(i) => {
            variant(out, "Input");
            array(out, 5);
            uint(out, i.id.into());
            match &i.value {
                None => nil(out),
                Some(v) => field_value(out, v),
            }
            opt_bool(out, i.checked);
            opt_str(out, i.label.as_deref());
            opt_str(out, i.selector.as_deref());
        }
        EventData::Custom(c) => {
            variant(out, "Custom");
            array(out, 2);
            string(out, &c.name);
            opt_str(out, c.data.as_deref());
        }
        EventData::Identify(i) => {
            variant(out, "Identify");
            array(out, 2);
            string(out, &i.user_id);
            opt_str(out, i.traits.as_deref());
        }
        EventData::Console(c) => {
            variant(out, "Console");
            array(out, 2);
            string(
                out,
                match c.level {
                    ConsoleLevel::Debug => "Debug",
                    ConsoleLevel::Log => "Log",
                    ConsoleLevel::Info => "Info",
                    ConsoleLevel::Warn => "Warn",
                    ConsoleLevel::Error => "Error",
                },
            );
            string(out, &c.text);
        }
        EventData::PageError(p) => {
            variant(out, "PageError");
            array(out, 4);
            string(
                out,
                match p.kind {
                    PageErrorKind::Uncaught => "Uncaught",
                    PageErrorKind::UnhandledRejection => "UnhandledRejection",
                },
            );
            string(out, &p.message);
            opt_str(out, p.source.as_deref());
            opt_str(out, p.stack.as_deref());
        }
        EventData::StyleSheet(s) => {
            variant(out, "StyleSheet");
            array(out, 2);
            match s.sheet {
                SheetRef::Node(id) => {
                    variant(out, "Node");
                    uint(out, id.into());
                }
                SheetRef::Constructed(n) => {
                    variant(out, "Constructed");
                    uint(out, n.into());
                }
            }
            match &s.op {
                SheetOp::Insert { path, index, rule } => {
                    variant(out, "Insert");
                    array(out, 3);
                    u32s(out, path);
                    uint(out, (*index).into());
                    string(out, rule);
                }
                SheetOp::Delete { path, index } => {
                    variant(out, "Delete");
                    array(out, 2);
                    u32s(out, path);
                    uint(out, (*index).into());
                }
                SheetOp::Replace { text } => {
                    variant(out, "Replace");
                    array(out, 1);
                    string(out, text);
                }
            }
        }
        EventData::AdoptedStyleSheets(a) => {
            variant(out, "AdoptedStyleSheets");
            array(out, 2);
            uint(out, a.root.into());
            u32s(out, &a.sheets);
        }
        EventData::Media(m) => {
            variant(out, "Media");
            array(out, 6);
            uint(out, m.id.into());
            string(
                out,
                match m.action {
                    MediaAction::Play => "Play",
                    MediaAction::Pause => "Pause",
                    MediaAction::Seek => "Seek",
                    MediaAction::RateChange => "RateChange",
                    MediaAction::VolumeChange => "VolumeChange",
                },
            );
            f64_(out, m.time);
            f64_(out, m.rate);
            bool_(out, m.muted);
            f64_(out, m.volume);
        }
        EventData::Canvas(c) => {
            variant(out, "Canvas");
            array(out, 2);
            uint(out, c.id.into());
            string(out, &c.data_url);
        }
        EventData::Focus(f) => {
            variant(out, "Focus");
            array(out, 2);
            uint(out, f.id.into());
            bool_(out, f.focused);
        }
        EventData::Selection(s) => {
            variant(out, "Selection");
            array(out, 4);
            uint(out, s.anchor.into());
            uint(out, s.anchor_offset.into());
            uint(out, s.focus.into());
            uint(out, s.focus_offset.into());
        }
        EventData::Visibility(v) => {
            variant(out, "Visibility");
            array(out, 1);
            bool_(out, v.visible);
        }
        EventData::Touch(t) => {
            variant(out, "Touch");
            array(out, 2);
            string(
                out,
                match t.kind {
                    TouchKind::Start => "Start",
                    TouchKind::Move => "Move",
                    TouchKind::End => "End",
                    TouchKind::Cancel => "Cancel",
                },
            );
            array(out, t.points.len());
            for &(x, y) in &t.points {
                array(out, 2);
                sint(out, x.into());
                sint(out, y.into());
            }
        }
        EventData::Dropped(d) => {
            variant(out, "Dropped");
            array(out, 2);
            uint(out, d.chunks.into());
            uint(out, d.bytes);
        }
        EventData::Network(n) => {
            variant(out, "Network");
            array(out, 12);
            string(
                out,
                match n.kind {
                    NetworkKind::Fetch => "Fetch",
                    NetworkKind::Xhr => "Xhr",
                    NetworkKind::Beacon => "Beacon",
                },
            );
            string(out, &n.method);
            string(out, &n.url);
            uint(out, n.status.into());
            uint(out, n.duration_ms.into());
            opt_uint(out, n.request_bytes);
            opt_uint(out, n.response_bytes);
            opt_str(out, n.failure.as_deref());
            headers(out, &n.request_headers);
            headers(out, &n.response_headers);
            opt_str(out, n.request_body.as_deref());
            opt_str(out, n.response_body.as_deref());
        }
        EventData::Key(k) => {
            variant(out, "Key");
            array(out, 4);
            uint(out, k.id.into());
            string(out, &k.key);
            opt_str(out, k.label.as_deref());
            opt_str(out, k.selector.as_deref());
        }
        EventData::Signal(g) => {
            variant(out, "Signal");
            array(out, 8);
            string(
                out,
                match g.kind {
                    SignalKind::RageClick => "RageClick",
                    SignalKind::DeadClick => "DeadClick",
                    SignalKind::ErrorClick => "ErrorClick",
                    SignalKind::ThrashedCursor => "ThrashedCursor",
                    SignalKind::UTurn => "UTurn",
                },
            );
            uint(out, g.since);
            uint(out, g.id.into());
            sint(out, g.x.into());
            sint(out, g.y.into());
            uint(out, g.count.into());
            opt_str(out, g.label.as_deref());
            opt_str(out, g.selector.as_deref());
        }
        EventData::Animation(a) => {
            variant(out, "Animation");
            array(out, 5);
            uint(out, a.id.into());
            string(out, &a.name);
            opt_str(out, a.pseudo.as_deref());
            f64_(out, a.time);
            bool_(out, a.paused);
        }
        EventData::Popover(p) => {
            variant(out, "Popover");
            array(out, 2);
            uint(out, p.id.into());
            bool_(out, p.open);
        }
        EventData::FrameEvents(f) => {
            variant(out, "FrameEvents");
            array(out, 3);
            uint(out, f.frame.into());
            uint(out, f.base.into());
            bin(out, &f.chunk);
        }
    }
}

/// `bin 8/16/32`, as rmp-serde writes `serialize_bytes`.
fn bin(out: &mut Vec<u8>, b: &[u8]) {
    sized(out, b, 0xc4);
}

/// A node list, with its ids relative as format 2 sends them
/// ([`crate::node::ids_to_wire`]).
fn nodes(out: &mut Vec<u8>, nodes: &[FlatNode]) {
    array(out, nodes.len());
    let mut prev = 0u32;
    for n in nodes {
        array(out, 3);
        uint(out, n.id.wrapping_sub(prev).into());
        uint(out, n.id.wrapping_sub(n.parent).into());
        prev = n.id;
        node_kind(out, &n.kind);
    }
}

fn node_kind(out: &mut Vec<u8>, k: &NodeKind) {
    match k {
        NodeKind::Document => string(out, "Document"),
        NodeKind::Doctype {
            name,
            public_id,
            system_id,
        } => {
            variant(out, "Doctype");
            array(out, 3);
            string(out, name);
            string(out, public_id);
            string(out, system_id);
        }
        NodeKind::Element(e) => {
            variant(out, "Element");
            element(out, e);
        }
        NodeKind::Text(s) => {
            variant(out, "Text");
            string(out, s);
        }
        NodeKind::Comment(s) => {
            variant(out, "Comment");
            string(out, s);
        }
        NodeKind::CData(s) => {
            variant(out, "CData");
            string(out, s);
        }
        NodeKind::Blocked {
            tag,
            ns,
            width,
            height,
        } => {
            variant(out, "Blocked");
            array(out, 4);
            string(out, tag);
            namespace(out, *ns);
            uint(out, (*width).into());
            uint(out, (*height).into());
        }
        NodeKind::ShadowRoot => string(out, "ShadowRoot"),
    }
}

fn element(out: &mut Vec<u8>, e: &Element) {
    array(out, 6);
    string(out, &e.tag);
    namespace(out, e.ns);
    array(out, e.attrs.len());
    for (k, v) in &e.attrs {
        array(out, 2);
        string(out, k);
        string(out, v);
    }
    match &e.value {
        None => nil(out),
        Some(v) => field_value(out, v),
    }
    opt_bool(out, e.checked);
    opt_str(out, e.stylesheet.as_deref());
}

fn namespace(out: &mut Vec<u8>, ns: Namespace) {
    string(
        out,
        match ns {
            Namespace::Html => "Html",
            Namespace::Svg => "Svg",
            Namespace::MathMl => "MathMl",
        },
    );
}

fn field_value(out: &mut Vec<u8>, v: &FieldValue) {
    match v {
        FieldValue::Text(s) => {
            variant(out, "Text");
            string(out, s);
        }
        FieldValue::Masked => string(out, "Masked"),
    }
}

/// A newtype, tuple or struct variant: a one-entry map from its name.
fn variant(out: &mut Vec<u8>, name: &str) {
    out.push(0x81);
    string(out, name);
}

fn u32s(out: &mut Vec<u8>, v: &[u32]) {
    array(out, v.len());
    for &n in v {
        uint(out, n.into());
    }
}

fn array(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=15 => out.push(0x90 | len as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// A MessagePack array header for `len` items, as [`write_event`] writes
/// them (the chunk body's outer array).
pub fn array_header(out: &mut Vec<u8>, len: usize) {
    array(out, len)
}

fn uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v < 256 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v < 65536 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v < 1 << 32 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn sint(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= -128 {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn f64_(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_be_bytes());
}

fn bool_(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

fn nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

fn opt_bool(out: &mut Vec<u8>, v: Option<bool>) {
    match v {
        None => nil(out),
        Some(b) => bool_(out, b),
    }
}

fn opt_uint(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => nil(out),
        Some(n) => uint(out, n),
    }
}

/// `(name, value)` pairs: an array of two-element arrays.
fn headers(out: &mut Vec<u8>, v: &[(String, String)]) {
    array(out, v.len());
    for (k, x) in v {
        array(out, 2);
        string(out, k);
        string(out, x);
    }
}

fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => nil(out),
        Some(s) => string(out, s),
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    str_bytes(out, s.as_bytes())
}

fn str_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() < 32 {
        out.push(0xa0 | b.len() as u8);
        out.extend_from_slice(b);
    } else {
        sized(out, b, 0xd9);
    }
}

/// `b` after its length, as the 8-, 16- or 32-bit form whose markers are
/// `m`, `m + 1`, `m + 2` (str: 0xd9, bin: 0xc4).
fn sized(out: &mut Vec<u8>, b: &[u8], m: u8) {
    let len = b.len();
    if len < 256 {
        out.extend_from_slice(&[m, len as u8]);
    } else if len < 65536 {
        out.push(m + 1);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m + 2);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}
