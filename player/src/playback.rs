//! The playhead: which events the live DOM shows, and the cheapest ops to
//! move it anywhere.
//!
//! Moving forward by a little (playback, a short skip) applies the events in
//! between incrementally. Moving backward, or forward past a keyframe with
//! many events in between, rebuilds from the nearest keyframe: a `Reset`
//! and the whole document. Either way the DOM ends up equal to the state
//! with every event at or before the target applied (tested against a
//! replay from the start).

use crate::model::Model;
use crate::ops::DomOp;
use crate::timeline::Timeline;

/// Forward seeks over at most this many events are applied incrementally
/// even when a keyframe lies in between.
pub const INCREMENTAL_MAX: usize = 2_000;

/// A diffing seek gives way to a rebuild once the live DOM has had this
/// many nodes created per node of the document (the larger of the shown
/// and the target state) since its last rebuild...
pub const MAX_CREATED_PER_NODE: usize = 4;
/// ... plus this many, so that a small page is not rebuilt all the time.
pub const MAX_CREATED: usize = 10_000;

#[derive(Debug)]
pub struct Playback {
    timeline: Timeline,
    /// The state the live DOM shows.
    model: Model,
    /// `events[..next]` are applied in `model`.
    next: usize,
    /// The playhead, ms from the start.
    time: u64,
    /// Whether the live DOM has been built at all.
    shown: bool,
    /// Nodes created in the live DOM since it was last rebuilt. The
    /// executor's id map only forgets a removed node's own id, not its
    /// descendants', until the next rebuild; diffing seeks rebuild rarely,
    /// so this bounds what removed subtrees can keep alive.
    created: usize,
}

