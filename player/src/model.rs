//! A virtual copy of the recorded document, and the DOM operations that keep
//! a live copy in step with it.
//!
//! Nodes live in a `HashMap` keyed by the recorded id, linked to their
//! parent and siblings by id. Ids come from untrusted data, so they are
//! never used as indexes; links make insertion before a sibling and removal
//! O(1); and every walk over the tree is a loop, never recursion, so a
//! 10,000-deep document cannot exhaust the stack.
//!
//! The model is the single source of truth: [`Model::apply`] changes it and
//! returns the [`DomOp`]s that bring a DOM built from the old state to the
//! new one; [`Model::render_all`] returns the ops that build the current
//! state from nothing. Both produce the same document (tested), so the
//! player can use whichever is cheaper for a seek.
//!
//! Bad data degrades, it never panics or corrupts: removes, attribute and
//! text changes naming unknown ids are ignored; an add under an unknown
//! parent is skipped; an add of an id that already exists replaces that
//! node (this is how a moved subtree arrives: serialised again, same ids);
//! an add that would put a node under itself or its own descendant is
//! refused, so the tree can never hold a cycle.
//!
//! Depth is bounded where it matters, in the live DOM: a node deeper than
//! [`MAX_DEPTH`] stays in the model but is never rendered (Chromium's own
//! HTML parser stops nesting at 512, and a scripted DOM thousands deep
//! crashes the viewer's tab in style and layout). [`Model::depth_cut`]
//! says whether that happened, so the player can say so.

use crate::ops::{DomOp, NewNode};
use crate::sanitize;
use reel_shared::{
    AdoptedStyleSheets, AttrChange, Element, Event, EventData, FlatNode, Input, Media, MediaAction,
    Mutation, NodeId, NodeKind, Scroll, SheetOp, SheetRef, Snapshot, StyleSheetChange, TextChange,
    NO_NODE,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One node of the replayed document.
#[derive(Clone, Debug)]
pub struct VNode {
    pub parent: NodeId,
    pub first_child: NodeId,
    pub last_child: NodeId,
    pub prev: NodeId,
    pub next: NodeId,
    /// The recorded content, unsanitised: sanitising happens when ops are
    /// made, so it can depend on the node's context and the page URL.
    pub kind: NodeKind,
    /// The recorded scroll position of an element (or, for the document,
    /// of the window).
    pub scroll: Option<(i32, i32)>,
    /// A media element's recorded state: (seconds, paused, rate).
    pub media: Option<(f64, bool, f64)>,
    /// A canvas's latest recorded bitmap.
    pub canvas: Option<String>,
    /// A popover shown (`showPopover`) and not hidden since.
    pub popover: bool,
    /// Whether the node exists in the live DOM. False for everything under
    /// a `<script>` (its code is never created) and under nodes that cannot
    /// have children in a DOM, and for nodes deeper than [`MAX_DEPTH`];
    /// fixed when the node is inserted, because what decides it (the
    /// parent's kind and tag, the depth) never changes afterwards.
    rendered: bool,
    /// Ancestors up to the document (the document's children are at 1).
    depth: u32,
}

/// The deepest a node may be and still be rendered: Chromium's HTML parser
/// nests no deeper than 512, so real pages stay under it, while a scripted
/// DOM 4,000 deep crashes the viewer's tab in style and layout.
pub const MAX_DEPTH: u32 = 512;

impl VNode {
    fn new(parent: NodeId, kind: NodeKind, rendered: bool) -> Self {
        VNode {
            parent,
            first_child: NO_NODE,
            last_child: NO_NODE,
            prev: NO_NODE,
            next: NO_NODE,
            kind,
            scroll: None,
            media: None,
            canvas: None,
            popover: false,
            rendered,
            depth: 0,
        }
    }

    pub fn rendered(&self) -> bool {
        self.rendered
    }

    /// May this node's children exist in the live DOM?
    fn shows_children(&self) -> bool {
        match &self.kind {
            NodeKind::Document | NodeKind::ShadowRoot => true,
            NodeKind::Element(el) => !sanitize::is_script(&el.tag, el.ns),
            // A cross-origin frame shows the document its own recorder
            // sent (`reel_shared::frames`), if one did.
            k => is_frame(k),
        }
    }
}

/// The replayed page: its document, URL and viewport.
#[derive(Clone, Debug, Default)]
pub struct Model {
    nodes: HashMap<NodeId, VNode>,
    /// The document node's id, [`NO_NODE`] before the first snapshot.
    root: NodeId,
    href: String,
    title: String,
    viewport: (u32, u32),
    /// CSSOM edits of each `<style>`/`<link>` sheet since its text was
    /// last set (setting the text reparses the sheet, dropping them).
    sheet_edits: BTreeMap<NodeId, Vec<SheetOp>>,
    /// Constructed sheets: the edits since (and including) the last
    /// `Replace`, which is all it takes to rebuild one.
    constructed: BTreeMap<u32, Vec<SheetOp>>,
    /// The adopted sheets of each document or shadow root.
    adopted: BTreeMap<NodeId, Vec<u32>>,
    /// A node was left out of the live DOM for being deeper than
    /// [`MAX_DEPTH`] (sticky: it says the session has such parts).
    depth_cut: bool,
    /// The latest recorded phase of each CSS animation since the last
    /// snapshot, by (element, pseudo-element, name).
    anims: BTreeMap<(NodeId, Option<String>, String), AnimState>,
    /// The `t` of the event being applied ([`Model::apply_event`]).
    clock: u64,
}

/// A CSS animation's recorded phase: `time` ms at the recorded `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnimState {
    pub t: u64,
    pub time: f64,
    pub paused: bool,
}

