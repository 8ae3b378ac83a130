//! The ops that turn a DOM showing one state of the model into another,
//! keeping every node the two states share.
//!
//! A far seek used to rebuild the whole document. For a page of a few
//! thousand nodes the browser's part of that (creating the nodes, then
//! styling and laying out all of them from nothing) cost 150–400 ms on a
//! loaded machine, whatever the model did. Keeping the nodes both states
//! share leaves the browser only the changed ones to style and lay out.
//!
//! A node is kept when it is rendered in both states, under the same
//! parent, which is itself kept (or is the document), and when what the DOM
//! cannot take back is compatible: same kind, tag and namespace, and no live
//! form state, scroll or media that the target state would not restate.
//!
//! A node that is gone from the target can also lend its DOM node to a new
//! node of the same shape (kind, tag, namespace) in the same gap between
//! kept siblings, so that nothing has to move: the executor renames it
//! ([`DomOp::Rebind`]) and the diff restates its attributes and text, then
//! matches its children the same way. Only plain elements are recycled:
//! form controls, media, frames and the like keep state no op restates.
//!
//! Everything else is removed and created afresh, as a rebuild would. The
//! result equals `render_all` of the target (tested against it, also over
//! chains of diffs on one DOM, which checks the executor's renamed ids).
//!
//! Pages using CSSOM edits, constructed or adopted sheets, shadow roots,
//! nested documents, media or canvas are rebuilt instead: their live state
//! is not all in the nodes, and a rebuild is known to restate it.

use super::{media_ops, state_ops, Model, VNode};
use crate::ops::{DomOp, NewNode};
use reel_shared::{NodeId, NodeKind, NO_NODE};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether gone nodes lend their DOM nodes to new ones. On, unless the seek
/// benchmark compares without (`reelPlayer.setRecycling(false)`).
pub static RECYCLE: AtomicBool = AtomicBool::new(true);

impl Model {
    /// The ops that bring a DOM showing `old` to show `self`, or `None` when
    /// only a rebuild ([`Model::render_all`]) is known to be right.
    pub fn diff_from(&self, old: &Model) -> Option<Vec<DomOp>> {
        if self.root == NO_NODE
            || self.root != old.root
            || self.href != old.href
            || !self.plain()
            || !old.plain()
        {
            return None;
        }
        let root = self.nodes.get(&self.root)?;
        let old_root = old.nodes.get(&old.root)?;
        if root.scroll.is_none() && old_root.scroll.is_some() {
            return None;
        }
        // Every remove goes first: an id removed here may be created again
        // under another parent, and the executor must not remove the new
        // node in its place. Renames come next, before any op names a
        // renamed node by its new id.
        let mut removes = Vec::new();
        let mut rebinds = Vec::new();
        let mut ops = Vec::new();
        let mut late = Vec::new();
        let recycle = RECYCLE.load(Ordering::Relaxed);
        // Pairs (node in `self`, node of `old` whose DOM node shows it)
        // whose children still need matching: the same id when kept, two
        // ids when recycled.
        let mut todo = vec![(self.root, self.root)];
        while let Some((p, q)) = todo.pop() {
            let new_kids: Vec<NodeId> = self
                .children(p)
                .filter(|c| self.nodes.get(c).is_some_and(|n| n.rendered))
                .collect();
            let old_kids: Vec<NodeId> = old
                .children(q)
                .filter(|c| old.nodes.get(c).is_some_and(|n| n.rendered))
                .collect();
            // The common case: the same children in the same order.
            if p == q && new_kids == old_kids && new_kids.iter().all(|&c| self.reusable(old, c)) {
                for &c in &new_kids {
                    self.update(old, c, c, &mut ops, &mut late);
                    if self.has_children(old, c, c) {
                        todo.push((c, c));
                    }
                }
                continue;
            }
            let old_index: HashMap<NodeId, usize> =
                old_kids.iter().enumerate().map(|(i, &c)| (c, i)).collect();
            // New child -> the old child whose DOM node shows it.
            let mut shown_by: HashMap<NodeId, NodeId> = new_kids
                .iter()
                .filter(|c| old_index.contains_key(c) && self.reusable(old, **c))
                .map(|&c| (c, c))
                .collect();
            if recycle {
                let kids = (&new_kids[..], &old_kids[..], &old_index);
                self.recycle(old, kids, &mut shown_by, &mut rebinds);
            }
            let used: HashSet<NodeId> = shown_by.values().copied().collect();
            for c in &old_kids {
                if !used.contains(c) {
                    removes.push(DomOp::Remove { id: *c });
                }
            }
            // Old positions of the kept children, in their new order; the
            // longest increasing run stays where it is, the rest moves.
            let kept_order: Vec<NodeId> = new_kids
                .iter()
                .copied()
                .filter(|c| shown_by.contains_key(c))
                .collect();
            let stay = longest_increasing(&kept_order, |c| {
                shown_by
                    .get(c)
                    .and_then(|o| old_index.get(o))
                    .copied()
                    .unwrap_or(0)
            });
            // Right to left, so that the sibling each node goes before is
            // already where it belongs.
            let mut next = NO_NODE;
            for &c in new_kids.iter().rev() {
                if let Some(&o) = shown_by.get(&c) {
                    if !stay.contains(&c) {
                        ops.push(DomOp::Move {
                            id: c,
                            parent: p,
                            next,
                        });
                    }
                    self.update(old, c, o, &mut ops, &mut late);
                    if self.has_children(old, c, o) {
                        todo.push((c, o));
                    }
                } else {
                    self.create_subtree(c, next, &mut ops, &mut late);
                }
                next = c;
            }
        }
        if let Some((x, y)) = root.scroll {
            late.push(DomOp::Scroll {
                id: self.root,
                x,
                y,
            });
        }
        removes.extend(rebinds);
        removes.extend(ops);
        removes.extend(late);
        Some(removes)
    }

