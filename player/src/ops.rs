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
//! JSON shape (written by [`crate::json`], tagged by `op`):
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

use crate::json::{Object, ToJson};
use reel_shared::{Namespace, NodeId};

#[derive(Clone, Debug, PartialEq)]
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
    /// Show or hide a popover (`showPopover()`, `hidePopover()`).
    Popover {
        id: NodeId,
        open: bool,
    },
    /// Set the CSS animation `name` of element `id` (or of its `pseudo`
    /// element) to `time` ms, and pause it when it was paused. Not DOM
    /// state: the replay's clock, restated at each jump.
    Animation {
        id: NodeId,
        name: String,
        pseudo: Option<String>,
        time: f64,
        paused: bool,
    },
}

/// The content of a node to create.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Serialises a batch for the executor.
pub fn to_json(ops: &[DomOp]) -> String {
    crate::json::to_string(ops)
}

impl ToJson for DomOp {
    fn write_json(&self, out: &mut String) {
        let mut o = Object::new(out);
        match self {
            DomOp::Reset { doc } => o.field("op", "reset").field("doc", doc),
            DomOp::Create {
                id,
                parent,
                next,
                node,
            } => o
                .field("op", "create")
                .field("id", id)
                .field("parent", parent)
                .field("next", next)
                .field("node", node),
            DomOp::Move { id, parent, next } => o
                .field("op", "move")
                .field("id", id)
                .field("parent", parent)
                .field("next", next),
            DomOp::Remove { id } => o.field("op", "remove").field("id", id),
            DomOp::Rebind { from, id } => {
                o.field("op", "rebind").field("from", from).field("id", id)
            }
            DomOp::SetAttr { id, name, value } => o
                .field("op", "set_attr")
                .field("id", id)
                .field("name", name)
                .field("value", value),
            DomOp::RemoveAttr { id, name } => o
                .field("op", "remove_attr")
                .field("id", id)
                .field("name", name),
            DomOp::SetText { id, text } => o
                .field("op", "set_text")
                .field("id", id)
                .field("text", text),
            DomOp::SetValue { id, value } => o
                .field("op", "set_value")
                .field("id", id)
                .field("value", value),
            DomOp::SetChecked { id, checked } => o
                .field("op", "set_checked")
                .field("id", id)
                .field("checked", checked),
            DomOp::Scroll { id, x, y } => o
                .field("op", "scroll")
                .field("id", id)
                .field("x", x)
                .field("y", y),
            DomOp::SheetInsert {
                id,
                cs,
                path,
                index,
                rule,
            } => o
                .field("op", "sheet_insert")
                .field("id", id)
                .field("cs", cs)
                .field("path", path)
                .field("index", index)
                .field("rule", rule),
            DomOp::SheetDelete {
                id,
                cs,
                path,
                index,
            } => o
                .field("op", "sheet_delete")
                .field("id", id)
                .field("cs", cs)
                .field("path", path)
                .field("index", index),
            DomOp::SheetReplace { id, cs, text } => o
                .field("op", "sheet_replace")
                .field("id", id)
                .field("cs", cs)
                .field("text", text),
            DomOp::Adopt { id, sheets } => o
                .field("op", "adopt")
                .field("id", id)
                .field("sheets", sheets),
            DomOp::Media {
                id,
                time,
                paused,
                rate,
            } => o
                .field("op", "media")
                .field("id", id)
                .field("time", time)
                .field("paused", paused)
                .field("rate", rate),
            DomOp::Canvas { id, url } => o.field("op", "canvas").field("id", id).field("url", url),
            DomOp::Popover { id, open } => {
                o.field("op", "popover").field("id", id).field("open", open)
            }
            DomOp::Animation {
                id,
                name,
                pseudo,
                time,
                paused,
            } => o
                .field("op", "anim")
                .field("id", id)
                .field("name", name)
                .field("pseudo", pseudo)
                .field("time", time)
                .field("paused", paused),
        }
        .end();
    }
}

impl ToJson for NewNode {
    fn write_json(&self, out: &mut String) {
        let mut o = Object::new(out);
        match self {
            NewNode::Element { tag, ns, attrs } => o
                .field("t", "element")
                .field("tag", tag)
                .field("ns", ns)
                .field("attrs", attrs),
            NewNode::Text { text } => o.field("t", "text").field("text", text),
            NewNode::Comment { text } => o.field("t", "comment").field("text", text),
            NewNode::Cdata { text } => o.field("t", "cdata").field("text", text),
            NewNode::Doctype {
                name,
                public_id,
                system_id,
            } => o
                .field("t", "doctype")
                .field("name", name)
                .field("public_id", public_id)
                .field("system_id", system_id),
            NewNode::ShadowRoot => o.field("t", "shadow_root"),
            NewNode::Document => o.field("t", "document"),
        }
        .end();
    }
}