/// Where ops go while the model changes. Off while keyframes are built, so
/// that preprocessing a session does no sanitising work.
struct Sink {
    on: bool,
    ops: Vec<DomOp>,
    /// Elements whose live form state must be set once the whole batch is
    /// in the DOM (a `<select>`'s value needs its options to exist).
    state: Vec<NodeId>,
}

impl Sink {
    fn new(on: bool) -> Self {
        Sink {
            on,
            ops: Vec::new(),
            state: Vec::new(),
        }
    }

    fn push(&mut self, op: DomOp) {
        if self.on {
            self.ops.push(op);
        }
    }
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// The document node's id, or [`NO_NODE`].
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The recorded page's URL (from the latest `Meta`): the base for
    /// relative URLs.
    pub fn href(&self) -> &str {
        &self.href
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    /// The recorded viewport's width and height in CSS pixels.
    pub fn viewport(&self) -> (u32, u32) {
        self.viewport
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether some node was left out of the live DOM for being nested
    /// deeper than [`MAX_DEPTH`].
    pub fn depth_cut(&self) -> bool {
        self.depth_cut
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: NodeId) -> Option<&VNode> {
        self.nodes.get(&id)
    }

    /// The ids of a node's children, in order.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let first = self.nodes.get(&id).map_or(NO_NODE, |n| n.first_child);
        std::iter::successors((first != NO_NODE).then_some(first), move |c| {
            self.nodes.get(c).map(|n| n.next).filter(|&n| n != NO_NODE)
        })
    }

    /// Applies one event and returns the ops that bring a DOM showing the
    /// old state to the new one.
    pub fn apply(&mut self, data: &EventData) -> Vec<DomOp> {
        let mut sink = Sink::new(true);
        self.apply_to(data, &mut sink);
        self.finish(sink)
    }

    /// Applies one event without producing ops (building keyframes).
    pub fn apply_quiet(&mut self, data: &EventData) {
        self.apply_to(data, &mut Sink::new(false));
    }

    /// [`Model::apply`] knowing the event's time (what an animation's
    /// phase is measured from).
    pub fn apply_event(&mut self, e: &Event) -> Vec<DomOp> {
        self.clock = e.t;
        self.apply(&e.data)
    }

    /// [`Model::apply_quiet`] knowing the event's time.
    pub fn apply_event_quiet(&mut self, e: &Event) {
        self.clock = e.t;
        self.apply_quiet(&e.data);
    }

    /// The ops that set every recorded CSS animation of a rendered element
    /// to its phase at `t` (absolute ms): the recorded phase, moved on by
    /// the time since it was recorded unless it was paused.
    pub fn animation_ops(&self, t: u64) -> Vec<DomOp> {
        self.anims
            .iter()
            .filter(|((id, _, _), _)| self.nodes.get(id).is_some_and(|n| n.rendered))
            .map(|((id, pseudo, name), a)| DomOp::Animation {
                id: *id,
                name: name.clone(),
                pseudo: pseudo.clone(),
                time: if a.paused {
                    a.time
                } else {
                    a.time + t.saturating_sub(a.t) as f64
                },
                paused: a.paused,
            })
            .collect()
    }

    /// The recorded CSS animations (tests).
    pub fn anims(&self) -> &BTreeMap<(NodeId, Option<String>, String), AnimState> {
        &self.anims
    }

    fn apply_to(&mut self, data: &EventData, s: &mut Sink) {
        match data {
            EventData::Meta(m) => {
                let moved = self.href != m.href;
                self.href.clone_from(&m.href);
                self.title.clone_from(&m.title);
                self.viewport = (m.width, m.height);
                // A snapshot follows every Meta; until it arrives the old
                // page stays, but its URLs now resolve against the new base,
                // so it is rebuilt to stay equal to what `render_all` gives.
                if moved && s.on && self.root != NO_NODE {
                    s.ops = self.render_all();
                    s.state.clear();
                }
            }
            EventData::FullSnapshot(snap) => {
                self.load_snapshot(snap);
                if s.on {
                    s.ops = self.render_all();
                    s.state.clear();
                }
            }
            EventData::Mutation(m) => self.apply_mutation(m, s),
            EventData::Scroll(sc) => self.apply_scroll(sc, s),
            EventData::Viewport(v) => self.viewport = (v.width, v.height),
            EventData::Input(i) => self.apply_input(i, s),
            EventData::StyleSheet(c) => self.apply_sheet(c, s),
            EventData::AdoptedStyleSheets(a) => self.apply_adopt(a, s),
            EventData::Media(m) => self.apply_media(m, s),
            EventData::Canvas(c) => {
                if let Some(n) = self.nodes.get_mut(&c.id) {
                    if is_tag(&n.kind, "canvas")
                        && c.data_url.starts_with("data:image/")
                        && c.data_url.len() <= sanitize::MAX_VALUE
                    {
                        n.canvas = Some(c.data_url.clone());
                        if n.rendered {
                            s.push(DomOp::Canvas {
                                id: c.id,
                                url: c.data_url.clone(),
                            });
                        }
                    }
                }
            }
            EventData::Popover(p) => {
                if let Some(n) = self.nodes.get_mut(&p.id) {
                    if matches!(n.kind, NodeKind::Element(_)) {
                        n.popover = p.open;
                        if n.rendered {
                            s.push(DomOp::Popover {
                                id: p.id,
                                open: p.open,
                            });
                        }
                    }
                }
            }
            EventData::Animation(a) if self.nodes.contains_key(&a.id) && a.time.is_finite() => {
                self.anims.insert(
                    (a.id, a.pseudo.clone(), a.name.clone()),
                    AnimState {
                        t: self.clock,
                        time: a.time,
                        paused: a.paused,
                    },
                );
            }
            EventData::MouseMove(_)
            | EventData::Mouse(_)
            | EventData::Custom(_)
            | EventData::Identify(_) => {}
            // Console, errors, focus, selection, visibility, touch, dropped
            // data: shown on the timeline or ignored, never an error.
            _ => {}
        }
    }

    /// Appends the deferred form-state ops, computed from the final state
    /// of each element (a node replaced within the batch gets the state of
    /// its replacement, never a stale one).
    fn finish(&self, mut sink: Sink) -> Vec<DomOp> {
        let mut seen = HashSet::new();
        for id in std::mem::take(&mut sink.state) {
            if seen.insert(id) {
                if let Some(n) = self.nodes.get(&id) {
                    state_ops(id, n, &mut sink.ops);
                }
            }
        }
        sink.ops
    }

    /// Replaces the whole model with a snapshot. A snapshot whose first node
    /// is not a document leaves the model empty.
    fn load_snapshot(&mut self, snap: &Snapshot) {
        self.nodes.clear();
        self.root = NO_NODE;
        self.sheet_edits.clear();
        self.constructed.clear();
        self.adopted.clear();
        self.anims.clear();
        let Some((first, rest)) = snap.nodes.split_first() else {
            return;
        };
        if first.id == NO_NODE || !matches!(first.kind, NodeKind::Document) {
            return;
        }
        let mut doc = VNode::new(NO_NODE, NodeKind::Document, true);
        doc.scroll = Some((snap.scroll_x, snap.scroll_y));
        self.nodes.insert(first.id, doc);
        self.root = first.id;
        let mut quiet = Sink::new(false);
        for n in rest {
            self.insert(n.parent, NO_NODE, n, &mut quiet);
        }
    }

    /// Removes, then adds in list order, then attributes, then texts: the
    /// order the recorder's batch was built for.
    fn apply_mutation(&mut self, m: &Mutation, s: &mut Sink) {
        for &id in &m.removes {
            if id != self.root && self.nodes.contains_key(&id) {
                self.remove_node(id, s);
            }
        }
        for tree in &m.adds {
            let Some((first, rest)) = tree.nodes.split_first() else {
                continue;
            };
            if !self.insert(tree.parent, tree.next, first, s) {
                continue;
            }
            // The rest of a tree may only hang under nodes of the same tree:
            // a stray parent id must not graft nodes elsewhere.
            let mut mine: HashSet<NodeId> = HashSet::from([first.id]);
            for n in rest {
                if mine.contains(&n.parent) && self.insert(n.parent, NO_NODE, n, s) {
                    mine.insert(n.id);
                }
            }
        }
        for a in &m.attrs {
            self.set_attr(a, s);
        }
        for t in &m.texts {
            self.set_text(t, s);
        }
    }

    fn apply_scroll(&mut self, sc: &Scroll, s: &mut Sink) {
        if let Some(n) = self.nodes.get_mut(&sc.id) {
            n.scroll = Some((sc.x, sc.y));
            if n.rendered {
                s.push(DomOp::Scroll {
                    id: sc.id,
                    x: sc.x,
                    y: sc.y,
                });
            }
        }
    }

    fn apply_input(&mut self, input: &Input, s: &mut Sink) {
        let Some(n) = self.nodes.get_mut(&input.id) else {
            return;
        };
        let NodeKind::Element(el) = &mut n.kind else {
            return;
        };
        if let Some(v) = &input.value {
            el.value = Some(v.clone());
            if n.rendered {
                s.push(DomOp::SetValue {
                    id: input.id,
                    value: sanitize::text(v.display()),
                });
            }
        }
        if let Some(c) = input.checked {
            el.checked = Some(c);
            if n.rendered {
                s.push(DomOp::SetChecked {
                    id: input.id,
                    checked: c,
                });
            }
        }
    }

    fn set_attr(&mut self, a: &AttrChange, s: &mut Sink) {
        let Some(n) = self.nodes.get_mut(&a.id) else {
            return;
        };
        let NodeKind::Element(el) = &mut n.kind else {
            return;
        };
        let before = (n.rendered && s.on).then(|| sanitize::element_attrs(el, &self.href));
        match &a.value {
            Some(v) => match el.attrs.iter_mut().find(|(name, _)| *name == a.name) {
                Some(slot) => slot.1.clone_from(v),
                None => el.attrs.push((a.name.clone(), v.clone())),
            },
            None => el.attrs.retain(|(name, _)| *name != a.name),
        }
        // One raw change can change several sanitised attributes (a link's
        // `rel` decides what its `href` becomes), so diff the whole set.
        if let Some(before) = before {
            let after = sanitize::element_attrs(el, &self.href);
            diff_attrs(a.id, &before, &after, &mut s.ops);
        }
    }

    fn set_text(&mut self, t: &TextChange, s: &mut Sink) {
        let Some(n) = self.nodes.get(&t.id) else {
            return;
        };
        if !matches!(
            n.kind,
            NodeKind::Text(_) | NodeKind::Comment(_) | NodeKind::CData(_)
        ) {
            return;
        }
        let parent = n.parent;
        let rendered = n.rendered;
        self.sheet_edits.remove(&parent);
        if let Some(n) = self.nodes.get_mut(&t.id) {
            if let NodeKind::Text(x) | NodeKind::Comment(x) | NodeKind::CData(x) = &mut n.kind {
                x.clone_from(&t.text);
            }
        }
        if rendered && s.on {
            let text = self.text_for(parent, &t.text);
            s.push(DomOp::SetText { id: t.id, text });
        }
    }

    /// A text node's data as shown: CSS inside a `<style>` gets absolute URLs.
    fn text_for(&self, parent: NodeId, text: &str) -> String {
        match self.nodes.get(&parent).map(|p| &p.kind) {
            Some(NodeKind::Element(el)) if sanitize::is_style(&el.tag, el.ns) => {
                sanitize::style_text(text, &self.href)
            }
            _ => sanitize::text(text),
        }
    }

    /// Inserts a fresh node under `parent` before `next` (appends when `next`
    /// is not a child of `parent`). Returns false when the node was refused.
    fn insert(&mut self, parent: NodeId, next: NodeId, flat: &FlatNode, s: &mut Sink) -> bool {
        if flat.id == NO_NODE || !self.nodes.contains_key(&parent) {
            return false;
        }
        // A document only ever hangs under a frame (a same-origin iframe's
        // content), a shadow root only under an element.
        let parent_kind = self.nodes.get(&parent).map(|p| &p.kind);
        match &flat.kind {
            NodeKind::Document if !parent_kind.is_some_and(is_frame) => return false,
            NodeKind::ShadowRoot if !matches!(parent_kind, Some(NodeKind::Element(_))) => {
                return false
            }
            _ => {}
        }
        if self.nodes.contains_key(&flat.id) {
            if self.is_inclusive_ancestor(flat.id, parent) {
                return false;
            }
            self.remove_node(flat.id, s);
        }
        let depth = self.nodes.get(&parent).map_or(0, |p| p.depth) + 1;
        let shown = self
            .nodes
            .get(&parent)
            .is_some_and(|p| p.rendered && p.shows_children());
        let rendered = shown && depth <= MAX_DEPTH;
        if shown && !rendered {
            self.depth_cut = true;
        }
        let before = match self.nodes.get(&next) {
            Some(n) if next != NO_NODE && n.parent == parent => next,
            _ => NO_NODE,
        };
        let mut node = VNode::new(parent, flat.kind.clone(), rendered);
        node.depth = depth;
        self.nodes.insert(flat.id, node);
        self.link(flat.id, parent, before);
        if rendered && matches!(flat.kind, NodeKind::Document) {
            self.restate_frame(parent, s);
        }
        if rendered && s.on {
            if let Some(node) = self.new_node(flat.id) {
                s.ops.push(DomOp::Create {
                    id: flat.id,
                    parent,
                    next: before,
                    node,
                });
            }
            if matches!(&flat.kind, NodeKind::Element(el) if el.value.is_some() || el.checked.is_some())
            {
                s.state.push(flat.id);
            }
        }
        true
    }

    /// Links an unlinked node `id` into `parent`'s children before `before`
    /// (or last).
    fn link(&mut self, id: NodeId, parent: NodeId, before: NodeId) {
        let prev = if before != NO_NODE {
            self.nodes.get(&before).map_or(NO_NODE, |n| n.prev)
        } else {
            self.nodes.get(&parent).map_or(NO_NODE, |n| n.last_child)
        };
        if let Some(n) = self.nodes.get_mut(&id) {
            n.parent = parent;
            n.prev = prev;
            n.next = before;
        }
        match self.nodes.get_mut(&prev) {
            Some(p) if prev != NO_NODE => p.next = id,
            _ => {
                if let Some(p) = self.nodes.get_mut(&parent) {
                    p.first_child = id;
                }
            }
        }
        match self.nodes.get_mut(&before) {
            Some(b) if before != NO_NODE => b.prev = id,
            _ => {
                if let Some(p) = self.nodes.get_mut(&parent) {
                    p.last_child = id;
                }
            }
        }
    }

    /// Unlinks `id` from its parent and siblings.
    fn unlink(&mut self, id: NodeId) {
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        let (parent, prev, next) = (n.parent, n.prev, n.next);
        n.parent = NO_NODE;
        n.prev = NO_NODE;
        n.next = NO_NODE;
        match self.nodes.get_mut(&prev) {
            Some(p) if prev != NO_NODE => p.next = next,
            _ => {
                if let Some(p) = self.nodes.get_mut(&parent) {
                    p.first_child = next;
                }
            }
        }
        match self.nodes.get_mut(&next) {
            Some(x) if next != NO_NODE => x.prev = prev,
            _ => {
                if let Some(p) = self.nodes.get_mut(&parent) {
                    p.last_child = prev;
                }
            }
        }
    }

    /// Does `id` hold a document (a frame's)?
    fn shows_document(&self, id: NodeId) -> bool {
        self.children(id).any(|c| {
            self.nodes
                .get(&c)
                .is_some_and(|n| matches!(n.kind, NodeKind::Document))
        })
    }

    /// A frame's placeholder (no document) and the frame showing a
    /// document are different elements: the frame is created anew when it
    /// gains or loses its document (a frame's `srcdoc` removed would load
    /// `about:blank` over the document put in it).
    fn restate_frame(&self, id: NodeId, s: &mut Sink) {
        let Some(n) = self.nodes.get(&id) else { return };
        if !s.on || !n.rendered || !is_frame(&n.kind) {
            return;
        }
        if let Some(node) = self.new_node(id) {
            let next = match self.nodes.get(&n.next) {
                Some(x) if x.rendered => n.next,
                _ => NO_NODE,
            };
            s.push(DomOp::Remove { id });
            s.push(DomOp::Create {
                id,
                parent: n.parent,
                next,
                node,
            });
        }
    }

    /// Removes a node and forgets its whole subtree.
    fn remove_node(&mut self, id: NodeId, s: &mut Sink) {
        if self.nodes.get(&id).is_some_and(|n| n.rendered) {
            s.push(DomOp::Remove { id });
        }
        let parent = self.nodes.get(&id).map_or(NO_NODE, |n| n.parent);
        let doc = self
            .nodes
            .get(&id)
            .is_some_and(|n| matches!(n.kind, NodeKind::Document));
        self.unlink(id);
        if doc {
            self.restate_frame(parent, s);
        }
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            if let Some(n) = self.nodes.remove(&cur) {
                let mut c = n.first_child;
                while c != NO_NODE {
                    stack.push(c);
                    c = self.nodes.get(&c).map_or(NO_NODE, |x| x.next);
                }
            }
        }
    }

