//! The MessagePack reader for the event model, by hand: the mirror of
//! [`crate::msgpack`]'s writer.
//!
//! Why not `rmp_serde::from_slice`: the player is downloaded by everyone
//! who watches a replay, and serde's generic deserializer, instantiated
//! for every type of the model by rmp-serde, was three quarters of the
//! player's wasm (~750 KB of 1.26 MB before wasm-opt). This reader is a
//! few kilobytes, and faster.
//!
//! It reads what the writer and `rmp_serde::to_vec` write (structs as
//! arrays of their fields, enum variants by name: a unit variant as its
//! name, any other as a one-entry map from its name to its content), with
//! rmp-serde's leniencies where they are cheap: an integer in any width
//! that holds the value, an `f64` written as an `f32` or an integer, and
//! a struct written before its trailing `#[serde(default)]` fields were
//! appended (the positional compatibility rule of [`crate::event`]),
//! which decodes with their defaults. Whatever it accepts, rmp-serde
//! decodes to the same value (`shared/tests/chunk_props.rs` checks both
//! that and the agreement on everything rmp-serde writes); a struct with
//! more fields than the model knows is refused, as rmp-serde refuses it.
//!
//! Input is untrusted: nothing here panics, the nesting it follows is the
//! model's (fixed, a handful of levels: it never recurses on the input),
//! and a length is checked against the bytes that remain before anything
//! is allocated for it (every element takes at least one byte), so what
//! it allocates is bounded by a small multiple of its input.
//!
//! Invariant: when a type in `event.rs` or `node.rs` changes, this file
//! changes with it, like the writer (the property tests fail until it does).

use crate::chunk::{ChunkHeader, ChunkStats};
use crate::event::*;
use crate::ids::SessionId;
use crate::node::{Element, FieldValue, FlatNode, Namespace, NodeKind};

/// Why the bytes are not the value they should be, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct ReadError {
    /// Offset of the value that could not be read.
    pub at: usize,
    pub what: &'static str,
}

type Result<T> = std::result::Result<T, ReadError>;

/// At most this many elements are reserved ahead of a container; a longer
/// one grows as its elements are read, so a length that lies costs only
/// the elements that are really there.
const RESERVE_MAX: usize = 1024;

/// A cursor over MessagePack bytes.
pub struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

