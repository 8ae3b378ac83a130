//! Cross-origin frames recorded by message passing (issue 14): the one
//! place that turns a [`FrameEvents`] blob back into events, for every
//! reader (the player's loader, the server's `/events` and reproductions).
//!
//! The recorder inside a cross-origin frame seals its (masked) events into
//! chunks of its own and posts them to the page's recorder, which stores
//! each as one opaque [`FrameEvents`] event: it cannot decode them, and a
//! broken or hostile frame must not cost the page's own chunk (ingest
//! refuses a chunk it cannot read).
//!
//! Invariants of [`expand`]:
//! - it never fails and never panics: a blob that does not decode is
//!   skipped (and counted), an inner event that is not allowed is dropped;
//! - a frame's events take the wrapper's place, in their recorded order,
//!   each `t` clamped between the event before it and the wrapper's `t`,
//!   so the stream stays non-decreasing and the events after the wrapper
//!   still follow them;
//! - a frame names only nodes of its own block (`base ..base + BLOCK`),
//!   and its document only under its frame element: it cannot touch the
//!   page around it. It cannot load a page (`Meta`), replace the document
//!   (`FullSnapshot`), resize the viewport, identify the user, nor nest
//!   frames of its own; its pointer positions (relative to the frame) are
//!   not replayed.

use crate::chunk::{decode_chunk, Limits};
use crate::event::*;
use crate::ids::{NodeId, NO_NODE};
use crate::node::NodeKind;

/// Node ids a frame's recorder may use: a block of this many from its base.
pub const BLOCK: u32 = 1 << 24;
/// The first frame's base: the page's own ids stay below.
pub const FIRST_BASE: u32 = 1 << 31;

/// Replaces every [`FrameEvents`] in `events` by the events it carries;
/// returns how many blobs were skipped as undecodable.
pub fn expand(events: &mut Vec<Event>) -> usize {
    if !events
        .iter()
        .any(|e| matches!(e.data, EventData::FrameEvents(_)))
    {
        return 0;
    }
    let limits = Limits::default();
    let mut skipped = 0;
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    for e in std::mem::take(events) {
        let EventData::FrameEvents(f) = e.data else {
            out.push(e);
            continue;
        };
        if !valid_block(f.frame, f.base) {
            skipped += 1;
            continue;
        }
        let Ok(chunk) = decode_chunk(&f.chunk, &limits) else {
            skipped += 1;
            continue;
        };
        for mut inner in chunk.events {
            if !allowed(&inner.data, f.frame, f.base) {
                continue;
            }
            let floor = out.last().map_or(0, |p| p.t);
            inner.t = inner.t.min(e.t).max(floor);
            out.push(inner);
        }
    }
    *events = out;
    skipped
}

/// A frame element of the page and a block start above the page's ids.
fn valid_block(frame: NodeId, base: NodeId) -> bool {
    frame != NO_NODE && frame < FIRST_BASE && base >= FIRST_BASE && base.is_multiple_of(BLOCK)
}

/// May a frame's recorder have recorded this (with its ids in its block)?
fn allowed(d: &EventData, frame: NodeId, base: NodeId) -> bool {
    let own = |id: NodeId| id.wrapping_sub(base) < BLOCK;
    let own_or_none = |id: NodeId| id == NO_NODE || own(id);
    match d {
        EventData::Mutation(m) => {
            m.removes.iter().all(|&id| own(id))
                && m.attrs.iter().all(|a| own(a.id))
                && m.texts.iter().all(|t| own(t.id))
                && m.adds.iter().all(|t| {
                    let Some((first, rest)) = t.nodes.split_first() else {
                        return true;
                    };
                    let top = if t.parent == frame {
                        matches!(first.kind, NodeKind::Document)
                    } else {
                        own(t.parent)
                    };
                    top && own_or_none(t.next)
                        && own(first.id)
                        && rest.iter().all(|n| own(n.id) && own(n.parent))
                })
        }
        EventData::Scroll(s) => own(s.id),
        EventData::Input(i) => own(i.id),
        EventData::Mouse(m) => own_or_none(m.id),
        EventData::StyleSheet(s) => match s.sheet {
            SheetRef::Node(id) => own(id),
            SheetRef::Constructed(n) => own(n),
        },
        EventData::AdoptedStyleSheets(a) => own(a.root) && a.sheets.iter().all(|&n| own(n)),
        EventData::Media(m) => own(m.id),
        EventData::Canvas(c) => own(c.id),
        EventData::Focus(f) => own(f.id),
        EventData::Selection(s) => own_or_none(s.anchor) && own_or_none(s.focus),
        EventData::Key(k) => own_or_none(k.id),
        EventData::Signal(s) => own_or_none(s.id),
        EventData::Animation(a) => own(a.id),
        EventData::Popover(p) => own(p.id),
        EventData::Custom(_)
        | EventData::Console(_)
        | EventData::PageError(_)
        | EventData::Network(_) => true,
        EventData::Meta(_)
        | EventData::FullSnapshot(_)
        | EventData::MouseMove(_)
        | EventData::Touch(_)
        | EventData::Viewport(_)
        | EventData::Identify(_)
        | EventData::Visibility(_)
        | EventData::Dropped(_)
        | EventData::FrameEvents(_) => false,
    }
}