    /// Is `a` the node `b` or one of its ancestors?
    fn is_inclusive_ancestor(&self, a: NodeId, b: NodeId) -> bool {
        let mut cur = b;
        // The tree has no cycles, but a bound costs nothing and makes this
        // loop terminate whatever happens.
        for _ in 0..=self.nodes.len() {
            if cur == a {
                return true;
            }
            match self.nodes.get(&cur) {
                Some(n) if n.parent != NO_NODE => cur = n.parent,
                _ => return false,
            }
        }
        false
    }

    /// What to create for a node in the live DOM (sanitised).
    fn new_node(&self, id: NodeId) -> Option<NewNode> {
        let n = self.nodes.get(&id)?;
        Some(match &n.kind {
            NodeKind::Document => NewNode::Document,
            NodeKind::ShadowRoot => NewNode::ShadowRoot,
            NodeKind::Doctype {
                name,
                public_id,
                system_id,
            } => NewNode::Doctype {
                name: name.clone(),
                public_id: public_id.clone(),
                system_id: system_id.clone(),
            },
            NodeKind::Element(el) => {
                let mut node = element_node(el, &self.href);
                // A frame with no document (another origin's, whose own
                // recorder did not join) keeps its own box and styles and
                // says so inside.
                if let NewNode::Element { attrs, .. } = &mut node {
                    if is_frame(&n.kind) && !self.shows_document(id) {
                        attrs.push((
                            "srcdoc".to_string(),
                            sanitize::FRAME_PLACEHOLDER.to_string(),
                        ));
                    }
                }
                node
            }
            NodeKind::Blocked {
                tag,
                ns,
                width,
                height,
            } => NewNode::Element {
                tag: tag.clone(),
                ns: (*ns).into(),
                attrs: if self.shows_document(id) {
                    sanitize::frame_attrs(*width, *height)
                } else {
                    sanitize::blocked_attrs(tag, *width, *height)
                },
            },
            NodeKind::Text(t) => NewNode::Text {
                text: self.text_for(n.parent, t),
            },
            NodeKind::Comment(t) => NewNode::Comment {
                text: sanitize::text(t),
            },
            NodeKind::CData(t) => NewNode::Cdata {
                text: sanitize::text(t),
            },
        })
    }

