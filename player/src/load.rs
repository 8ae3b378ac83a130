//! Turning the server's chunks response into events.
//!
//! `GET /api/v1/sessions/{id}/chunks` answers with every stored chunk of the
//! session, in sequence order, each framed as a little-endian `u32` length
//! followed by that many bytes. A chunk that does not decode is skipped
//! (with a warning): one bad chunk should cost its own events, not the
//! whole replay. A seq missing from the response (a chunk the server
//! skipped as damaged, or that never arrived) is a gap ([`Seen`]).

use reel_shared::{decode_chunk, Chunk, Event, Limits};

/// Splits the framed chunks response as its bytes arrive, so a long
/// session's first chunks can be decoded (and its first frame shown) while
/// the rest is still downloading.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// How many chunks were split off so far (for warnings).
    index: usize,
}

/// One framed chunk, decoded or not.
pub type Framed = Result<Chunk, String>;

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the response; returns every chunk they
    /// complete, decoded.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Framed> {
        self.split(bytes)
            .into_iter()
            .map(|(i, c)| decode(i, &c))
            .collect()
    }

    /// Takes the next bytes of the response; returns every frame they
    /// complete, undecoded, with its index: decoding can then be spread
    /// over time (the first chunk decoded and shown before the rest).
    pub fn split(&mut self, bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0usize;
        while let Some(len_bytes) = self.buf.get(at..at + 4) {
            let mut le = [0u8; 4];
            le.copy_from_slice(len_bytes);
            let len = u32::from_le_bytes(le) as usize;
            let Some(bytes) = self.buf.get(at + 4..at + 4 + len) else {
                break;
            };
            out.push((self.index, bytes.to_vec()));
            self.index += 1;
            at += 4 + len;
        }
        self.buf.drain(..at);
        out
    }

    /// A warning if the response ended in the middle of a frame.
    pub fn finish(&self) -> Option<String> {
        match self.buf.len() {
            0 => None,
            n if n < 4 => Some(format!(
                "chunk {}: truncated length prefix; ignoring {n} trailing bytes",
                self.index
            )),
            n => Some(format!(
                "chunk {}: says {} bytes but only {} remain; ignoring it",
                self.index,
                u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]),
                n - 4
            )),
        }
    }
}

/// The events of every chunk that decodes, and a warning for each problem.
pub fn decode_session(body: &[u8]) -> (Vec<Event>, Vec<String>) {
    let mut framer = Framer::new();
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    for c in framer.push(body) {
        match c {
            Ok(chunk) => events.extend(chunk.events),
            Err(w) => warnings.push(w),
        }
    }
    warnings.extend(framer.finish());
    (events, warnings)
}

/// Decodes the `index`th frame of a response.
/// Cross-origin frames' events are expanded in place
/// (`reel_shared::frames`), so everything after this sees them as the
/// page's own.
pub fn decode(index: usize, bytes: &[u8]) -> Framed {
    let mut chunk = decode_chunk(bytes, &Limits::default())
        .map_err(|e| format!("chunk {index}: skipped: {e}"))?;
    reel_shared::frames::expand(&mut chunk.events);
    Ok(chunk)
}

/// Which chunks of a session have arrived, so live polling asks only for
/// what it does not have and a chunk that never comes shows as a gap.
///
/// The server answers `?from=SEQ` with every chunk from `SEQ` on, so
/// polling from the first missing seq would fetch everything after a gap
/// again at every poll (a chunk damaged on disk, or dropped by the
/// recorder, never arrives). Polls ask from the highest seq seen plus one;
/// every [`RECHECK_EVERY`]th poll, while gaps remain, asks from the first
/// gap instead (a chunk can land late: the recorder retries), and a gap
/// re-checked [`GAP_CHECKS`] times is given up: reported once by
/// [`Seen::settle`], shown as a recording gap, never fetched again.
#[derive(Debug, Default)]
pub struct Seen {
    /// Seqs above `contiguous` that arrived, with their chunk's first `t`.
    above: std::collections::BTreeMap<u32, u64>,
    /// Every seq below this has arrived or was given up.
    contiguous: u32,
    /// How many re-checks each gap (by its first seq) has had.
    checks: std::collections::BTreeMap<u32, u32>,
    polls: u32,
}

/// Polls between two re-checks of the gaps (at 1.5 s a poll: 15 s).
pub const RECHECK_EVERY: u32 = 10;
/// Re-checks after which a gap is given up.
pub const GAP_CHECKS: u32 = 2;

/// A run of seqs that never arrived: `from..to`, before a chunk whose
/// first event is at `t` (ms since the Unix epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub from: u32,
    pub to: u32,
    pub t: u64,
}

impl Seen {
    /// Records chunk `seq`, whose first event is at `t`; false if it had
    /// arrived before (or was given up).
    pub fn add(&mut self, seq: u32, t: u64) -> bool {
        if seq < self.contiguous || self.above.contains_key(&seq) {
            return false;
        }
        self.above.insert(seq, t);
        self.advance();
        true
    }

