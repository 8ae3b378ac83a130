//! A strict stand-in for the browser-side executor, for tests.
//!
//! It applies [`DomOp`]s with the same semantics as the JS helper in
//! `render.rs`, but where the helper tolerates an op that makes no sense
//! (unknown parent, removed node), this one panics: the model must never
//! emit such ops, and this is how the tests hold it to that.

use crate::ops::{DomOp, NewNode};
use reel_shared::NodeId;
use std::collections::HashMap;

#[derive(Clone, Debug)]
struct FNode {
    parent: NodeId,
    children: Vec<NodeId>,
    /// `None` for the document.
    node: Option<NewNode>,
    attrs: Vec<(String, String)>,
    value: Option<String>,
    checked: Option<bool>,
    scroll: Option<(i32, i32)>,
    /// CSSOM edits, adoption, media and canvas state, as readable text.
    sheet: Vec<String>,
    extra: Vec<String>,
}

impl FNode {
    fn new(parent: NodeId, node: Option<NewNode>) -> Self {
        let attrs = match &node {
            Some(NewNode::Element { attrs, .. }) => attrs.clone(),
            _ => Vec::new(),
        };
        FNode {
            parent,
            children: Vec::new(),
            node,
            attrs,
            value: None,
            checked: None,
            scroll: None,
            sheet: Vec::new(),
            extra: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct FakeDom {
    root: NodeId,
    nodes: HashMap<NodeId, FNode>,
    /// Constructed sheets' edits since their last replace.
    constructed: std::collections::BTreeMap<u32, Vec<String>>,
}

impl FakeDom {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_ops(ops: &[DomOp]) -> Self {
        let mut d = Self::new();
        d.apply(ops);
        d
    }

    fn connected(&self, id: NodeId) -> bool {
        let mut cur = id;
        for _ in 0..=self.nodes.len() {
            if cur == self.root && self.root != 0 {
                return true;
            }
            match self.nodes.get(&cur) {
                Some(n) if n.parent != 0 => cur = n.parent,
                _ => return false,
            }
        }
        false
    }

    fn live(&mut self, id: NodeId, op: &DomOp) -> &mut FNode {
        assert!(
            self.connected(id),
            "op on a node not in the document: {op:?}"
        );
        self.nodes.get_mut(&id).expect("connected nodes exist")
    }

    pub fn apply(&mut self, ops: &[DomOp]) {
        for op in ops {
            match op {
                DomOp::Reset { doc } => {
                    self.nodes.clear();
                    self.constructed.clear();
                    self.root = *doc;
                    if *doc != 0 {
                        self.nodes.insert(*doc, FNode::new(0, None));
                    }
                }
                DomOp::Create {
                    id,
                    parent,
                    next,
                    node,
                } => {
                    assert!(
                        self.connected(*parent),
                        "create under a parent not in the document: {op:?}"
                    );
                    assert!(
                        !self.connected(*id),
                        "create of an id still in the document: {op:?}"
                    );
                    self.nodes
                        .insert(*id, FNode::new(*parent, Some(node.clone())));
                    let p = self.nodes.get_mut(parent).expect("checked");
                    match p.children.iter().position(|c| c == next) {
                        Some(i) if *next != 0 => p.children.insert(i, *id),
                        _ => {
                            assert_eq!(
                                *next, 0,
                                "create before a node that is not a child: {op:?}"
                            );
                            p.children.push(*id);
                        }
                    }
                }
                DomOp::Move { id, parent, next } => {
                    assert!(
                        self.connected(*parent) && self.connected(*id),
                        "move of or under a node not in the document: {op:?}"
                    );
                    let mut up = *parent;
                    while up != 0 {
                        assert_ne!(up, *id, "move under itself: {op:?}");
                        up = self.nodes[&up].parent;
                    }
                    let old = self.nodes[id].parent;
                    if let Some(p) = self.nodes.get_mut(&old) {
                        p.children.retain(|c| c != id);
                    }
                    self.nodes.get_mut(id).expect("checked").parent = *parent;
                    let p = self.nodes.get_mut(parent).expect("checked");
                    match p.children.iter().position(|c| c == next) {
                        Some(i) if *next != 0 => p.children.insert(i, *id),
                        _ => {
                            assert_eq!(*next, 0, "move before a node that is not a child: {op:?}");
                            p.children.push(*id);
                        }
                    }
                }
                DomOp::Remove { id } => {
                    let parent = self.live(*id, op).parent;
                    if let Some(p) = self.nodes.get_mut(&parent) {
                        p.children.retain(|c| c != id);
                    }
                    // The removed nodes are unreachable objects in a real
                    // DOM; an id names a new node if it is created again.
                    let mut stack = vec![*id];
                    while let Some(cur) = stack.pop() {
                        if let Some(n) = self.nodes.remove(&cur) {
                            stack.extend(n.children);
                        }
                    }
                }
                DomOp::Rebind { from, id } => {
                    self.live(*from, op);
                    assert!(
                        !self.connected(*id),
                        "rebind to an id still in the document: {op:?}"
                    );
                    let n = self.nodes.remove(from).expect("live nodes exist");
                    if let Some(p) = self.nodes.get_mut(&n.parent) {
                        for c in p.children.iter_mut().filter(|c| *c == from) {
                            *c = *id;
                        }
                    }
                    for c in &n.children {
                        if let Some(child) = self.nodes.get_mut(c) {
                            child.parent = *id;
                        }
                    }
                    self.nodes.insert(*id, n);
                }
                DomOp::SetAttr { id, name, value } => {
                    let n = self.live(*id, op);
                    match n.attrs.iter_mut().find(|(k, _)| k == name) {
                        Some(slot) => slot.1.clone_from(value),
                        None => n.attrs.push((name.clone(), value.clone())),
                    }
                }
                DomOp::RemoveAttr { id, name } => {
                    self.live(*id, op).attrs.retain(|(k, _)| k != name)
                }
                DomOp::SetText { id, text } => {
                    // Setting a <style>'s text reparses its sheet.
                    let parent = self.live(*id, op).parent;
                    if let Some(p) = self.nodes.get_mut(&parent) {
                        p.sheet.clear();
                    }
                    match &mut self.live(*id, op).node {
                        Some(
                            NewNode::Text { text: t }
                            | NewNode::Comment { text: t }
                            | NewNode::Cdata { text: t },
                        ) => t.clone_from(text),
                        other => panic!("set_text on {other:?}"),
                    }
                }
                DomOp::SetValue { id, value } => self.live(*id, op).value = Some(value.clone()),
                DomOp::SetChecked { id, checked } => self.live(*id, op).checked = Some(*checked),
                DomOp::Scroll { id, x, y } => self.live(*id, op).scroll = Some((*x, *y)),
                DomOp::SheetInsert {
                    id,
                    cs,
                    path,
                    index,
                    rule,
                } => self
                    .sheet(*id, *cs, op)
                    .push(format!("ins {path:?} {index} {rule}")),
                DomOp::SheetDelete {
                    id,
                    cs,
                    path,
                    index,
                } => self
                    .sheet(*id, *cs, op)
                    .push(format!("del {path:?} {index}")),
                DomOp::SheetReplace { id, cs, text } => {
                    let s = self.sheet(*id, *cs, op);
                    s.clear();
                    s.push(format!("rep {text}"));
                }
                DomOp::Adopt { id, sheets } => {
                    let n = self.live(*id, op);
                    n.extra.retain(|e| !e.starts_with("adopt"));
                    n.extra.push(format!("adopt {sheets:?}"));
                }
                DomOp::Media {
                    id,
                    time,
                    paused,
                    rate,
                } => {
                    let n = self.live(*id, op);
                    n.extra.retain(|e| !e.starts_with("media"));
                    n.extra.push(format!("media {time} {paused} {rate}"));
                }
                DomOp::Canvas { id, url } => {
                    let n = self.live(*id, op);
                    n.extra.retain(|e| !e.starts_with("canvas"));
                    n.extra.push(format!("canvas {url}"));
                }
                DomOp::Popover { id, open } => {
                    let n = self.live(*id, op);
                    n.extra.retain(|e| !e.starts_with("popover"));
                    if *open {
                        n.extra.push("popover open".into());
                    }
                }
                // The replay's clock, not DOM state (restated at jumps).
                DomOp::Animation { .. } => {}
            }
        }
    }

    fn sheet(&mut self, id: NodeId, cs: u32, op: &DomOp) -> &mut Vec<String> {
        if id == 0 {
            self.constructed.entry(cs).or_default()
        } else {
            &mut self.live(id, op).sheet
        }
    }

    /// The document as text: attributes sorted (order is not part of what
    /// the replay promises), form state and scroll in braces.
    pub fn html(&self) -> String {
        let mut out = String::new();
        let Some(root) = self.nodes.get(&self.root) else {
            return out;
        };
        if let Some((x, y)) = root.scroll {
            out.push_str(&format!("{{scroll={x},{y}}}"));
        }
        for e in &root.extra {
            out.push_str(&format!("{{{e}}}"));
        }
        for (cs, edits) in &self.constructed {
            out.push_str(&format!("{{sheet {cs}: {edits:?}}}"));
        }
        let mut stack: Vec<(NodeId, bool)> =
            root.children.iter().rev().map(|&c| (c, true)).collect();
        while let Some((id, entering)) = stack.pop() {
            let n = &self.nodes[&id];
            match (&n.node, entering) {
                (Some(NewNode::Element { tag, .. }), true) => {
                    let mut attrs = n.attrs.clone();
                    attrs.sort();
                    out.push('<');
                    out.push_str(tag);
                    for (k, v) in attrs {
                        out.push_str(&format!(" {k}=\"{v}\""));
                    }
                    out.push('>');
                    if let Some(v) = &n.value {
                        out.push_str(&format!("{{value={v}}}"));
                    }
                    if let Some(c) = n.checked {
                        out.push_str(&format!("{{checked={c}}}"));
                    }
                    if let Some((x, y)) = n.scroll {
                        out.push_str(&format!("{{scroll={x},{y}}}"));
                    }
                    for e in n.sheet.iter().chain(&n.extra) {
                        out.push_str(&format!("{{{e}}}"));
                    }
                    stack.push((id, false));
                    stack.extend(n.children.iter().rev().map(|&c| (c, true)));
                }
                (Some(NewNode::Element { tag, .. }), false) => out.push_str(&format!("</{tag}>")),
                (Some(NewNode::Text { text }), _) => out.push_str(text),
                (Some(NewNode::Comment { text }), _) => out.push_str(&format!("<!--{text}-->")),
                (Some(NewNode::Cdata { text }), _) => out.push_str(&format!("<![CDATA[{text}]]>")),
                (Some(NewNode::Doctype { name, .. }), _) => {
                    out.push_str(&format!("<!DOCTYPE {name}>"))
                }
                (Some(NewNode::ShadowRoot | NewNode::Document), true) => {
                    out.push_str(if matches!(n.node, Some(NewNode::ShadowRoot)) {
                        "#shadow-root("
                    } else {
                        "#document("
                    });
                    for e in &n.extra {
                        out.push_str(&format!("{{{e}}}"));
                    }
                    stack.push((id, false));
                    stack.extend(n.children.iter().rev().map(|&c| (c, true)));
                }
                (Some(NewNode::ShadowRoot | NewNode::Document), false) => out.push(')'),
                (None, _) => out.push_str("#document"),
            }
        }
        out
    }
}