    /// The ops that build the whole current document from nothing, starting
    /// with a [`DomOp::Reset`]. Form state and scroll positions come last,
    /// once everything they depend on exists.
    pub fn render_all(&self) -> Vec<DomOp> {
        let mut ops = Vec::with_capacity(self.nodes.len() + 1);
        ops.push(DomOp::Reset { doc: self.root });
        let Some(root) = self.nodes.get(&self.root) else {
            return ops;
        };
        let mut late = Vec::new();
        let mut cur = root.first_child;
        while cur != NO_NODE {
            let Some(n) = self.nodes.get(&cur) else { break };
            if n.rendered {
                if let Some(node) = self.new_node(cur) {
                    ops.push(DomOp::Create {
                        id: cur,
                        parent: n.parent,
                        next: NO_NODE,
                        node,
                    });
                }
                state_ops(cur, n, &mut late);
                if let Some((x, y)) = n.scroll {
                    late.push(DomOp::Scroll { id: cur, x, y });
                }
                media_ops(cur, n, &mut late);
                if n.first_child != NO_NODE {
                    cur = n.first_child;
                    continue;
                }
            }
            cur = self.next_in_preorder_skipping_children(cur);
        }
        if let Some((x, y)) = root.scroll {
            late.push(DomOp::Scroll {
                id: self.root,
                x,
                y,
            });
        }
        self.sheet_ops(&mut ops);
        ops.extend(late);
        ops
    }

