//! Just enough of the recorded document to describe what the user acted
//! on: each node's parent, an element's tag and attributes, a text node's
//! text. Kept up to date from snapshots and mutations as the session's
//! events go by, so a click's target can be told apart (a checkbox, a
//! field, a link) and the final page's heading read.
//!
//! Removed nodes are dropped at once and their descendants, left without a
//! parent, by a sweep when the map has grown well past its live size: a
//! long session's memory follows its page, not its history.

use reel_shared::{FlatNode, Mutation, NodeId, NodeKind, NO_NODE};
use std::collections::HashMap;

/// How far up a target's ancestors we look for what it belongs to.
const MAX_CLIMB: usize = 64;

#[derive(Debug)]
enum Kind {
    Document,
    Element {
        tag: String,
        attrs: Vec<(String, String)>,
    },
    Text(String),
    Other,
}

#[derive(Debug)]
struct Node {
    parent: NodeId,
    kind: Kind,
}

#[derive(Debug, Default)]
pub struct Dom {
    nodes: HashMap<NodeId, Node>,
    /// Live nodes after the last sweep: the next one is due at twice that.
    live_at_sweep: usize,
}

impl Dom {
    /// A new page (a full snapshot): the old document is gone.
    pub fn snapshot(&mut self, nodes: &[FlatNode]) {
        self.nodes.clear();
        self.live_at_sweep = 0;
        self.add(nodes);
    }

    pub fn mutation(&mut self, m: &Mutation) {
        for id in &m.removes {
            self.nodes.remove(id);
        }
        for add in &m.adds {
            self.add(&add.nodes);
        }
        for a in &m.attrs {
            if let Some(Node {
                kind: Kind::Element { attrs, .. },
                ..
            }) = self.nodes.get_mut(&a.id)
            {
                attrs.retain(|(n, _)| *n != a.name);
                if let Some(v) = &a.value {
                    attrs.push((a.name.clone(), v.clone()));
                }
            }
        }
        for t in &m.texts {
            if let Some(Node {
                kind: Kind::Text(text),
                ..
            }) = self.nodes.get_mut(&t.id)
            {
                text.clone_from(&t.text);
            }
        }
        if self.nodes.len() > 2 * self.live_at_sweep + 10_000 {
            self.sweep();
        }
    }

    fn add(&mut self, nodes: &[FlatNode]) {
        for n in nodes {
            let kind = match &n.kind {
                NodeKind::Document => Kind::Document,
                NodeKind::Element(e) => Kind::Element {
                    tag: e.tag.clone(),
                    attrs: e.attrs.clone(),
                },
                NodeKind::Blocked { tag, .. } => Kind::Element {
                    tag: tag.clone(),
                    attrs: Vec::new(),
                },
                NodeKind::Text(t) => Kind::Text(t.clone()),
                _ => Kind::Other,
            };
            self.nodes.insert(
                n.id,
                Node {
                    parent: n.parent,
                    kind,
                },
            );
        }
    }

    /// Drops every node no longer attached to a document.
    fn sweep(&mut self) {
        let mut live: HashMap<NodeId, bool> = HashMap::new();
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in &ids {
            self.attached(*id, &mut live);
        }
        self.nodes
            .retain(|id, _| live.get(id).copied().unwrap_or(false));
        self.live_at_sweep = self.nodes.len();
    }

    /// Whether `id` hangs from a document, remembering the answer for
    /// every node on the way.
    fn attached(&self, id: NodeId, memo: &mut HashMap<NodeId, bool>) -> bool {
        let mut path = Vec::new();
        let mut cur = id;
        let answer = loop {
            if let Some(&known) = memo.get(&cur) {
                break known;
            }
            let Some(n) = self.nodes.get(&cur) else {
                break false;
            };
            path.push(cur);
            if matches!(n.kind, Kind::Document) && n.parent == NO_NODE {
                break true;
            }
            if path.len() > 100_000 {
                break false;
            }
            cur = n.parent;
        };
        for p in path {
            memo.insert(p, answer);
        }
        answer
    }

    pub fn tag(&self, id: NodeId) -> Option<&str> {
        match &self.nodes.get(&id)?.kind {
            Kind::Element { tag, .. } => Some(tag),
            _ => None,
        }
    }

    pub fn attr(&self, id: NodeId, name: &str) -> Option<&str> {
        match &self.nodes.get(&id)?.kind {
            Kind::Element { attrs, .. } => attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes.get(&id).map(|n| n.parent)
    }

    /// `id` and its ancestors, nearest first (bounded).
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(Some(id), |&n| self.parent(n).filter(|&p| p != NO_NODE))
            .take(MAX_CLIMB)
    }

    /// What a click on `id` acts on: the nearest interactive ancestor (the
    /// button around an icon), else `id` itself. The recorder describes
    /// the same element in the event's label and selector.
    pub fn actionable(&self, id: NodeId) -> NodeId {
        self.ancestors(id)
            .find(|&n| {
                let Some(tag) = self.tag(n) else { return false };
                matches!(
                    tag,
                    "button" | "input" | "select" | "textarea" | "summary" | "label" | "option"
                ) || (tag == "a" && self.attr(n, "href").is_some())
                    || self.attr(n, "role").is_some_and(|r| {
                        matches!(
                            r,
                            "button"
                                | "link"
                                | "checkbox"
                                | "radio"
                                | "switch"
                                | "tab"
                                | "menuitem"
                                | "option"
                        )
                    })
            })
            .unwrap_or(id)
    }

