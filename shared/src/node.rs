//! The serialised document: a flat list of nodes in document order.
//!
//! A tree is sent as a flat pre-order list where every node names its
//! parent. Flat beats nested here: decoding untrusted input never recurses
//! (a 10,000-deep page cannot blow a stack), and a full snapshot and the
//! subtree of a mutation share one representation.
//!
//! Invariant: in a list, a node's parent is either the list's insertion
//! parent (for the first node) or a node that appears earlier in the list;
//! children are appended in list order.
//!
//! On the wire (chunk format 2), a list's ids are relative: each node's `id`
//! is sent as the difference from the previous node's id in the list (the
//! first from 0), and its `parent` as the difference from its own id, both
//! wrapping in `u32`. Ids are handed out in document order, so in a
//! snapshot nearly every `id` becomes 1 and most parents a small number
//! that repeats row after row: absolute ids, which grow by one per node,
//! are the one thing in a snapshot no compressor predicts (they were a
//! third of a compressed 10,000-row table). [`ids_to_wire`] and
//! [`ids_from_wire`] are the two directions; the MessagePack writer
//! computes the same values inline.

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlatNode {
    pub id: NodeId,
    /// The parent's id, or [`crate::NO_NODE`] for a document.
    pub parent: NodeId,
    pub kind: NodeKind,
}

/// A same-origin iframe's document is a `Document` whose parent is the
/// `<iframe>` element; an open shadow root is a `ShadowRoot` whose parent is
/// its host. Both start a new tree: the player builds them into the
/// iframe's document and the host's shadow root, not as DOM children.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NodeKind {
    Document,
    Doctype {
        name: String,
        public_id: String,
        system_id: String,
    },
    Element(Element),
    Text(String),
    Comment(String),
    CData(String),
    /// An element under `data-reel-block` (or the `blockSelector`): nothing
    /// of it is recorded but its tag and its size, so the replay shows an
    /// empty box where it was.
    Blocked {
        tag: String,
        ns: Namespace,
        width: u32,
        height: u32,
    },
    ShadowRoot,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Namespace {
    #[default]
    Html,
    Svg,
    MathMl,
}

impl Namespace {
    pub fn uri(self) -> &'static str {
        match self {
            Namespace::Html => "http://www.w3.org/1999/xhtml",
            Namespace::Svg => "http://www.w3.org/2000/svg",
            Namespace::MathMl => "http://www.w3.org/1998/Math/MathML",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// Lowercase for HTML elements, as written for SVG and MathML.
    pub tag: String,
    pub ns: Namespace,
    pub attrs: Vec<(String, String)>,
    /// The live `value` of a form field (not its `value` attribute).
    #[serde(default)]
    pub value: Option<FieldValue>,
    /// The live `checked` of a checkbox or radio button.
    #[serde(default)]
    pub checked: Option<bool>,
    /// The text of a same-origin stylesheet behind a `<link>`, so the replay
    /// does not depend on the recorded site being up.
    #[serde(default)]
    pub stylesheet: Option<String>,
}

/// A form field's value as it left the browser: either in clear, or masked.
/// A masked value carries nothing of the original, not even its length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldValue {
    Text(String),
    Masked,
}

impl FieldValue {
    /// What the player shows for a masked value: fixed, whatever was typed.
    pub const MASK: &'static str = "••••••";

    pub fn display(&self) -> &str {
        match self {
            FieldValue::Text(s) => s,
            FieldValue::Masked => Self::MASK,
        }
    }
}

/// Makes a list's ids relative, as chunk format 2 sends them.
pub fn ids_to_wire(nodes: &mut [FlatNode]) {
    let mut prev = 0u32;
    for n in nodes {
        let id = n.id;
        n.id = id.wrapping_sub(prev);
        n.parent = id.wrapping_sub(n.parent);
        prev = id;
    }
}

/// Undoes [`ids_to_wire`].
pub fn ids_from_wire(nodes: &mut [FlatNode]) {
    let mut prev = 0u32;
    for n in nodes {
        let id = prev.wrapping_add(n.id);
        n.id = id;
        n.parent = id.wrapping_sub(n.parent);
        prev = id;
    }
}

/// Calls `f` on every node list an event carries (a snapshot's, each added
/// subtree's): where [`ids_to_wire`] and [`ids_from_wire`] apply.
pub fn each_node_list(data: &mut crate::event::EventData, mut f: impl FnMut(&mut [FlatNode])) {
    use crate::event::EventData;
    match data {
        EventData::FullSnapshot(s) => f(&mut s.nodes),
        EventData::Mutation(m) => m.adds.iter_mut().for_each(|a| f(&mut a.nodes)),
        _ => {}
    }
}