    /// The ops that restate every CSSOM edit, constructed sheet and
    /// adoption (after the nodes they refer to exist).
    fn sheet_ops(&self, ops: &mut Vec<DomOp>) {
        for (&cs, edits) in &self.constructed {
            for e in edits {
                ops.push(self.sheet_op(0, cs, e));
            }
        }
        for (&id, edits) in &self.sheet_edits {
            if self.nodes.get(&id).is_some_and(|n| n.rendered) {
                for e in edits {
                    ops.push(self.sheet_op(id, 0, e));
                }
            }
        }
        for (&id, sheets) in &self.adopted {
            if self.nodes.get(&id).is_some_and(|n| n.rendered) {
                ops.push(DomOp::Adopt {
                    id,
                    sheets: sheets.clone(),
                });
            }
        }
    }

    /// One sheet edit as an op, its CSS URLs made absolute.
    fn sheet_op(&self, id: NodeId, cs: u32, e: &SheetOp) -> DomOp {
        match e {
            SheetOp::Insert { path, index, rule } => DomOp::SheetInsert {
                id,
                cs,
                path: path.clone(),
                index: *index,
                rule: sanitize::style_text(rule, &self.href),
            },
            SheetOp::Delete { path, index } => DomOp::SheetDelete {
                id,
                cs,
                path: path.clone(),
                index: *index,
            },
            SheetOp::Replace { text } => DomOp::SheetReplace {
                id,
                cs,
                text: sanitize::style_text(text, &self.href),
            },
        }
    }