    /// Lends old children gone from `self` to new children that have no
    /// node of their own: each takes the first spare of its shape that lies
    /// in the same gap between kept children (after the last child paired,
    /// before the next kept one), so recycling never makes a node move.
    /// `kids`: the new children, the old ones, and the old ones' indexes.
    fn recycle(
        &self,
        old: &Model,
        (new_kids, old_kids, old_index): (&[NodeId], &[NodeId], &HashMap<NodeId, usize>),
        shown_by: &mut HashMap<NodeId, NodeId>,
        rebinds: &mut Vec<DomOp>,
    ) {
        // Spare old children by shape, in their order: (index, id).
        let mut spare: HashMap<Shape<'_>, VecDeque<(usize, NodeId)>> = HashMap::new();
        for (i, &o) in old_kids.iter().enumerate() {
            if !self.nodes.contains_key(&o) {
                if let Some(shape) = old.nodes.get(&o).and_then(Shape::of) {
                    spare.entry(shape).or_default().push_back((i, o));
                }
            }
        }
        if spare.is_empty() {
            return;
        }
        // For each new child, the old index of the next kept child after it.
        let mut limit = vec![usize::MAX; new_kids.len()];
        let mut bound = usize::MAX;
        for (i, c) in new_kids.iter().enumerate().rev() {
            limit[i] = bound;
            if let Some(o) = shown_by.get(c) {
                bound = old_index.get(o).copied().unwrap_or(usize::MAX);
            }
        }
        // Old index just past the last child paired so far.
        let mut from = 0;
        for (i, &c) in new_kids.iter().enumerate() {
            if let Some(o) = shown_by.get(&c) {
                from = old_index.get(o).map_or(from, |&x| x + 1);
                continue;
            }
            let Some(n) = self.nodes.get(&c) else {
                continue;
            };
            let Some(queue) = Shape::of(n).and_then(|shape| spare.get_mut(&shape)) else {
                continue;
            };
            // Spares behind the last pair could only be used by moving.
            while queue.front().is_some_and(|&(at, _)| at < from) {
                queue.pop_front();
            }
            let Some(&(at, o)) = queue.front() else {
                continue;
            };
            if at >= limit[i] || !old.nodes.get(&o).is_some_and(|o| recyclable(n, o)) {
                continue;
            }
            queue.pop_front();
            shown_by.insert(c, o);
            rebinds.push(DomOp::Rebind { from: o, id: c });
            from = at + 1;
        }
    }

    /// Whether `id`, shown by `old`'s node `was`, has children on either
    /// side, i.e. whether they need matching at all.
    fn has_children(&self, old: &Model, id: NodeId, was: NodeId) -> bool {
        [self.nodes.get(&id), old.nodes.get(&was)]
            .iter()
            .any(|n| n.is_some_and(|n| n.first_child != NO_NODE))
    }

