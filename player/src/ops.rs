//! The operations that bring a live DOM from one replayed state to another.
//!
//! The model ([`crate::model`]) decides *what* changes; the browser glue only
//! executes these operations. Keeping the boundary this narrow has two
//! payoffs: everything that decides what the replay shows is plain Rust,
//! tested natively; and a whole batch crosses from wasm to JS once, as one
//! JSON string, instead of one crossing per DOM call.
//!
//! Every value in an operation is already sanitised ([`crate::sanitize`]):
//! the executor never has to know what is dangerous.
//!
//! JSON shape (`serde_json`, internally tagged by `op`):
//!
//! ```text
//! {"op":"reset","doc":1}
//! {"op":"create","id":5,"parent":3,"next":0,"node":{"t":"element","tag":"div","ns":"html","attrs":[["class","a"]]}}
//! {"op":"create","id":6,"parent":5,"next":0,"node":{"t":"text","text":"hi"}}
//! {"op":"move","id":6,"parent":3,"next":0}
//! {"op":"remove","id":6}
//! {"op":"rebind","from":6,"id":9}
//! {"op":"set_attr","id":5,"name":"class","value":"b"}
//! {"op":"remove_attr","id":5,"name":"class"}
//! {"op":"set_text","id":6,"text":"hello"}
//! {"op":"set_value","id":9,"value":"••••••"}
//! {"op":"set_checked","id":9,"checked":true}
//! {"op":"scroll","id":1,"x":0,"y":120}
//! ```

use reel_shared::{Namespace, NodeId};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DomOp {
    /// Empty the document and forget every id; `doc` becomes the document
    /// node's id (`0` when the replay has no document yet).
    Reset {
        doc: NodeId,
    },
    /// Create a node and insert it under `parent`, before `next` when `next`
    /// is a child of `parent`, else at the end. An unknown `parent` means the
    /// node is not created (and neither are its descendants, whose parents
    /// then do not exist either).
    Create {
        id: NodeId,
        parent: NodeId,
        next: NodeId,
        node: NewNode,
    },
    /// Move a node in the document (with its subtree) under `parent`,
    /// before `next` when `next` is a child of `parent`, else to the end.
    Move {
        id: NodeId,
        parent: NodeId,
        next: NodeId,
    },
    /// Detach a node (with its subtree) from the document.
    Remove {
        id: NodeId,
    },
    /// The DOM node known as `from` is known as `id` from now on (a node
    /// gone from the new state lent to a new node of the same shape);
    /// `from` names nothing afterwards.
    Rebind {
        from: NodeId,
        id: NodeId,
    },
    SetAttr {
        id: NodeId,
        name: String,
        value: String,
    },
    RemoveAttr {
        id: NodeId,
        name: String,
    },
    /// Set the data of a text, comment or CDATA node.
    SetText {
        id: NodeId,
        text: String,
    },
    /// Set a form field's live `value` property (not its attribute).
    SetValue {
        id: NodeId,
        value: String,
    },
    /// Set a checkbox's or radio button's live `checked` property.
    SetChecked {
        id: NodeId,
        checked: bool,
    },
    /// Scroll an element, or the window when `id` is a document.
    Scroll {
        id: NodeId,
        x: i32,
        y: i32,
    },
    /// Insert a rule into the sheet of element `id` or, when `id` is 0,
    /// into constructed sheet `cs` (created in the replay's window on first
    /// use); `path` descends through grouping rules.
    SheetInsert {
        id: NodeId,
        cs: u32,
        path: Vec<u32>,
        index: u32,
        rule: String,
    },
    SheetDelete {
        id: NodeId,
        cs: u32,
        path: Vec<u32>,
        index: u32,
    },
    /// Replace every rule of a sheet.
    SheetReplace {
        id: NodeId,
        cs: u32,
        text: String,
    },
    /// Set the `adoptedStyleSheets` of document or shadow root `id`.
    Adopt {
        id: NodeId,
        sheets: Vec<u32>,
    },
    /// Show a `<video>`/`<audio>` at `time` seconds, paused or playing,
    /// always muted (a replay never makes sound on its own).
    Media {
        id: NodeId,
        time: f64,
        paused: bool,
        rate: f64,
    },
    /// Draw a recorded bitmap (`data:image/…`) into a canvas.
    Canvas {
        id: NodeId,
        url: String,
    },
}

/// The content of a node to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum NewNode {
    Element {
        tag: String,
        ns: Ns,
        attrs: Vec<(String, String)>,
    },
    Text {
        text: String,
    },
    Comment {
        text: String,
    },
    /// Only XML documents have CDATA sections; the executor falls back to a
    /// text node in an HTML document.
    Cdata {
        text: String,
    },
    Doctype {
        name: String,
        public_id: String,
        system_id: String,
    },
    /// An open shadow root of the parent element.
    ShadowRoot,
    /// The document of the parent `<iframe>` (emptied, then built).
    Document,
}

/// An element's namespace, as the executor names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ns {
    Html,
    Svg,
    Math,
}

impl From<Namespace> for Ns {
    fn from(ns: Namespace) -> Self {
        match ns {
            Namespace::Html => Ns::Html,
            Namespace::Svg => Ns::Svg,
            Namespace::MathMl => Ns::Math,
        }
    }
}

/// Serialises a batch for the executor. Serialising these plain types
/// cannot fail; should it ever, an empty batch is the safe answer.
pub fn to_json(ops: &[DomOp]) -> String {
    serde_json::to_string(ops).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_compact_and_tagged() {
        let ops = vec![
            DomOp::Reset { doc: 1 },
            DomOp::Create {
                id: 5,
                parent: 3,
                next: 0,
                node: NewNode::Element {
                    tag: "div".into(),
                    ns: Ns::Html,
                    attrs: vec![("class".into(), "a".into())],
                },
            },
            DomOp::Create {
                id: 6,
                parent: 5,
                next: 0,
                node: NewNode::Text { text: "hi".into() },
            },
            DomOp::SetChecked {
                id: 9,
                checked: true,
            },
            DomOp::Scroll {
                id: 1,
                x: 0,
                y: 120,
            },
        ];
        assert_eq!(
            to_json(&ops),
            r#"[{"op":"reset","doc":1},{"op":"create","id":5,"parent":3,"next":0,"node":{"t":"element","tag":"div","ns":"html","attrs":[["class","a"]]}},{"op":"create","id":6,"parent":5,"next":0,"node":{"t":"text","text":"hi"}},{"op":"set_checked","id":9,"checked":true},{"op":"scroll","id":1,"x":0,"y":120}]"#
        );
    }
}