    fn apply_sheet(&mut self, c: &StyleSheetChange, s: &mut Sink) {
        let (id, cs) = match c.sheet {
            SheetRef::Node(id) => {
                match self.nodes.get(&id) {
                    Some(n) if is_tag(&n.kind, "style") || is_tag(&n.kind, "link") => {}
                    _ => return,
                }
                let edits = self.sheet_edits.entry(id).or_default();
                if matches!(c.op, SheetOp::Replace { .. }) {
                    edits.clear();
                }
                edits.push(c.op.clone());
                if !self.nodes.get(&id).is_some_and(|n| n.rendered) {
                    return;
                }
                (id, 0)
            }
            SheetRef::Constructed(cs) => {
                let edits = self.constructed.entry(cs).or_default();
                if matches!(c.op, SheetOp::Replace { .. }) {
                    edits.clear();
                }
                edits.push(c.op.clone());
                (0, cs)
            }
        };
        if s.on {
            let op = self.sheet_op(id, cs, &c.op);
            s.push(op);
        }
    }

    fn apply_adopt(&mut self, a: &AdoptedStyleSheets, s: &mut Sink) {
        let Some(n) = self.nodes.get(&a.root) else {
            return;
        };
        if !matches!(n.kind, NodeKind::Document | NodeKind::ShadowRoot) {
            return;
        }
        let rendered = n.rendered;
        self.adopted.insert(a.root, a.sheets.clone());
        if rendered {
            s.push(DomOp::Adopt {
                id: a.root,
                sheets: a.sheets.clone(),
            });
        }
    }