    /// Whether every live state of this page is in its nodes' content,
    /// form state and scroll positions.
    fn plain(&self) -> bool {
        self.sheet_edits.is_empty()
            && self.constructed.is_empty()
            && self.adopted.is_empty()
            && self.nodes.iter().all(|(&id, n)| {
                n.media.is_none()
                    && n.canvas.is_none()
                    && !n.popover
                    && (id == self.root
                        || !matches!(n.kind, NodeKind::Document | NodeKind::ShadowRoot))
            })
    }

    /// Whether the DOM node showing `id` in `old` can show it in `self`
    /// (same parent is checked by the caller).
    fn reusable(&self, old: &Model, id: NodeId) -> bool {
        let (Some(n), Some(o)) = (self.nodes.get(&id), old.nodes.get(&id)) else {
            return false;
        };
        if n.parent != o.parent
            || !n.rendered
            || !o.rendered
            || (n.scroll.is_none() && o.scroll.is_some())
        {
            return false;
        }
        // Raw kinds, not sanitised ones: the page URL is the same on both
        // sides, so equal recorded content sanitises equally.
        let same_kind = match (&n.kind, &o.kind) {
            (NodeKind::Element(a), NodeKind::Element(b)) => a.tag == b.tag && a.ns == b.ns,
            (
                NodeKind::Blocked { tag, ns, .. },
                NodeKind::Blocked {
                    tag: t2, ns: n2, ..
                },
            ) => tag == t2 && ns == n2,
            (NodeKind::Text(_), NodeKind::Text(_))
            | (NodeKind::Comment(_), NodeKind::Comment(_))
            | (NodeKind::CData(_), NodeKind::CData(_)) => true,
            (NodeKind::Doctype { .. }, NodeKind::Doctype { .. }) => n.kind == o.kind,
            _ => false,
        };
        same_kind && form_state_compatible(n, o)
    }

    /// The ops that change the DOM node showing `old`'s node `was` (the
    /// same id when kept, another when recycled) to show `id` here.
    fn update(
        &self,
        old: &Model,
        id: NodeId,
        was: NodeId,
        ops: &mut Vec<DomOp>,
        late: &mut Vec<DomOp>,
    ) {
        let (Some(n), Some(o)) = (self.nodes.get(&id), old.nodes.get(&was)) else {
            return;
        };
        // Unchanged recorded content (the common case) needs no sanitising:
        // the parents have the same tag, so it sanitises equally.
        if n.kind != o.kind {
            match (self.new_node(id), old.new_node(was)) {
                (
                    Some(NewNode::Element { attrs, .. }),
                    Some(NewNode::Element { attrs: before, .. }),
                ) if attrs != before => super::diff_attrs(id, &before, &attrs, ops),
                (
                    Some(
                        NewNode::Text { text }
                        | NewNode::Comment { text }
                        | NewNode::Cdata { text },
                    ),
                    Some(
                        NewNode::Text { text: t2 }
                        | NewNode::Comment { text: t2 }
                        | NewNode::Cdata { text: t2 },
                    ),
                ) if text != t2 => ops.push(DomOp::SetText { id, text }),
                _ => {}
            }
        }
        if let (NodeKind::Element(a), NodeKind::Element(b)) = (&n.kind, &o.kind) {
            if a.value != b.value || a.checked != b.checked {
                state_ops(id, n, late);
            }
        }
        if n.scroll != o.scroll {
            if let Some((x, y)) = n.scroll {
                late.push(DomOp::Scroll { id, x, y });
            }
        }
    }

    /// Creates `id` and everything under it, as `render_all` would, before
    /// sibling `next`.
    fn create_subtree(
        &self,
        id: NodeId,
        next: NodeId,
        ops: &mut Vec<DomOp>,
        late: &mut Vec<DomOp>,
    ) {
        let mut cur = id;
        let mut before = next;
        while cur != NO_NODE {
            let Some(n) = self.nodes.get(&cur) else { break };
            if n.rendered {
                if let Some(node) = self.new_node(cur) {
                    ops.push(DomOp::Create {
                        id: cur,
                        parent: n.parent,
                        next: before,
                        node,
                    });
                }
                before = NO_NODE;
                state_ops(cur, n, late);
                if let Some((x, y)) = n.scroll {
                    late.push(DomOp::Scroll { id: cur, x, y });
                }
                media_ops(cur, n, late);
                if n.first_child != NO_NODE {
                    cur = n.first_child;
                    continue;
                }
            }
            cur = self.next_in_subtree(cur, id);
        }
    }