#[cfg(all(test, feature = "encode"))]
mod tests {
    use super::*;
    use crate::chunk::encode_chunk;
    use crate::ids::SessionId;
    use crate::node::{Element, FlatNode, Namespace};

    const FRAME: NodeId = 7;
    const BASE: NodeId = FIRST_BASE + BLOCK;

    fn custom(t: u64, name: &str) -> Event {
        Event {
            t,
            data: EventData::Custom(Custom {
                name: name.into(),
                data: None,
            }),
        }
    }

    fn doc_add(t: u64, parent: NodeId, id: NodeId) -> Event {
        let el = Element {
            tag: "p".into(),
            ns: Namespace::Html,
            attrs: vec![],
            value: None,
            checked: None,
            stylesheet: None,
        };
        Event {
            t,
            data: EventData::Mutation(Mutation {
                adds: vec![AddedTree {
                    parent,
                    next: NO_NODE,
                    nodes: vec![
                        FlatNode {
                            id,
                            parent,
                            kind: NodeKind::Document,
                        },
                        FlatNode {
                            id: id + 1,
                            parent: id,
                            kind: NodeKind::Element(el),
                        },
                    ],
                }],
                ..Mutation::default()
            }),
        }
    }

    fn wrap(t: u64, base: NodeId, chunk: Vec<u8>) -> Event {
        Event {
            t,
            data: EventData::FrameEvents(FrameEvents {
                frame: FRAME,
                base,
                chunk,
            }),
        }
    }

    fn chunk(events: &[Event]) -> Vec<u8> {
        encode_chunk(SessionId([0; 16]), 0, events).unwrap()
    }

    #[test]
    fn a_frames_events_take_its_place_in_time_order() {
        let inner = chunk(&[
            doc_add(90, FRAME, BASE),
            custom(120, "late"),
            custom(95, "b"),
        ]);
        let mut events = vec![custom(100, "a"), wrap(110, BASE, inner), custom(110, "c")];
        assert_eq!(expand(&mut events), 0);
        let ts: Vec<u64> = events.iter().map(|e| e.t).collect();
        // 90 is clamped up to the event before, 120 down to the wrapper's.
        assert_eq!(ts, vec![100, 100, 110, 110, 110]);
        assert!(matches!(events[1].data, EventData::Mutation(_)));
    }

    #[test]
    fn garbage_is_skipped_and_the_rest_kept() {
        let good = chunk(&[custom(5, "in")]);
        let mut cut = good.clone();
        cut.truncate(good.len() / 2);
        let mut events = vec![
            wrap(1, BASE, vec![1, 2, 3]),
            wrap(2, BASE, cut),
            wrap(3, 12345, good.clone()),
            wrap(4, BASE, good),
            custom(5, "out"),
        ];
        assert_eq!(expand(&mut events), 3);
        let names: Vec<&str> = events
            .iter()
            .map(|e| match &e.data {
                EventData::Custom(c) => c.name.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(names, vec!["in", "out"]);
    }

    #[test]
    fn a_frame_cannot_reach_outside_its_block() {
        let other = FIRST_BASE;
        let inner = chunk(&[
            // Its document under another element of the page.
            doc_add(1, 3, BASE),
            // Nodes of the page or of another frame.
            Event {
                t: 1,
                data: EventData::Mutation(Mutation {
                    removes: vec![2],
                    ..Mutation::default()
                }),
            },
            Event {
                t: 1,
                data: EventData::Input(Input {
                    id: other + 5,
                    value: None,
                    checked: Some(true),
                    label: None,
                    selector: None,
                }),
            },
            // Session-level events.
            Event {
                t: 1,
                data: EventData::Viewport(Viewport {
                    width: 1,
                    height: 1,
                }),
            },
            Event {
                t: 1,
                data: EventData::MouseMove(vec![]),
            },
            // A nested frame.
            wrap(1, BASE, chunk(&[custom(1, "nested")])),
            // Its own document: kept.
            doc_add(1, FRAME, BASE),
        ]);
        let mut events = vec![wrap(2, BASE, inner)];
        assert_eq!(expand(&mut events), 0);
        assert_eq!(events, vec![doc_add(1, FRAME, BASE)]);
    }

    proptest::proptest! {
        /// Garbage in, or a real chunk with bytes flipped: never a panic,
        /// the page's own events always kept, and `t` never decreasing.
        #[test]
        fn expansion_never_panics(
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let mut real = chunk(&[doc_add(3, FRAME, BASE), custom(4, "x")]);
            for (at, b) in flips {
                let n = real.len();
                real[at % n] ^= b;
            }
            let mut events = vec![custom(1, "a"), wrap(2, BASE, junk), wrap(5, BASE, real), custom(6, "b")];
            let skipped = expand(&mut events);
            proptest::prop_assert!(skipped <= 2);
            proptest::prop_assert!(events.windows(2).all(|w| w[0].t <= w[1].t));
            proptest::prop_assert_eq!(&events[0], &custom(1, "a"));
            proptest::prop_assert_eq!(events.last(), Some(&custom(6, "b")));
        }
    }

    #[test]
    fn nothing_to_expand_leaves_the_events_alone() {
        let mut events = vec![custom(1, "a")];
        assert_eq!(expand(&mut events), 0);
        assert_eq!(events, vec![custom(1, "a")]);
    }
}