    fn apply_media(&mut self, m: &Media, s: &mut Sink) {
        let Some(n) = self.nodes.get_mut(&m.id) else {
            return;
        };
        if !(is_tag(&n.kind, "video") || is_tag(&n.kind, "audio")) {
            return;
        }
        let paused = match m.action {
            MediaAction::Play => false,
            MediaAction::Pause => true,
            _ => n.media.is_none_or(|(_, p, _)| p),
        };
        let rate = if m.rate.is_finite() && m.rate > 0.0 {
            m.rate
        } else {
            1.0
        };
        n.media = Some((m.time, paused, rate));
        if n.rendered {
            media_ops(m.id, n, &mut s.ops);
        }
    }

    /// The node after `id` in document order once `id`'s children are done:
    /// its next sibling, or its nearest ancestor's next sibling (below the
    /// document).
    fn next_in_preorder_skipping_children(&self, id: NodeId) -> NodeId {
        let mut c = id;
        while c != self.root && c != NO_NODE {
            let Some(n) = self.nodes.get(&c) else {
                return NO_NODE;
            };
            if n.next != NO_NODE {
                return n.next;
            }
            c = n.parent;
        }
        NO_NODE
    }

    /// A readable dump of the raw model (tests and debugging): elements as
    /// tags with attributes, form state in braces, blocked boxes marked.
    pub fn outline(&self) -> String {
        let mut out = String::new();
        // (node, entering): closing tags are emitted on the way back.
        let mut stack: Vec<(NodeId, bool)> = Vec::new();
        let kids: Vec<NodeId> = self.children(self.root).collect();
        for k in kids.into_iter().rev() {
            stack.push((k, true));
        }
        while let Some((id, entering)) = stack.pop() {
            let Some(n) = self.nodes.get(&id) else {
                continue;
            };
            match (&n.kind, entering) {
                (NodeKind::Element(el), true) => {
                    out.push('<');
                    out.push_str(&el.tag);
                    for (k, v) in &el.attrs {
                        out.push_str(&format!(" {k}=\"{v}\""));
                    }
                    out.push('>');
                    if let Some(v) = &el.value {
                        out.push_str(&format!("{{value={}}}", v.display()));
                    }
                    if let Some(c) = el.checked {
                        out.push_str(&format!("{{checked={c}}}"));
                    }
                    stack.push((id, false));
                    let kids: Vec<NodeId> = self.children(id).collect();
                    for k in kids.into_iter().rev() {
                        stack.push((k, true));
                    }
                }
                (NodeKind::Element(el), false) => out.push_str(&format!("</{}>", el.tag)),
                (NodeKind::Doctype { name, .. }, _) => out.push_str(&format!("<!DOCTYPE {name}>")),
                (NodeKind::Text(t), _) => out.push_str(t),
                (NodeKind::Comment(t), _) => out.push_str(&format!("<!--{t}-->")),
                (NodeKind::CData(t), _) => out.push_str(&format!("<![CDATA[{t}]]>")),
                (
                    NodeKind::Blocked {
                        tag, width, height, ..
                    },
                    _,
                ) => out.push_str(&format!("<{tag} blocked={width}x{height}></{tag}>")),
                (NodeKind::Document, true) => {
                    out.push_str("#document(");
                    stack.push((id, false));
                    let kids: Vec<NodeId> = self.children(id).collect();
                    for k in kids.into_iter().rev() {
                        stack.push((k, true));
                    }
                }
                (NodeKind::Document, false) => out.push(')'),
                (NodeKind::ShadowRoot, true) => {
                    out.push_str("#shadow-root(");
                    stack.push((id, false));
                    let kids: Vec<NodeId> = self.children(id).collect();
                    for k in kids.into_iter().rev() {
                        stack.push((k, true));
                    }
                }
                (NodeKind::ShadowRoot, false) => out.push(')'),
            }
        }
        out
    }
}