    /// The node after `cur` in document order once its children are done,
    /// staying inside `top`'s subtree.
    fn next_in_subtree(&self, cur: NodeId, top: NodeId) -> NodeId {
        let mut c = cur;
        while c != top && c != NO_NODE {
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
}

/// What a recycled DOM node must share with the node it comes to show:
/// what no op can change.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Shape<'a> {
    Element(&'a str, u8),
    Text,
    Comment,
}

impl<'a> Shape<'a> {
    /// `None` for what is never recycled: documents, doctypes, shadow
    /// roots, blocked placeholders, CDATA, and elements with live state of
    /// their own (form controls, media, frames, canvases, templates...).
    fn of(n: &'a VNode) -> Option<Self> {
        match &n.kind {
            NodeKind::Element(e) if !STATEFUL.iter().any(|t| t.eq_ignore_ascii_case(&e.tag)) => {
                Some(Shape::Element(&e.tag, e.ns as u8))
            }
            NodeKind::Text(_) => Some(Shape::Text),
            NodeKind::Comment(_) => Some(Shape::Comment),
            _ => None,
        }
    }
}

/// Elements whose DOM node holds state beyond its attributes and children
/// (a value, a selection, playback, a nested document, a bitmap, an open
/// dialog, template content, a plugin, a script that already ran), or that
/// would go on showing their old resource while a new `src` or `href`
/// loads (images, stylesheets), which a new node never does.
const STATEFUL: &[&str] = &[
    "input",
    "textarea",
    "select",
    "option",
    "optgroup",
    "button",
    "form",
    "details",
    "dialog",
    "video",
    "audio",
    "source",
    "track",
    "canvas",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "template",
    "slot",
    "script",
    "noscript",
    "portal",
    "fencedframe",
    "img",
    "picture",
    "image",
    "link",
    "marquee",
];

/// Whether the DOM node showing `o` (a node gone from the target) can show
/// `n` instead: no live form state, and no scroll offset that `n` would not
/// restate.
fn recyclable(n: &VNode, o: &VNode) -> bool {
    n.rendered
        && o.rendered
        && (o.scroll.is_none() || n.scroll.is_some())
        && o.media.is_none()
        && o.canvas.is_none()
        && form_state_compatible(n, o)
}

/// Whether a live element showing `o`'s form state can show `n`'s: a live
/// value or checkedness once set cannot be unset by an op.
fn form_state_compatible(n: &VNode, o: &VNode) -> bool {
    match (&n.kind, &o.kind) {
        (NodeKind::Element(a), NodeKind::Element(b)) => {
            (a.value.is_some() || b.value.is_none()) && (a.checked.is_some() || b.checked.is_none())
        }
        _ => true,
    }
}

/// The members of the longest subsequence of `items` whose `key`s
/// increase (patience sorting, O(n log n)).
fn longest_increasing<T: Copy + Eq + std::hash::Hash>(
    items: &[T],
    key: impl Fn(&T) -> usize,
) -> HashSet<T> {
    // tails[k]: index into items of the smallest tail of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; items.len()];
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        let pos = tails.partition_point(|&j| key(&items[j]) < k);
        if pos > 0 {
            prev[i] = Some(tails[pos - 1]);
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = HashSet::new();
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        out.insert(items[i]);
        cur = prev[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::longest_increasing;
    use crate::model::tests::{doc, el, meta, random_event, snapshot, Rng};
    use crate::model::Model;
    use crate::ops::DomOp;
    use crate::testdom::FakeDom;
    use reel_shared::{EventData, NodeId};

    /// How long a far seek's diff takes natively on a page like
    /// `seek_bench`'s (a 1,500-item list, 12,000 changes apart):
    /// `cargo test --release -p reel-player diff_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn diff_cost() {
        use crate::model::tests::text;
        use reel_shared::{AddedTree, AttrChange, Mutation, TextChange};
        let mut rng = Rng::new(3);
        let mut nodes = vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])];
        let mut items = Vec::new();
        let mut id = 100;
        for i in 0..1500 {
            nodes.push(el(id, 3, "li", &[("class", "item")]));
            nodes.push(el(id + 1, id, "span", &[]));
            nodes.push(text(id + 2, id + 1, &format!("#{i}")));
            nodes.push(text(id + 3, id, &format!(" item {i}")));
            items.push((id, id + 3));
            id += 4;
        }
        let mut m = Model::new();
        m.apply(&meta("https://a.test/x/"));
        m.apply(&snapshot(nodes));
        let mut states = vec![m.clone()];
        for k in 0..24_000u32 {
            let pick = rng.below(items.len() as u64) as usize;
            let (li, tx) = items[pick];
            let mu = match rng.below(20) {
                0..=9 => Mutation {
                    texts: vec![TextChange {
                        id: tx,
                        text: format!(" changed {k}"),
                    }],
                    ..Default::default()
                },
                10..=14 => Mutation {
                    attrs: vec![AttrChange {
                        id: li,
                        name: "class".into(),
                        value: Some(format!("item h{}", rng.below(9))),
                    }],
                    ..Default::default()
                },
                15..=17 => {
                    items.push((id, id + 1));
                    id += 2;
                    Mutation {
                        adds: vec![AddedTree {
                            parent: 3,
                            next: li,
                            nodes: vec![el(id - 2, 3, "li", &[]), text(id - 1, id - 2, "new")],
                        }],
                        ..Default::default()
                    }
                }
                _ => {
                    if items.len() > 100 {
                        items.swap_remove(pick);
                    }
                    Mutation {
                        removes: vec![li],
                        ..Default::default()
                    }
                }
            };
            m.apply(&EventData::Mutation(mu));
            if k % 12_000 == 11_999 {
                states.push(m.clone());
            }
        }
        for pair in states.windows(2) {
            let t = std::time::Instant::now();
            let ops = pair[1].diff_from(&pair[0]).expect("plain page");
            let diff = t.elapsed();

            let t = std::time::Instant::now();
            let all = pair[1].render_all();
            let render = t.elapsed();
            let t = std::time::Instant::now();
            let c = pair[1].clone();
            let clone = t.elapsed();
            println!(
                "{} nodes: diff {diff:?} ({} ops), render_all {render:?} ({} ops), clone {clone:?}",
                c.len(),
                ops.len(),
                all.len()
            );
        }
    }