    /// Whether `id` is inside a `<label>` (a click there toggles its
    /// field).
    pub fn in_label(&self, id: NodeId) -> bool {
        self.ancestors(id).any(|n| self.tag(n) == Some("label"))
    }

    /// The `type` of an `<input>`, lowercased (`text` when absent).
    pub fn input_type(&self, id: NodeId) -> String {
        self.attr(id, "type")
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "text".into())
    }

    /// The element's ARIA role: explicit, else implicit for the tags
    /// people act on (as Playwright's `getByRole` sees them).
    pub fn role(&self, id: NodeId) -> Option<String> {
        if let Some(r) = self.attr(id, "role") {
            if let Some(first) = r.split_whitespace().next() {
                return Some(first.to_ascii_lowercase());
            }
        }
        let tag = self.tag(id)?;
        let r = match tag {
            "button" | "summary" => "button",
            "textarea" => "textbox",
            "select" => {
                if self.attr(id, "multiple").is_some() {
                    "listbox"
                } else {
                    "combobox"
                }
            }
            "a" | "area" if self.attr(id, "href").is_some() => "link",
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => "heading",
            "option" => "option",
            "img" => "img",
            "input" => match self.input_type(id).as_str() {
                "button" | "submit" | "reset" | "image" => "button",
                "checkbox" => "checkbox",
                "radio" => "radio",
                "range" => "slider",
                "number" => "spinbutton",
                "search" => "searchbox",
                "email" | "tel" | "text" | "url" => "textbox",
                _ => return None,
            },
            _ => return None,
        };
        Some(r.to_string())
    }

    /// The text under `id`, in document order (ids are handed out in
    /// document order), whitespace collapsed.
    fn text_under(&self, id: NodeId) -> String {
        let mut memo: HashMap<NodeId, bool> = HashMap::new();
        let mut texts: Vec<(NodeId, &str)> = Vec::new();
        for (&nid, n) in &self.nodes {
            let Kind::Text(t) = &n.kind else { continue };
            if self.under(nid, id, &mut memo) {
                texts.push((nid, t));
            }
        }
        texts.sort_by_key(|(n, _)| *n);
        let joined: Vec<&str> = texts.iter().map(|(_, t)| *t).collect();
        joined
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn under(&self, node: NodeId, ancestor: NodeId, memo: &mut HashMap<NodeId, bool>) -> bool {
        let mut path = Vec::new();
        let mut cur = node;
        let answer = loop {
            if cur == ancestor {
                break true;
            }
            if let Some(&known) = memo.get(&cur) {
                break known;
            }
            path.push(cur);
            match self.parent(cur) {
                Some(p) if p != NO_NODE && path.len() < 100_000 => cur = p,
                _ => break false,
            }
        };
        for p in path {
            memo.insert(p, answer);
        }
        answer
    }

    /// The first attached element with tag `tag` (in document order),
    /// with its text.
    pub fn first_text_of(&self, tag: &str) -> Option<String> {
        let mut memo = HashMap::new();
        let mut found: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(&n.kind, Kind::Element { tag: t, .. } if t == tag))
            .map(|(&id, _)| id)
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .filter(|&id| self.attached(id, &mut memo))
            .map(|id| self.text_under(id))
            .find(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repro::tests::{el, text};
    use reel_shared::AddedTree;

    fn page() -> Dom {
        let mut d = Dom::default();
        d.snapshot(&[
            FlatNode {
                id: 1,
                parent: NO_NODE,
                kind: NodeKind::Document,
            },
            el(2, 1, "html", &[]),
            el(3, 2, "body", &[]),
            el(4, 3, "h1", &[]),
            text(5, 4, " To-do "),
            el(6, 3, "button", &[]),
            el(7, 6, "span", &[]),
            text(8, 7, "Add"),
            el(9, 3, "label", &[]),
            el(10, 9, "input", &[("type", "checkbox")]),
        ]);
        d
    }

    #[test]
    fn roles_and_actionable_ancestors() {
        let d = page();
        assert_eq!(d.actionable(8), 6);
        assert_eq!(d.actionable(7), 6);
        assert_eq!(d.role(6).as_deref(), Some("button"));
        assert_eq!(d.role(10).as_deref(), Some("checkbox"));
        assert!(d.in_label(10));
        assert!(!d.in_label(6));
        assert_eq!(d.first_text_of("h1").as_deref(), Some("To-do"));
    }

    #[test]
    fn removed_headings_are_not_the_page_heading() {
        let mut d = page();
        d.mutation(&Mutation {
            removes: vec![4],
            adds: vec![AddedTree {
                parent: 3,
                next: NO_NODE,
                nodes: vec![el(20, 3, "h1", &[]), text(21, 20, "Done")],
            }],
            ..Mutation::default()
        });
        assert_eq!(d.first_text_of("h1").as_deref(), Some("Done"));
        d.sweep();
        assert!(d.tag(5).is_none(), "the removed heading's text is swept");
        assert_eq!(d.tag(20), Some("h1"));
    }
}