#[cfg(test)]
impl Model {
    /// Checks the links: every node is reachable from the document exactly
    /// once, sibling links agree both ways, and children name their parent.
    pub(crate) fn check(&self) {
        let mut seen = HashSet::new();
        if self.root == NO_NODE {
            assert!(self.nodes.is_empty(), "nodes without a document");
            return;
        }
        let mut stack = vec![self.root];
        while let Some(id) = stack.pop() {
            assert!(seen.insert(id), "node {id} reached twice");
            let n = &self.nodes[&id];
            let mut prev = NO_NODE;
            let mut c = n.first_child;
            while c != NO_NODE {
                let child = &self.nodes[&c];
                assert_eq!(child.parent, id, "child {c} of {id} names another parent");
                assert_eq!(child.prev, prev, "prev link of {c}");
                stack.push(c);
                prev = c;
                c = child.next;
            }
            assert_eq!(n.last_child, prev, "last child of {id}");
        }
        assert_eq!(
            seen.len(),
            self.nodes.len(),
            "unreachable nodes left in the map"
        );
    }
}

fn element_node(el: &Element, href: &str) -> NewNode {
    NewNode::Element {
        tag: el.tag.clone(),
        ns: el.ns.into(),
        attrs: sanitize::element_attrs(el, href),
    }
}

/// A frame element, whose document is the page's recorder's (same origin)
/// or the frame's own recorder's (`reel_shared::frames`); a blocked one
/// (`Blocked`) from recordings made when cross-origin frames were recorded
/// as their box.
fn is_frame(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::Blocked { tag, ns, .. } => {
            *ns == reel_shared::Namespace::Html
                && (tag.eq_ignore_ascii_case("iframe") || tag.eq_ignore_ascii_case("frame"))
        }
        k => is_tag(k, "iframe") || is_tag(k, "frame"),
    }
}

/// Whether `kind` is an HTML element with this (lowercase) tag.
fn is_tag(kind: &NodeKind, tag: &str) -> bool {
    matches!(kind, NodeKind::Element(el) if el.ns == reel_shared::Namespace::Html && el.tag.eq_ignore_ascii_case(tag))
}

/// The ops that restate a media element's state, a canvas's bitmap or an
/// open popover.
fn media_ops(id: NodeId, n: &VNode, out: &mut Vec<DomOp>) {
    if n.popover {
        out.push(DomOp::Popover { id, open: true });
    }
    if let Some((time, paused, rate)) = n.media {
        out.push(DomOp::Media {
            id,
            time,
            paused,
            rate,
        });
    }
    if let Some(url) = &n.canvas {
        out.push(DomOp::Canvas {
            id,
            url: url.clone(),
        });
    }
}

/// The ops that set an element's live form state.
fn state_ops(id: NodeId, n: &VNode, out: &mut Vec<DomOp>) {
    if let NodeKind::Element(el) = &n.kind {
        if let Some(v) = &el.value {
            out.push(DomOp::SetValue {
                id,
                value: sanitize::text(v.display()),
            });
        }
        if let Some(c) = el.checked {
            out.push(DomOp::SetChecked { id, checked: c });
        }
    }
}

/// The ops that turn attribute set `before` into `after` on one element.
/// The DOM keeps one value per name, the last one set, so both sides are
/// read that way.
fn diff_attrs(
    id: NodeId,
    before: &[(String, String)],
    after: &[(String, String)],
    out: &mut Vec<DomOp>,
) {
    let old: HashMap<&str, &str> = before
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let new: HashMap<&str, &str> = after
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut removed: HashSet<&str> = HashSet::new();
    for (name, _) in before {
        if !new.contains_key(name.as_str()) && removed.insert(name) {
            out.push(DomOp::RemoveAttr {
                id,
                name: name.clone(),
            });
        }
    }
    let mut done: HashSet<&str> = HashSet::new();
    for (name, _) in after {
        let value = new.get(name.as_str()).copied().unwrap_or_default();
        if old.get(name.as_str()) != Some(&value) && done.insert(name) {
            out.push(DomOp::SetAttr {
                id,
                name: name.clone(),
                value: value.to_string(),
            });
        }
    }
}

pub(crate) mod diff;

#[cfg(test)]
pub(crate) mod tests;