    /// The states a page goes through: a snapshot of `start`, then
    /// `events` events of `next`, one state in `every` kept. A new snapshot
    /// or page shares nothing with what came before, so only one in `fresh`
    /// is let through, and states share a lot.
    fn states_of(
        start: Vec<reel_shared::FlatNode>,
        rng: &mut Rng,
        (events, every, fresh): (usize, u64, u64),
        mut next: impl FnMut(&mut Rng) -> EventData,
    ) -> Vec<Model> {
        let mut m = Model::new();
        m.apply(&meta("https://a.test/x/"));
        m.apply(&snapshot(start));
        let mut states = vec![m.clone()];
        for _ in 0..events {
            let e = next(rng);
            if matches!(e, EventData::FullSnapshot(_) | EventData::Meta(_)) && rng.below(fresh) != 0
            {
                continue;
            }
            m.apply(&e);
            if rng.below(every) == 0 {
                states.push(m.clone());
            }
        }
        states
    }

    /// Any two states of one page: the diff from the first, applied to a
    /// DOM showing it, shows the second exactly as a rebuild would.
    #[test]
    fn a_diff_shows_what_a_rebuild_shows() {
        let mut diffed = 0;
        for seed in 0..40 {
            let mut rng = Rng::new(seed + 7);
            let mut next_id = 3;
            let start = vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])];
            let states = states_of(start, &mut rng, (600, 20, 10), |rng| {
                random_event(rng, &mut next_id)
            });
            for _ in 0..30 {
                let a = &states[rng.below(states.len() as u64) as usize];
                let b = &states[rng.below(states.len() as u64) as usize];
                let mut dom = FakeDom::from_ops(&a.render_all());
                let Some(ops) = b.diff_from(a) else { continue };
                diffed += 1;
                dom.apply(&ops);
                assert_eq!(
                    dom.html(),
                    FakeDom::from_ops(&b.render_all()).html(),
                    "seed {seed}"
                );
            }
        }
        assert!(diffed > 600, "only {diffed} pairs diffed");
    }

    /// A list that churns, as on pages whose items come and go: items of a
    /// few shapes (some with an input or a scrolled box, which must not be
    /// recycled), added, removed, retitled and reclassed; mixed with
    /// `random_event`'s oddities.
    fn churn_event(rng: &mut Rng, next_id: &mut NodeId, items: &mut Vec<NodeId>) -> EventData {
        use crate::model::tests::text;
        use reel_shared::{AddedTree, AttrChange, Mutation, Scroll, TextChange};
        let pick = |rng: &mut Rng, items: &[NodeId]| items[rng.below(items.len() as u64) as usize];
        match rng.below(8) {
            0..=2 => {
                let li = *next_id + 1;
                *next_id += 4;
                let class = ["a", "b", "c"][rng.below(3) as usize];
                let mut nodes = vec![el(li, 4, "li", &[("class", class)])];
                match rng.below(4) {
                    0 => nodes.push(text(li + 1, li, &format!("item {li}"))),
                    1 => {
                        nodes.push(el(li + 1, li, "span", &[]));
                        nodes.push(text(li + 2, li + 1, &format!("#{li}")));
                        nodes.push(text(li + 3, li, " tail"));
                    }
                    2 => nodes.push(el(li + 1, li, "input", &[("value", "x")])),
                    _ => nodes.push(el(li + 1, li, "div", &[("style", "overflow:auto")])),
                }
                let next = if items.is_empty() || rng.below(3) == 0 {
                    0
                } else {
                    pick(rng, items)
                };
                items.push(li);
                EventData::Mutation(Mutation {
                    adds: vec![AddedTree {
                        parent: 4,
                        next,
                        nodes,
                    }],
                    ..Default::default()
                })
            }
            3 | 4 if !items.is_empty() => {
                let at = rng.below(items.len() as u64) as usize;
                let li = items.swap_remove(at);
                EventData::Mutation(Mutation {
                    removes: vec![li],
                    ..Default::default()
                })
            }
            5 if !items.is_empty() => EventData::Mutation(Mutation {
                texts: vec![TextChange {
                    id: pick(rng, items) + 1,
                    text: format!("changed {}", rng.below(100)),
                }],
                ..Default::default()
            }),
            6 if !items.is_empty() => EventData::Mutation(Mutation {
                attrs: vec![AttrChange {
                    id: pick(rng, items),
                    name: "class".into(),
                    value: (rng.below(4) != 0).then(|| format!("h{}", rng.below(5))),
                }],
                ..Default::default()
            }),
            7 if !items.is_empty() => EventData::Scroll(Scroll {
                id: pick(rng, items) + 1,
                x: 0,
                y: rng.below(50) as i32,
                depth: None,
            }),
            _ => random_event(rng, next_id),
        }
    }

    /// Diffs one after another on the same DOM, as seeks do: every state
    /// shows as a rebuild would, so the ids the executor renamed name the
    /// right nodes for the diffs after. Recycling must happen here.
    #[test]
    fn chained_diffs_show_every_state() {
        let (mut rebinds, mut diffed) = (0, 0);
        for seed in 0..30 {
            let mut rng = Rng::new(seed + 101);
            let mut next_id = 1000;
            let mut items = Vec::new();
            let start = vec![
                doc(1),
                el(2, 1, "html", &[]),
                el(3, 2, "body", &[]),
                el(4, 3, "ul", &[]),
            ];
            let states = states_of(start, &mut rng, (800, 15, 20), |rng| {
                churn_event(rng, &mut next_id, &mut items)
            });
            let mut shown = &states[0];
            let mut dom = FakeDom::from_ops(&shown.render_all());
            for _ in 0..40 {
                let target = &states[rng.below(states.len() as u64) as usize];
                match target.diff_from(shown) {
                    Some(ops) => {
                        diffed += 1;
                        rebinds += ops
                            .iter()
                            .filter(|op| matches!(op, DomOp::Rebind { .. }))
                            .count();
                        dom.apply(&ops);
                    }
                    None => dom = FakeDom::from_ops(&target.render_all()),
                }
                assert_eq!(
                    dom.html(),
                    FakeDom::from_ops(&target.render_all()).html(),
                    "seed {seed}"
                );
                shown = target;
            }
        }
        assert!(diffed > 300, "only {diffed} diffs");
        assert!(rebinds > 1000, "only {rebinds} nodes recycled");
    }

    #[test]
    fn longest_increasing_run() {
        let v = [5usize, 1, 2, 8, 3, 4, 0];
        let s = longest_increasing(&v, |&x| x);
        let mut got: Vec<usize> = s.into_iter().collect();
        got.sort();
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert!(longest_increasing::<usize>(&[], |&x| x).is_empty());
    }
}