    fn advance(&mut self) {
        while self.above.remove(&self.contiguous).is_some() {
            self.contiguous = self.contiguous.saturating_add(1);
        }
        let c = self.contiguous;
        self.checks.retain(|&g, _| g >= c);
    }

    /// The first seq not yet seen (nor given up).
    pub fn from(&self) -> u32 {
        self.contiguous
    }

    /// The runs of missing seqs below the highest seen, in order.
    pub fn gaps(&self) -> Vec<Gap> {
        let mut out = Vec::new();
        let mut expect = self.contiguous;
        for (&seq, &t) in &self.above {
            if seq > expect {
                out.push(Gap {
                    from: expect,
                    to: seq,
                    t,
                });
            }
            expect = seq.saturating_add(1);
        }
        out
    }

    /// The `from` of the next live poll (see the type's doc).
    pub fn poll_from(&mut self) -> u32 {
        let Some(&max) = self.above.keys().next_back() else {
            return self.contiguous;
        };
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(RECHECK_EVERY) {
            for g in self.gaps() {
                *self.checks.entry(g.from).or_default() += 1;
            }
            return self.contiguous;
        }
        max.saturating_add(1)
    }

    /// Gives up the gaps re-checked at least `checks` times (every gap
    /// with 0: nothing more will come, e.g. a session no longer
    /// followed live); returns them, each once.
    pub fn settle(&mut self, checks: u32) -> Vec<Gap> {
        let mut out = Vec::new();
        for g in self.gaps() {
            if self.checks.get(&g.from).copied().unwrap_or(0) < checks {
                break;
            }
            out.push(g);
            self.contiguous = g.to;
            self.advance();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, EventData, SessionId};

    fn chunk(seq: u32, t: u64) -> Vec<u8> {
        let events = vec![Event {
            t,
            data: EventData::Custom(Custom {
                name: format!("e{seq}"),
                data: None,
            }),
        }];
        encode_chunk(SessionId([1; 16]), seq, &events).expect("encodes")
    }

    fn frame(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    #[test]
    fn decodes_every_chunk_in_order() {
        let (events, warnings) = decode_session(&frame(&[&chunk(0, 10), &chunk(1, 20)]));
        assert!(warnings.is_empty());
        assert_eq!(events.iter().map(|e| e.t).collect::<Vec<_>>(), vec![10, 20]);
        assert_eq!(decode_session(&[]), (vec![], vec![]));
    }

    #[test]
    fn bad_chunks_are_skipped_not_fatal() {
        let mut body = frame(&[&chunk(0, 10), b"garbage", &chunk(2, 30)]);
        body.extend_from_slice(&[5, 0]);
        let (events, warnings) = decode_session(&body);
        assert_eq!(events.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut body = frame(&[&chunk(0, 10)]);
        body.extend_from_slice(&100u32.to_le_bytes());
        body.extend_from_slice(b"short");
        let (events, warnings) = decode_session(&body);
        assert_eq!((events.len(), warnings.len()), (1, 1));
    }

    #[test]
    fn framer_decodes_whatever_way_the_bytes_arrive() {
        let body = frame(&[&chunk(0, 10), &chunk(1, 20), &chunk(2, 30)]);
        for step in [1, 3, 7, 100, body.len()] {
            let mut f = Framer::new();
            let mut seqs = Vec::new();
            for piece in body.chunks(step) {
                for c in f.push(piece) {
                    seqs.push(c.expect("decodes").header.seq);
                }
            }
            assert_eq!(seqs, vec![0, 1, 2], "step {step}");
            assert_eq!(f.finish(), None);
        }
        let mut f = Framer::new();
        assert!(f.push(&body[..body.len() - 1]).len() == 2);
        assert!(f.finish().is_some());
    }

    #[test]
    fn seen_tracks_what_arrived() {
        let mut s = Seen::default();
        assert_eq!((s.from(), s.poll_from()), (0, 0));
        assert!(s.add(0, 10));
        assert!(s.add(2, 30));
        assert_eq!(s.from(), 1);
        assert!(!s.add(2, 30));
        assert_eq!(
            s.gaps(),
            vec![Gap {
                from: 1,
                to: 2,
                t: 30
            }]
        );
        assert!(s.add(1, 20));
        assert_eq!(s.from(), 3);
        assert!(!s.add(0, 10));
        assert!(s.gaps().is_empty());
    }

    #[test]
    fn polls_ask_past_a_gap_and_recheck_it_rarely() {
        let mut s = Seen::default();
        for seq in [0, 1, 2, 4, 5, 6] {
            s.add(seq, u64::from(seq) * 100);
        }
        // Seq 3 is missing: polls ask from 7, not 3, except one in
        // RECHECK_EVERY, and only GAP_CHECKS times in all.
        let mut from_gap = 0;
        let mut given_up = Vec::new();
        for poll in 1..=RECHECK_EVERY * 10 {
            let from = s.poll_from();
            if from == 3 {
                from_gap += 1;
                assert_eq!(poll % RECHECK_EVERY, 0, "poll {poll}");
            } else {
                assert_eq!(from, 7, "poll {poll}");
            }
            given_up.extend(s.settle(GAP_CHECKS));
        }
        assert_eq!(from_gap, GAP_CHECKS);
        assert_eq!(
            given_up,
            vec![Gap {
                from: 3,
                to: 4,
                t: 400
            }]
        );
        assert_eq!(s.from(), 7);
        assert!(!s.add(3, 300), "a given-up chunk is not taken later");
        // A chunk that lands late, before the gap is given up, fills it.
        s.add(9, 900);
        assert_eq!(s.poll_from(), 10);
        assert!(s.add(8, 800) && s.add(7, 700));
        assert!(s.gaps().is_empty() && s.settle(0).is_empty());
        // Not followed live: every gap is given up at once.
        s.add(12, 1200);
        s.add(15, 1500);
        assert_eq!(
            s.settle(0),
            vec![
                Gap {
                    from: 10,
                    to: 12,
                    t: 1200
                },
                Gap {
                    from: 13,
                    to: 15,
                    t: 1500
                }
            ]
        );
        assert_eq!(s.poll_from(), 16);
    }

    /// A cross-origin frame joined to its page follows the page into its
    /// next session (`recorder/js/src/crossframe.js`): the new session's
    /// chunks hold the page's snapshot, then the frame's own chunks, the
    /// first of which adds its document again, with the ids of the block it
    /// had in the old session. A chunk the frame sealed before it heard of
    /// the rotation, naming nodes this session never saw, costs nothing.
    /// The replay shows the frame's document in place, and its changes.
    #[test]
    fn a_frame_that_followed_its_page_into_a_new_session_replays_there() {
        use crate::model::tests::{doc, el, meta, snapshot, text};
        use crate::model::Model;
        use crate::testdom::FakeDom;
        use reel_shared::frames::FIRST_BASE;
        use reel_shared::{
            AddedTree, FlatNode, FrameEvents, Mutation, NodeKind, TextChange, NO_NODE,
        };

        let base = FIRST_BASE;
        let change = |id, t: &str| {
            EventData::Mutation(Mutation {
                texts: vec![TextChange { id, text: t.into() }],
                ..Mutation::default()
            })
        };
        let frame_chunk = |data: Vec<EventData>| {
            let events: Vec<Event> = data.into_iter().map(|data| Event { t: 5, data }).collect();
            EventData::FrameEvents(FrameEvents {
                frame: 4,
                base,
                chunk: encode_chunk(SessionId([2; 16]), 0, &events).expect("encodes"),
            })
        };
        let frame_doc = EventData::Mutation(Mutation {
            adds: vec![AddedTree {
                parent: 4,
                next: NO_NODE,
                nodes: vec![
                    FlatNode {
                        id: base,
                        parent: 4,
                        kind: NodeKind::Document,
                    },
                    el(base + 1, base, "html", &[]),
                    el(base + 2, base + 1, "body", &[]),
                    text(base + 3, base + 2, "frame as it is"),
                ],
            }],
            ..Mutation::default()
        });
        let data = vec![
            meta("https://site.test/"),
            snapshot(vec![
                doc(1),
                el(2, 1, "html", &[]),
                el(3, 2, "body", &[]),
                el(4, 3, "iframe", &[("src", "https://other.test/")]),
            ]),
            frame_chunk(vec![change(base + 3, "sealed before the rotation")]),
            frame_chunk(vec![frame_doc]),
            frame_chunk(vec![change(base + 3, "changed after")]),
        ];
        let events: Vec<Event> = data
            .into_iter()
            .enumerate()
            .map(|(i, data)| Event {
                t: 10 + i as u64,
                data,
            })
            .collect();
        let body = frame(&[&encode_chunk(SessionId([1; 16]), 0, &events).expect("encodes")]);
        let (events, warnings) = decode_session(&body);
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut model = Model::new();
        let mut dom = FakeDom::from_ops(&model.render_all());
        let mut seen = Vec::new();
        for e in &events {
            dom.apply(&model.apply_event(e));
            model.check();
            seen.push(dom.html());
        }
        assert_eq!(dom.html(), FakeDom::from_ops(&model.render_all()).html());
        let [.., stale, first, last] = &seen[..] else {
            panic!("{seen:?}");
        };
        assert!(stale.contains("frame not recorded"), "{stale}");
        assert!(!stale.contains("sealed before"), "{stale}");
        assert!(
            first.contains("frame as it is") && !first.contains("frame not recorded"),
            "{first}"
        );
        assert!(last.contains("changed after"), "{last}");
    }
}