/// An enum variant's name, and whether content follows it.
enum Variant<'a> {
    /// Written as its name alone.
    Unit(&'a str),
    /// A one-entry map from its name: the content is next.
    Data(&'a str),
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }

    fn err_at<T>(&self, at: usize, what: &'static str) -> Result<T> {
        Err(ReadError { at, what })
    }

    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        match self.b.get(self.pos) {
            Some(&m) => {
                self.pos += 1;
                Ok(m)
            }
            None => self.err_at(self.pos, "unexpected end"),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| self.b.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err_at(self.pos, "unexpected end"),
        }
    }

    /// A big-endian unsigned integer of `n` (at most 8) bytes.
    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// A length that must fit in what remains (`per` bytes at least each).
    fn len_checked(&self, at: usize, n: u64, per: usize) -> Result<usize> {
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(per) <= self.remaining() => Ok(n),
            _ => self.err_at(at, "length is longer than the data"),
        }
    }

    /// An array's header: its element count.
    pub fn array(&mut self) -> Result<usize> {
        let at = self.pos;
        let n = match self.byte()? {
            m @ 0x90..=0x9f => u64::from(m & 0x0f),
            0xdc => self.be(2)?,
            0xdd => self.be(4)?,
            _ => return self.err_at(at, "expected an array"),
        };
        self.len_checked(at, n, 1)
    }

    /// A struct's header: `required..=all` fields.
    fn fields(&mut self, required: usize, all: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.array()?;
        if n < required {
            return self.err_at(at, "too few fields");
        }
        if n > all {
            return self.err_at(at, "too many fields");
        }
        Ok(n)
    }

    /// Consumes a nil, if that is what comes next.
    fn nil(&mut self) -> bool {
        if self.b.get(self.pos) == Some(&0xc0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Any integer, widened.
    fn int(&mut self) -> Result<i128> {
        let at = self.pos;
        Ok(match self.byte()? {
            m @ 0x00..=0x7f => m.into(),
            m @ 0xe0..=0xff => (m as i8).into(),
            0xcc => self.be(1)?.into(),
            0xcd => self.be(2)?.into(),
            0xce => self.be(4)?.into(),
            0xcf => self.be(8)?.into(),
            0xd0 => (self.be(1)? as u8 as i8).into(),
            0xd1 => (self.be(2)? as u16 as i16).into(),
            0xd2 => (self.be(4)? as u32 as i32).into(),
            0xd3 => (self.be(8)? as i64).into(),
            _ => return self.err_at(at, "expected an integer"),
        })
    }

    /// An integer that fits `T`.
    fn num<T: TryFrom<i128>>(&mut self) -> Result<T> {
        let at = self.pos;
        let v = self.int()?;
        match T::try_from(v) {
            Ok(v) => Ok(v),
            Err(_) => self.err_at(at, "integer out of range"),
        }
    }

    fn u32(&mut self) -> Result<u32> {
        self.num()
    }

    fn u64(&mut self) -> Result<u64> {
        self.num()
    }

    fn i32(&mut self) -> Result<i32> {
        self.num()
    }

    fn f64(&mut self) -> Result<f64> {
        match self.b.get(self.pos) {
            Some(0xcb) => {
                self.pos += 1;
                Ok(f64::from_bits(self.be(8)?))
            }
            Some(0xca) => {
                self.pos += 1;
                Ok(f32::from_bits(self.be(4)? as u32).into())
            }
            _ => Ok(self.int()? as f64),
        }
    }

    fn bool(&mut self) -> Result<bool> {
        let at = self.pos;
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => self.err_at(at, "expected a boolean"),
        }
    }

    /// A string, borrowed from the input.
    pub fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => u64::from(m & 0x1f),
            0xd9 => self.be(1)?,
            0xda => self.be(2)?,
            0xdb => self.be(4)?,
            _ => return self.err_at(at, "expected a string"),
        };
        let n = self.len_checked(at, n, 1)?;
        let s = self.take(n)?;
        match std::str::from_utf8(s) {
            Ok(s) => Ok(s),
            Err(_) => self.err_at(at, "a string is not UTF-8"),
        }
    }

    /// A `bin` value, borrowed from the input.
    fn bin(&mut self) -> Result<&'a [u8]> {
        let at = self.pos;
        let n = match self.byte()? {
            0xc4 => self.be(1)?,
            0xc5 => self.be(2)?,
            0xc6 => self.be(4)?,
            _ => return self.err_at(at, "expected bytes"),
        };
        let n = self.len_checked(at, n, 1)?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_owned)
    }

    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.nil() {
            Ok(None)
        } else {
            f(self).map(Some)
        }
    }

    fn opt_string(&mut self) -> Result<Option<String>> {
        self.opt(Self::string)
    }

    /// A trailing field that may be missing (written before it existed):
    /// read when `n`, the struct's field count, says it is there.
    fn appended<T: Default>(
        &mut self,
        n: usize,
        index: usize,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if index < n {
            f(self)
        } else {
            Ok(T::default())
        }
    }

    fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.array()?;
        let mut v = Vec::with_capacity(n.min(RESERVE_MAX));
        for _ in 0..n {
            v.push(f(self)?);
        }
        Ok(v)
    }

    /// A two-element array.
    fn pair<A, B>(
        &mut self,
        a: impl FnOnce(&mut Self) -> Result<A>,
        b: impl FnOnce(&mut Self) -> Result<B>,
    ) -> Result<(A, B)> {
        self.fields(2, 2)?;
        Ok((a(self)?, b(self)?))
    }

    fn string_pairs(&mut self) -> Result<Vec<(String, String)>> {
        self.vec(|r| r.pair(Self::string, Self::string))
    }

    fn variant(&mut self) -> Result<Variant<'a>> {
        let at = self.pos;
        let n = match self.b.get(self.pos) {
            Some(m @ 0x80..=0x8f) => {
                self.pos += 1;
                u64::from(m & 0x0f)
            }
            Some(0xde) => {
                self.pos += 1;
                self.be(2)?
            }
            Some(0xdf) => {
                self.pos += 1;
                self.be(4)?
            }
            _ => return self.str().map(Variant::Unit),
        };
        if n != 1 {
            return self.err_at(at, "an enum is not a one-entry map");
        }
        self.str().map(Variant::Data)
    }

    /// A variant whose content follows (the one shape of most enums).
    fn data_variant(&mut self) -> Result<&'a str> {
        let at = self.pos;
        match self.variant()? {
            Variant::Data(name) => Ok(name),
            Variant::Unit(_) => self.err_at(at, "expected a variant with content"),
        }
    }

    /// A fieldless enum, written as one of `names` (in `values`' order).
    fn unit<T: Copy>(&mut self, names: &[&str], values: &[T]) -> Result<T> {
        let at = self.pos;
        let name = self.str()?;
        match names.iter().position(|n| *n == name) {
            Some(i) => Ok(values[i]),
            None => self.err_at(at, "unknown variant"),
        }
    }

    /// One event.
    pub fn event(&mut self) -> Result<Event> {
        self.fields(2, 2)?;
        let t = self.u64()?;
        let data = self.event_data()?;
        Ok(Event { t, data })
    }

    fn event_data(&mut self) -> Result<EventData> {
        let at = self.pos;
        let name = self.data_variant()?;
        Ok(match name {
            "Meta" => {
                let n = self.fields(5, 8)?;
                EventData::Meta(Meta {
                    href: self.string()?,
                    title: self.string()?,
                    width: self.u32()?,
                    height: self.u32()?,
                    user_agent: self.string()?,
                    referrer: self.appended(n, 5, Self::opt_string)?,
                    visitor_id: self.appended(n, 6, Self::opt_string)?,
                    new_visitor: self.appended(n, 7, |r| r.opt(Self::bool))?,
                })
            }
            "FullSnapshot" => {
                self.fields(3, 3)?;
                EventData::FullSnapshot(Snapshot {
                    nodes: self.nodes()?,
                    scroll_x: self.i32()?,
                    scroll_y: self.i32()?,
                })
            }
            "Mutation" => {
                self.fields(4, 4)?;
                EventData::Mutation(Mutation {
                    removes: self.vec(Self::u32)?,
                    adds: self.vec(|r| {
                        r.fields(3, 3)?;
                        Ok(AddedTree {
                            parent: r.u32()?,
                            next: r.u32()?,
                            nodes: r.nodes()?,
                        })
                    })?,
                    attrs: self.vec(|r| {
                        r.fields(3, 3)?;
                        Ok(AttrChange {
                            id: r.u32()?,
                            name: r.string()?,
                            value: r.opt_string()?,
                        })
                    })?,
                    texts: self.vec(|r| {
                        r.fields(2, 2)?;
                        Ok(TextChange {
                            id: r.u32()?,
                            text: r.string()?,
                        })
                    })?,
                })
            }
            "MouseMove" => EventData::MouseMove(self.vec(|r| {
                r.fields(3, 3)?;
                Ok(MousePosition {
                    x: r.i32()?,
                    y: r.i32()?,
                    dt: r.u32()?,
                })
            })?),
            "Mouse" => {
                let n = self.fields(4, 8)?;
                use MouseKind::*;
                EventData::Mouse(MouseInteraction {
                    kind: self.unit(
                        &["Down", "Up", "Click", "DblClick", "ContextMenu"],
                        &[Down, Up, Click, DblClick, ContextMenu],
                    )?,
                    id: self.u32()?,
                    x: self.i32()?,
                    y: self.i32()?,
                    label: self.appended(n, 4, Self::opt_string)?,
                    selector: self.appended(n, 5, Self::opt_string)?,
                    box_x: self.appended(n, 6, |r| r.opt(Self::num))?,
                    box_y: self.appended(n, 7, |r| r.opt(Self::num))?,
                })
            }
            "Scroll" => {
                let n = self.fields(3, 4)?;
                EventData::Scroll(Scroll {
                    id: self.u32()?,
                    x: self.i32()?,
                    y: self.i32()?,
                    depth: self.appended(n, 3, |r| r.opt(Self::num))?,
                })
            }
            "Viewport" => {
                self.fields(2, 2)?;
                EventData::Viewport(Viewport {
                    width: self.u32()?,
                    height: self.u32()?,
                })
            }
            "Input" => {
                let n = self.fields(3, 5)?;
                EventData::Input(Input {
                    id: self.u32()?,
                    value: self.opt(Self::field_value)?,
                    checked: self.opt(Self::bool)?,
                    label: self.appended(n, 3, Self::opt_string)?,
                    selector: self.appended(n, 4, Self::opt_string)?,
                })
            }
            "Custom" => {
                self.fields(2, 2)?;
                EventData::Custom(Custom {
                    name: self.string()?,
                    data: self.opt_string()?,
                })
            }
            "Identify" => {
                self.fields(2, 2)?;
                EventData::Identify(Identify {
                    user_id: self.string()?,
                    traits: self.opt_string()?,
                })
            }
            "Console" => {
                self.fields(2, 2)?;
                use ConsoleLevel::*;
                EventData::Console(Console {
                    level: self.unit(
                        &["Debug", "Log", "Info", "Warn", "Error"],
                        &[Debug, Log, Info, Warn, Error],
                    )?,
                    text: self.string()?,
                })
            }
            "PageError" => {
                self.fields(4, 4)?;
                use PageErrorKind::*;
                EventData::PageError(PageError {
                    kind: self.unit(
                        &["Uncaught", "UnhandledRejection"],
                        &[Uncaught, UnhandledRejection],
                    )?,
                    message: self.string()?,
                    source: self.opt_string()?,
                    stack: self.opt_string()?,
                })
            }
            "StyleSheet" => {
                self.fields(2, 2)?;
                EventData::StyleSheet(StyleSheetChange {
                    sheet: self.sheet_ref()?,
                    op: self.sheet_op()?,
                })
            }
            "AdoptedStyleSheets" => {
                self.fields(2, 2)?;
                EventData::AdoptedStyleSheets(AdoptedStyleSheets {
                    root: self.u32()?,
                    sheets: self.vec(Self::u32)?,
                })
            }
            "Media" => {
                self.fields(6, 6)?;
                use MediaAction::*;
                EventData::Media(Media {
                    id: self.u32()?,
                    action: self.unit(
                        &["Play", "Pause", "Seek", "RateChange", "VolumeChange"],
                        &[Play, Pause, Seek, RateChange, VolumeChange],
                    )?,
                    time: self.f64()?,
                    rate: self.f64()?,
                    muted: self.bool()?,
                    volume: self.f64()?,
                })
            }
            "Canvas" => {
                self.fields(2, 2)?;
                EventData::Canvas(Canvas {
                    id: self.u32()?,
                    data_url: self.string()?,
                })
            }
            "Focus" => {
                self.fields(2, 2)?;
                EventData::Focus(Focus {
                    id: self.u32()?,
                    focused: self.bool()?,
                })
            }
            "Selection" => {
                self.fields(4, 4)?;
                EventData::Selection(Selection {
                    anchor: self.u32()?,
                    anchor_offset: self.u32()?,
                    focus: self.u32()?,
                    focus_offset: self.u32()?,
                })
            }
            "Visibility" => {
                self.fields(1, 1)?;
                EventData::Visibility(Visibility {
                    visible: self.bool()?,
                })
            }
            "Touch" => {
                self.fields(2, 2)?;
                use TouchKind::*;
                EventData::Touch(Touch {
                    kind: self.unit(
                        &["Start", "Move", "End", "Cancel"],
                        &[Start, Move, End, Cancel],
                    )?,
                    points: self.vec(|r| r.pair(Self::i32, Self::i32))?,
                })
            }
            "Dropped" => {
                self.fields(2, 2)?;
                EventData::Dropped(Dropped {
                    chunks: self.u32()?,
                    bytes: self.u64()?,
                })
            }
            "Network" => {
                self.fields(12, 12)?;
                use NetworkKind::*;
                EventData::Network(Network {
                    kind: self.unit(&["Fetch", "Xhr", "Beacon"], &[Fetch, Xhr, Beacon])?,
                    method: self.string()?,
                    url: self.string()?,
                    status: self.num()?,
                    duration_ms: self.u32()?,
                    request_bytes: self.opt(Self::u64)?,
                    response_bytes: self.opt(Self::u64)?,
                    failure: self.opt_string()?,
                    request_headers: self.string_pairs()?,
                    response_headers: self.string_pairs()?,
                    request_body: self.opt_string()?,
                    response_body: self.opt_string()?,
                })
            }
            "Key" => {
                self.fields(4, 4)?;
                EventData::Key(Key {
                    id: self.u32()?,
                    key: self.string()?,
                    label: self.opt_string()?,
                    selector: self.opt_string()?,
                })
            }
            "Signal" => {
                self.fields(8, 8)?;
                use SignalKind::*;
                EventData::Signal(Signal {
                    kind: self.unit(
                        &[
                            "RageClick",
                            "DeadClick",
                            "ErrorClick",
                            "ThrashedCursor",
                            "UTurn",
                        ],
                        &[RageClick, DeadClick, ErrorClick, ThrashedCursor, UTurn],
                    )?,
                    since: self.u64()?,
                    id: self.u32()?,
                    x: self.i32()?,
                    y: self.i32()?,
                    count: self.u32()?,
                    label: self.opt_string()?,
                    selector: self.opt_string()?,
                })
            }
            "Animation" => {
                self.fields(5, 5)?;
                EventData::Animation(Animation {
                    id: self.u32()?,
                    name: self.string()?,
                    pseudo: self.opt_string()?,
                    time: self.f64()?,
                    paused: self.bool()?,
                })
            }
            "Popover" => {
                self.fields(2, 2)?;
                EventData::Popover(Popover {
                    id: self.u32()?,
                    open: self.bool()?,
                })
            }
            "FrameEvents" => {
                self.fields(3, 3)?;
                EventData::FrameEvents(FrameEvents {
                    frame: self.u32()?,
                    base: self.u32()?,
                    chunk: self.bin()?.to_vec(),
                })
            }
            _ => return self.err_at(at, "unknown kind of event"),
        })
    }

    fn sheet_ref(&mut self) -> Result<SheetRef> {
        let at = self.pos;
        match self.data_variant()? {
            "Node" => Ok(SheetRef::Node(self.u32()?)),
            "Constructed" => Ok(SheetRef::Constructed(self.u32()?)),
            _ => self.err_at(at, "unknown kind of stylesheet"),
        }
    }

    fn sheet_op(&mut self) -> Result<SheetOp> {
        let at = self.pos;
        match self.data_variant()? {
            "Insert" => {
                self.fields(3, 3)?;
                Ok(SheetOp::Insert {
                    path: self.vec(Self::u32)?,
                    index: self.u32()?,
                    rule: self.string()?,
                })
            }
            "Delete" => {
                self.fields(2, 2)?;
                Ok(SheetOp::Delete {
                    path: self.vec(Self::u32)?,
                    index: self.u32()?,
                })
            }
            "Replace" => {
                self.fields(1, 1)?;
                Ok(SheetOp::Replace {
                    text: self.string()?,
                })
            }
            _ => self.err_at(at, "unknown stylesheet edit"),
        }
    }

    /// A node list, its ids as they are on the wire (relative in format
    /// 2: the caller turns them back, see [`crate::node::ids_from_wire`]).
    fn nodes(&mut self) -> Result<Vec<FlatNode>> {
        self.vec(|r| {
            r.fields(3, 3)?;
            Ok(FlatNode {
                id: r.u32()?,
                parent: r.u32()?,
                kind: r.node_kind()?,
            })
        })
    }

    fn node_kind(&mut self) -> Result<NodeKind> {
        let at = self.pos;
        Ok(match self.variant()? {
            Variant::Unit("Document") => NodeKind::Document,
            Variant::Unit("ShadowRoot") => NodeKind::ShadowRoot,
            Variant::Data("Doctype") => {
                self.fields(3, 3)?;
                NodeKind::Doctype {
                    name: self.string()?,
                    public_id: self.string()?,
                    system_id: self.string()?,
                }
            }
            Variant::Data("Element") => {
                let n = self.fields(3, 6)?;
                NodeKind::Element(Element {
                    tag: self.string()?,
                    ns: self.namespace()?,
                    attrs: self.string_pairs()?,
                    value: self.appended(n, 3, |r| r.opt(Self::field_value))?,
                    checked: self.appended(n, 4, |r| r.opt(Self::bool))?,
                    stylesheet: self.appended(n, 5, Self::opt_string)?,
                })
            }
            Variant::Data("Text") => NodeKind::Text(self.string()?),
            Variant::Data("Comment") => NodeKind::Comment(self.string()?),
            Variant::Data("CData") => NodeKind::CData(self.string()?),
            Variant::Data("Blocked") => {
                self.fields(4, 4)?;
                NodeKind::Blocked {
                    tag: self.string()?,
                    ns: self.namespace()?,
                    width: self.u32()?,
                    height: self.u32()?,
                }
            }
            _ => return self.err_at(at, "unknown kind of node"),
        })
    }

    fn namespace(&mut self) -> Result<Namespace> {
        use Namespace::*;
        self.unit(&["Html", "Svg", "MathMl"], &[Html, Svg, MathMl])
    }

    fn field_value(&mut self) -> Result<FieldValue> {
        let at = self.pos;
        match self.variant()? {
            Variant::Unit("Masked") => Ok(FieldValue::Masked),
            Variant::Data("Text") => Ok(FieldValue::Text(self.string()?)),
            _ => self.err_at(at, "unknown kind of field value"),
        }
    }

    /// A chunk header.
    pub fn header(&mut self) -> Result<ChunkHeader> {
        self.fields(6, 6)?;
        let at = self.pos;
        let session = match self.str()?.parse::<SessionId>() {
            Ok(s) => s,
            Err(_) => return self.err_at(at, "not a session id"),
        };
        let seq = self.u32()?;
        let t_start = self.u64()?;
        let t_end = self.u64()?;
        let event_count = self.u32()?;
        self.fields(5, 5)?;
        let stats = ChunkStats {
            clicks: self.u32()?,
            errors: self.u32()?,
            urls: self.vec(Self::string)?,
            user_id: self.opt_string()?,
            user_agent: self.opt_string()?,
        };
        Ok(ChunkHeader {
            session,
            seq,
            t_start,
            t_end,
            event_count,
            stats,
        })
    }
}