impl ToJson for Ns {
    fn write_json(&self, out: &mut String) {
        match self {
            Ns::Html => "html",
            Ns::Svg => "svg",
            Ns::Math => "math",
        }
        .write_json(out)
    }
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

    /// Every op and node, with the names the executor (`render.rs`) reads.
    #[test]
    fn every_op_is_written_as_the_executor_reads_it() {
        let s = |x: &str| x.to_string();
        let node = |node| DomOp::Create {
            id: 2,
            parent: 1,
            next: 0,
            node,
        };
        let cases = vec![
            (
                DomOp::Move {
                    id: 1,
                    parent: 2,
                    next: 3,
                },
                r#"{"op":"move","id":1,"parent":2,"next":3}"#,
            ),
            (DomOp::Remove { id: 4 }, r#"{"op":"remove","id":4}"#),
            (
                DomOp::Rebind { from: 4, id: 5 },
                r#"{"op":"rebind","from":4,"id":5}"#,
            ),
            (
                DomOp::SetAttr {
                    id: 1,
                    name: s("a"),
                    value: s("\"<"),
                },
                r#"{"op":"set_attr","id":1,"name":"a","value":"\"<"}"#,
            ),
            (
                DomOp::RemoveAttr {
                    id: 1,
                    name: s("a"),
                },
                r#"{"op":"remove_attr","id":1,"name":"a"}"#,
            ),
            (
                DomOp::SetText {
                    id: 1,
                    text: s("t"),
                },
                r#"{"op":"set_text","id":1,"text":"t"}"#,
            ),
            (
                DomOp::SetValue {
                    id: 1,
                    value: s("v"),
                },
                r#"{"op":"set_value","id":1,"value":"v"}"#,
            ),
            (
                DomOp::Scroll { id: 1, x: -3, y: 4 },
                r#"{"op":"scroll","id":1,"x":-3,"y":4}"#,
            ),
            (
                DomOp::SheetInsert {
                    id: 0,
                    cs: 2,
                    path: vec![1, 0],
                    index: 3,
                    rule: s("a{}"),
                },
                r#"{"op":"sheet_insert","id":0,"cs":2,"path":[1,0],"index":3,"rule":"a{}"}"#,
            ),
            (
                DomOp::SheetDelete {
                    id: 7,
                    cs: 0,
                    path: vec![],
                    index: 1,
                },
                r#"{"op":"sheet_delete","id":7,"cs":0,"path":[],"index":1}"#,
            ),
            (
                DomOp::SheetReplace {
                    id: 7,
                    cs: 0,
                    text: s("b{}"),
                },
                r#"{"op":"sheet_replace","id":7,"cs":0,"text":"b{}"}"#,
            ),
            (
                DomOp::Adopt {
                    id: 1,
                    sheets: vec![2, 3],
                },
                r#"{"op":"adopt","id":1,"sheets":[2,3]}"#,
            ),
            (
                DomOp::Media {
                    id: 1,
                    time: 1.5,
                    paused: true,
                    rate: 2.0,
                },
                r#"{"op":"media","id":1,"time":1.5,"paused":true,"rate":2}"#,
            ),
            (
                DomOp::Canvas {
                    id: 1,
                    url: s("data:,"),
                },
                r#"{"op":"canvas","id":1,"url":"data:,"}"#,
            ),
            (
                DomOp::Popover { id: 1, open: true },
                r#"{"op":"popover","id":1,"open":true}"#,
            ),
            (
                DomOp::Animation {
                    id: 1,
                    name: s("slide"),
                    pseudo: None,
                    time: 1500.5,
                    paused: false,
                },
                r#"{"op":"anim","id":1,"name":"slide","pseudo":null,"time":1500.5,"paused":false}"#,
            ),
            (
                node(NewNode::Comment { text: s("c") }),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"comment","text":"c"}}"#,
            ),
            (
                node(NewNode::Cdata { text: s("d") }),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"cdata","text":"d"}}"#,
            ),
            (
                node(NewNode::Doctype {
                    name: s("html"),
                    public_id: s(""),
                    system_id: s(""),
                }),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"doctype","name":"html","public_id":"","system_id":""}}"#,
            ),
            (
                node(NewNode::ShadowRoot),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"shadow_root"}}"#,
            ),
            (
                node(NewNode::Document),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"document"}}"#,
            ),
            (
                node(NewNode::Element {
                    tag: s("svg"),
                    ns: Ns::Svg,
                    attrs: vec![],
                }),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"element","tag":"svg","ns":"svg","attrs":[]}}"#,
            ),
            (
                node(NewNode::Element {
                    tag: s("math"),
                    ns: Ns::Math,
                    attrs: vec![],
                }),
                r#"{"op":"create","id":2,"parent":1,"next":0,"node":{"t":"element","tag":"math","ns":"math","attrs":[]}}"#,
            ),
        ];
        for (op, json) in cases {
            assert_eq!(crate::json::to_string(&op), json);
            serde_json::from_str::<serde_json::Value>(json).expect("valid JSON");
        }
    }
}