impl Playback {
    pub fn new(timeline: Timeline) -> Self {
        Playback {
            timeline,
            model: Model::new(),
            next: 0,
            time: 0,
            shown: false,
            created: 0,
        }
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn time(&self) -> u64 {
        self.time
    }

    pub fn duration(&self) -> u64 {
        self.timeline.duration()
    }

    /// Adds events that arrived later (live mode, a streamed load). When
    /// they extend the timeline in place, what the live DOM shows stays
    /// valid (the playhead is at or before the old end); when they forced a
    /// rebuild, the next seek rebuilds the DOM too.
    pub fn append(&mut self, events: Vec<reel_shared::Event>) {
        if !self.timeline.append(events) {
            self.shown = false;
        }
    }

    /// Marks chunks the server never served (see [`Timeline::add_gap`]).
    pub fn add_gap(&mut self, t: u64, chunks: u32) {
        self.timeline.add_gap(t, chunks);
    }

    /// See [`Timeline::set_comments`]: markers only, the DOM is unchanged.
    pub fn set_comments(&mut self, comments: Vec<(u64, String)>) {
        self.timeline.set_comments(comments);
    }

    /// Forgets what the live DOM shows, so the next seek rebuilds it (the
    /// iframe's document was replaced, say).
    pub fn invalidate(&mut self) {
        self.shown = false;
    }

    /// Moves the playhead to `t` (clamped to the session) and returns the
    /// ops that make the live DOM show every event at or before it.
    pub fn seek(&mut self, t: u64) -> Vec<DomOp> {
        let t = t.min(self.timeline.duration());
        let end = self.timeline.index_after(t);
        // A jump, or recorded animation phases passed: the replay's CSS
        // animations are set to their phases at `t` after the DOM ops.
        let phases = !(self.shown && end >= self.next && self.incremental_is_cheaper(end))
            || self.timeline.events()[self.next.min(end)..end]
                .iter()
                .any(|e| matches!(e.data, reel_shared::EventData::Animation(_)));
        let mut ops = if self.shown && end >= self.next && self.incremental_is_cheaper(end) {
            self.forward(end)
        } else {
            let (model, applied) = self.timeline.state_at(t);
            let bound = MAX_CREATED_PER_NODE * self.model.len().max(model.len()) + MAX_CREATED;
            let ops = if self.shown && self.created <= bound {
                model.diff_from(&self.model)
            } else {
                None
            };
            self.model = model;
            self.next = applied;
            ops.unwrap_or_else(|| self.model.render_all())
        };
        if phases {
            ops.extend(self.model.animation_ops(self.timeline.start() + t));
        }
        if matches!(ops.first(), Some(DomOp::Reset { .. })) {
            self.created = 0;
        }
        self.created += ops
            .iter()
            .filter(|op| matches!(op, DomOp::Create { .. }))
            .count();
        self.time = t;
        self.shown = true;
        ops
    }

    fn incremental_is_cheaper(&self, end: usize) -> bool {
        end - self.next <= INCREMENTAL_MAX || self.timeline.keyframe_before(end) <= self.next
    }

    fn forward(&mut self, end: usize) -> Vec<DomOp> {
        let mut ops = Vec::new();
        for e in &self.timeline.events()[self.next..end] {
            let step = self.model.apply_event(e);
            // A rebuild makes everything before it moot.
            if matches!(step.first(), Some(DomOp::Reset { .. })) {
                ops.clear();
            }
            ops.extend(step);
        }
        self.next = end;
        // The browser's scroll anchoring moves the window when content above
        // the fold changes; the recording says where the window really was,
        // so restate it after every batch that changed anything.
        if !ops.is_empty() {
            let root = self.model.root();
            if let Some((x, y)) = self.model.node(root).and_then(|n| n.scroll) {
                ops.push(DomOp::Scroll { id: root, x, y });
            }
        }
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{doc, el, meta, random_event, snapshot, Rng};
    use crate::testdom::FakeDom;
    use reel_shared::Event;

    #[test]
    fn any_sequence_of_seeks_shows_the_right_state() {
        for seed in 0..6 {
            let mut rng = Rng::new(seed + 100);
            let mut next_id = 3;
            let mut events = vec![
                Event {
                    t: 1_000,
                    data: meta("https://a.test/x/"),
                },
                Event {
                    t: 1_000,
                    data: snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])]),
                },
            ];
            let mut t = 1_000;
            for _ in 0..4000 {
                t += rng.below(30) * rng.below(2);
                events.push(Event {
                    t,
                    data: random_event(&mut rng, &mut next_id),
                });
            }
            let tl = Timeline::new(events.clone());
            let duration = tl.duration();
            let mut pb = Playback::new(tl);
            let mut dom = FakeDom::new();
            let mut time = 0u64;
            for step in 0..120 {
                time = match rng.below(4) {
                    0 => rng.below(duration + 100),           // anywhere
                    1 => time.saturating_sub(rng.below(200)), // a little back
                    _ => time + rng.below(300),               // playback
                };
                dom.apply(&pb.seek(time));
                let (expected, _) = pb.timeline().state_at(time);
                assert_eq!(
                    dom.html(),
                    FakeDom::from_ops(&expected.render_all()).html(),
                    "seed {seed}, step {step}, t {time}"
                );
                assert_eq!(pb.time(), time.min(duration));
            }
        }
    }

    #[test]
    fn appended_events_play_on_from_where_the_playhead_is() {
        let mut rng = Rng::new(5);
        let mut next_id = 3;
        let mut events = vec![Event {
            t: 0,
            data: snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])]),
        }];
        for i in 0..3000 {
            events.push(Event {
                t: 1 + i / 3,
                data: random_event(&mut rng, &mut next_id),
            });
        }
        let mut pb = Playback::new(Timeline::new(events[..1000].to_vec()));
        let mut dom = FakeDom::new();
        dom.apply(&pb.seek(u64::MAX));
        for part in events[1000..].chunks(700) {
            pb.append(part.to_vec());
            dom.apply(&pb.seek(u64::MAX));
            let (expected, _) = pb.timeline().state_at(pb.time());
            assert_eq!(dom.html(), FakeDom::from_ops(&expected.render_all()).html());
        }
        assert_eq!(pb.time(), 1000);
    }

    #[test]
    fn diffing_seeks_give_way_to_a_rebuild_after_much_churn() {
        let mut events = vec![Event {
            t: 0,
            data: snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])]),
        }];
        for i in 0..3000 {
            events.push(Event {
                t: 1 + u64::from(i),
                data: reel_shared::EventData::Mutation(reel_shared::Mutation {
                    adds: vec![reel_shared::AddedTree {
                        parent: 3,
                        next: 0,
                        nodes: vec![el(100 + i, 3, "div", &[])],
                    }],
                    ..Default::default()
                }),
            });
        }
        let mut pb = Playback::new(Timeline::new(events));
        let rebuilt = |ops: &[DomOp]| matches!(ops.first(), Some(DomOp::Reset { .. }));
        assert!(rebuilt(&pb.seek(0)));
        let mut rebuilds = Vec::new();
        for k in 0..20 {
            let ops = pb.seek(if k % 2 == 0 { 3_000 } else { 0 });
            rebuilds.push(rebuilt(&ops));
        }
        assert!(!rebuilds[..8].contains(&true), "{rebuilds:?}");
        assert!(rebuilds.contains(&true), "{rebuilds:?}");
    }

    #[test]
    fn first_seek_builds_and_small_forward_seeks_are_incremental() {
        let events = vec![
            Event {
                t: 0,
                data: snapshot(vec![doc(1), el(2, 1, "html", &[])]),
            },
            Event {
                t: 10,
                data: reel_shared::EventData::Mutation(reel_shared::Mutation {
                    attrs: vec![reel_shared::AttrChange {
                        id: 2,
                        name: "a".into(),
                        value: Some("b".into()),
                    }],
                    ..Default::default()
                }),
            },
        ];
        let mut pb = Playback::new(Timeline::new(events));
        assert!(matches!(pb.seek(0).first(), Some(DomOp::Reset { doc: 1 })));
        assert!(pb.seek(5).is_empty());
        assert_eq!(
            pb.seek(10),
            vec![
                DomOp::SetAttr {
                    id: 2,
                    name: "a".into(),
                    value: "b".into()
                },
                DomOp::Scroll { id: 1, x: 0, y: 0 },
            ]
        );
        assert!(pb.seek(10_000).is_empty(), "clamped to the end");
        assert_eq!(pb.time(), 10);
        assert_eq!(
            pb.seek(0),
            vec![
                DomOp::RemoveAttr {
                    id: 2,
                    name: "a".into()
                },
                DomOp::Scroll { id: 1, x: 0, y: 0 },
            ],
            "backward changes only what differs"
        );
        pb.invalidate();
        assert!(matches!(pb.seek(0).first(), Some(DomOp::Reset { .. })));
    }

    fn anim(id: u32, name: &str, time: f64, paused: bool) -> reel_shared::EventData {
        reel_shared::EventData::Animation(reel_shared::Animation {
            id,
            name: name.into(),
            pseudo: None,
            time,
            paused,
        })
    }

    fn phases(ops: &[DomOp]) -> Vec<(u32, String, f64, bool)> {
        ops.iter()
            .filter_map(|op| match op {
                DomOp::Animation {
                    id,
                    name,
                    time,
                    paused,
                    ..
                } => Some((*id, name.clone(), *time, *paused)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_seek_sets_each_recorded_animation_to_its_phase_then() {
        let events = vec![
            Event {
                t: 1_000,
                data: snapshot(vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "div", &[])]),
            },
            Event {
                t: 1_100,
                data: anim(3, "slide", 500.0, false),
            },
            Event {
                t: 1_100,
                data: anim(3, "parked", 5_000.0, true),
            },
            Event {
                t: 1_900,
                data: anim(3, "slide", 1_300.0, false),
            },
            Event {
                t: 3_000,
                data: reel_shared::EventData::Visibility(reel_shared::Visibility { visible: true }),
            },
        ];
        let mut pb = Playback::new(Timeline::new(events));
        // A jump: every recorded animation, moved on since it was recorded
        // unless paused; none before its phase was recorded.
        assert!(phases(&pb.seek(0)).is_empty());
        assert_eq!(
            phases(&pb.seek(400)),
            vec![
                (3, "parked".into(), 5_000.0, true),
                (3, "slide".into(), 800.0, false)
            ]
        );
        // Playing on past a recorded phase restates them all.
        assert_eq!(
            phases(&pb.seek(1_000)),
            vec![
                (3, "parked".into(), 5_000.0, true),
                (3, "slide".into(), 1_400.0, false)
            ]
        );
        // Playing on with no new phase leaves the replay's clock alone.
        assert!(phases(&pb.seek(1_500)).is_empty());
        // Back before the snapshot's phases: none left.
        pb.invalidate();
        assert!(phases(&pb.seek(50)).is_empty());
    }

    #[test]
    fn a_popover_shows_open_while_it_was_open() {
        let pop = |open| reel_shared::EventData::Popover(reel_shared::Popover { id: 3, open });
        let events = vec![
            Event {
                t: 0,
                data: snapshot(vec![
                    doc(1),
                    el(2, 1, "html", &[]),
                    el(3, 2, "div", &[("popover", "")]),
                ]),
            },
            Event {
                t: 10,
                data: pop(true),
            },
            Event {
                t: 20,
                data: pop(false),
            },
        ];
        let mut pb = Playback::new(Timeline::new(events));
        let mut dom = FakeDom::new();
        let open = |dom: &FakeDom| dom.html().contains("popover open");
        dom.apply(&pb.seek(0));
        assert!(!open(&dom));
        dom.apply(&pb.seek(10));
        assert!(open(&dom), "{}", dom.html());
        dom.apply(&pb.seek(20));
        assert!(!open(&dom));
        // A jump into the open stretch rebuilds it open.
        let mut fresh = FakeDom::new();
        pb.invalidate();
        fresh.apply(&pb.seek(15));
        assert!(open(&fresh), "{}", fresh.html());
        assert_eq!(pb.seek(15), Vec::new());
    }
}