/// Reads a whole `Vec<Event>` (an array of events and nothing after it).
pub fn read_events(bytes: &[u8]) -> Result<Vec<Event>> {
    let mut r = Reader::new(bytes);
    let n = r.array()?;
    let mut events = Vec::with_capacity(n.min(RESERVE_MAX));
    for _ in 0..n {
        events.push(r.event()?);
    }
    if !r.at_end() {
        return r.err_at(r.pos, "bytes after the events");
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_past_the_end_are_refused_before_allocating() {
        // An array of 2^32-1 events in five bytes.
        let e = read_events(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.what, "length is longer than the data");
        // A string of 4 GB.
        let mut r = Reader::new(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a']);
        assert!(r.str().is_err());
    }

    #[test]
    fn integers_in_any_width_that_holds_them() {
        for (bytes, v) in [
            (&[0x05][..], 5u32),
            (&[0xcc, 0xff], 255),
            (&[0xcd, 0x01, 0x00], 256),
            (&[0xcf, 0, 0, 0, 0, 0, 0, 0, 7], 7),
            (&[0xd0, 0x05], 5),
        ] {
            assert_eq!(Reader::new(bytes).u32(), Ok(v), "{bytes:?}");
        }
        assert!(Reader::new(&[0xff]).u32().is_err(), "-1 is no u32");
        assert!(Reader::new(&[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]).u32().is_err());
        assert_eq!(Reader::new(&[0xff]).i32(), Ok(-1));
        assert_eq!(Reader::new(&[0x03]).f64(), Ok(3.0));
        assert!(Reader::new(&[0xc3]).u32().is_err());
    }

    #[test]
    fn errors_say_where() {
        // [[1, {"Nope": 0}]]
        let bytes = [0x91, 0x92, 0x01, 0x81, 0xa4, b'N', b'o', b'p', b'e', 0x00];
        assert_eq!(
            read_events(&bytes),
            Err(ReadError {
                at: 3,
                what: "unknown kind of event"
            })
        );
        assert_eq!(
            read_events(&[0x91, 0x92]).unwrap_err().to_string(),
            "length is longer than the data at byte 1"
        );
    }
}
