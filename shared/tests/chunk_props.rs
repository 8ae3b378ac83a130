//! Property tests for the chunk codec: every event survives a round trip,
//! and no byte string, however broken, makes the decoder panic.

use proptest::prelude::*;
use reel_shared::msgpack_read;
use reel_shared::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "\\PC{0,40}"]
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![text().prop_map(FieldValue::Text), Just(FieldValue::Masked)]
}

fn namespace() -> impl Strategy<Value = Namespace> {
    prop_oneof![
        Just(Namespace::Html),
        Just(Namespace::Svg),
        Just(Namespace::MathMl)
    ]
}

fn node_kind() -> impl Strategy<Value = NodeKind> {
    prop_oneof![
        Just(NodeKind::Document),
        (text(), text(), text()).prop_map(|(name, public_id, system_id)| NodeKind::Doctype {
            name,
            public_id,
            system_id
        }),
        (
            "[a-z]{1,8}",
            namespace(),
            prop::collection::vec((text(), text()), 0..4),
            prop::option::of(field_value()),
            prop::option::of(any::<bool>()),
            prop::option::of(text())
        )
            .prop_map(
                |(tag, ns, attrs, value, checked, stylesheet)| NodeKind::Element(Element {
                    tag,
                    ns,
                    attrs,
                    value,
                    checked,
                    stylesheet
                })
            ),
        text().prop_map(NodeKind::Text),
        text().prop_map(NodeKind::Comment),
        text().prop_map(NodeKind::CData),
        ("[a-z]{1,8}", namespace(), any::<u32>(), any::<u32>()).prop_map(
            |(tag, ns, width, height)| NodeKind::Blocked {
                tag,
                ns,
                width,
                height
            }
        ),
    ]
}

fn flat_node() -> impl Strategy<Value = FlatNode> {
    (any::<u32>(), any::<u32>(), node_kind()).prop_map(|(id, parent, kind)| FlatNode {
        id,
        parent,
        kind,
    })
}

fn event_data() -> impl Strategy<Value = EventData> {
    prop_oneof![
        (
            text(),
            text(),
            any::<u32>(),
            any::<u32>(),
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(any::<bool>())
        )
            .prop_map(
                |(href, title, width, height, user_agent, referrer, visitor_id, new_visitor)| {
                    EventData::Meta(Meta {
                        href,
                        title,
                        width,
                        height,
                        user_agent,
                        referrer,
                        visitor_id,
                        new_visitor,
                    })
                }
            ),
        (
            prop::collection::vec(flat_node(), 0..8),
            any::<i32>(),
            any::<i32>()
        )
            .prop_map(
                |(nodes, scroll_x, scroll_y)| EventData::FullSnapshot(Snapshot {
                    nodes,
                    scroll_x,
                    scroll_y
                })
            ),
        (
            prop::collection::vec(any::<u32>(), 0..4),
            prop::collection::vec(
                (
                    any::<u32>(),
                    any::<u32>(),
                    prop::collection::vec(flat_node(), 1..4)
                )
                    .prop_map(|(parent, next, nodes)| AddedTree {
                        parent,
                        next,
                        nodes
                    }),
                0..3
            ),
            prop::collection::vec(
                (any::<u32>(), text(), prop::option::of(text()))
                    .prop_map(|(id, name, value)| AttrChange { id, name, value }),
                0..3
            ),
            prop::collection::vec(
                (any::<u32>(), text()).prop_map(|(id, text)| TextChange { id, text }),
                0..3
            ),
        )
            .prop_map(
                |(removes, adds, attrs, texts)| EventData::Mutation(Mutation {
                    removes,
                    adds,
                    attrs,
                    texts
                })
            ),
        prop::collection::vec(
            (any::<i32>(), any::<i32>(), any::<u32>()).prop_map(|(x, y, dt)| MousePosition {
                x,
                y,
                dt
            }),
            0..5
        )
        .prop_map(EventData::MouseMove),
        (
            prop_oneof![
                Just(MouseKind::Down),
                Just(MouseKind::Up),
                Just(MouseKind::Click),
                Just(MouseKind::DblClick),
                Just(MouseKind::ContextMenu)
            ],
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u16>())
        )
            .prop_map(
                |(kind, id, x, y, label, selector, box_x, box_y)| EventData::Mouse(
                    MouseInteraction {
                        kind,
                        id,
                        x,
                        y,
                        label,
                        selector,
                        box_x,
                        box_y
                    }
                )
            ),
        (
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            prop::option::of(any::<u16>())
        )
            .prop_map(|(id, x, y, depth)| EventData::Scroll(Scroll { id, x, y, depth })),
        (any::<u32>(), any::<u32>())
            .prop_map(|(width, height)| EventData::Viewport(Viewport { width, height })),
        (
            any::<u32>(),
            prop::option::of(field_value()),
            prop::option::of(any::<bool>()),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(
                |(id, value, checked, label, selector)| EventData::Input(Input {
                    id,
                    value,
                    checked,
                    label,
                    selector
                })
            ),
        (text(), prop::option::of(text()))
            .prop_map(|(name, data)| EventData::Custom(Custom { name, data })),
        (text(), prop::option::of(text()))
            .prop_map(|(user_id, traits)| EventData::Identify(Identify { user_id, traits })),
    ]
}

fn sheet_ref() -> impl Strategy<Value = SheetRef> {
    prop_oneof![
        any::<u32>().prop_map(SheetRef::Node),
        any::<u32>().prop_map(SheetRef::Constructed)
    ]
}

fn sheet_op() -> impl Strategy<Value = SheetOp> {
    let path = prop::collection::vec(any::<u32>(), 0..3);
    prop_oneof![
        (path.clone(), any::<u32>(), text()).prop_map(|(path, index, rule)| SheetOp::Insert {
            path,
            index,
            rule
        }),
        (path, any::<u32>()).prop_map(|(path, index)| SheetOp::Delete { path, index }),
        text().prop_map(|text| SheetOp::Replace { text }),
    ]
}

/// Finite floats only: NaN never equals itself, which says nothing about
/// the codec.
fn num() -> impl Strategy<Value = f64> {
    -1e9f64..1e9
}

fn more_event_data() -> impl Strategy<Value = EventData> {
    prop_oneof![
        (
            prop_oneof![
                Just(ConsoleLevel::Debug),
                Just(ConsoleLevel::Log),
                Just(ConsoleLevel::Info),
                Just(ConsoleLevel::Warn),
                Just(ConsoleLevel::Error)
            ],
            text()
        )
            .prop_map(|(level, text)| EventData::Console(Console { level, text })),
        (
            prop_oneof![
                Just(PageErrorKind::Uncaught),
                Just(PageErrorKind::UnhandledRejection)
            ],
            text(),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(
                |(kind, message, source, stack)| EventData::PageError(PageError {
                    kind,
                    message,
                    source,
                    stack
                })
            ),
        (sheet_ref(), sheet_op())
            .prop_map(|(sheet, op)| EventData::StyleSheet(StyleSheetChange { sheet, op })),
        (any::<u32>(), prop::collection::vec(any::<u32>(), 0..4)).prop_map(|(root, sheets)| {
            EventData::AdoptedStyleSheets(AdoptedStyleSheets { root, sheets })
        }),
        (
            any::<u32>(),
            prop_oneof![
                Just(MediaAction::Play),
                Just(MediaAction::Pause),
                Just(MediaAction::Seek),
                Just(MediaAction::RateChange),
                Just(MediaAction::VolumeChange)
            ],
            num(),
            num(),
            any::<bool>(),
            num()
        )
            .prop_map(
                |(id, action, time, rate, muted, volume)| EventData::Media(Media {
                    id,
                    action,
                    time,
                    rate,
                    muted,
                    volume
                })
            ),
        (any::<u32>(), text())
            .prop_map(|(id, data_url)| EventData::Canvas(Canvas { id, data_url })),
        (any::<u32>(), any::<bool>())
            .prop_map(|(id, focused)| EventData::Focus(Focus { id, focused })),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(anchor, anchor_offset, focus, focus_offset)| {
                EventData::Selection(Selection {
                    anchor,
                    anchor_offset,
                    focus,
                    focus_offset,
                })
            }
        ),
        any::<bool>().prop_map(|visible| EventData::Visibility(Visibility { visible })),
        (
            prop_oneof![
                Just(TouchKind::Start),
                Just(TouchKind::Move),
                Just(TouchKind::End),
                Just(TouchKind::Cancel)
            ],
            prop::collection::vec((any::<i32>(), any::<i32>()), 0..3)
        )
            .prop_map(|(kind, points)| EventData::Touch(Touch { kind, points })),
        (any::<u32>(), any::<u64>())
            .prop_map(|(chunks, bytes)| EventData::Dropped(Dropped { chunks, bytes })),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(), text()), 0..4)
}

/// The kinds added for support (issue 17): requests and key presses.
fn support_event_data() -> impl Strategy<Value = EventData> {
    prop_oneof![
        (
            (
                prop_oneof![
                    Just(NetworkKind::Fetch),
                    Just(NetworkKind::Xhr),
                    Just(NetworkKind::Beacon)
                ],
                text(),
                text(),
                any::<u16>(),
                any::<u32>(),
                prop::option::of(any::<u64>()),
                prop::option::of(any::<u64>()),
            ),
            (
                prop::option::of(text()),
                headers(),
                headers(),
                prop::option::of(text()),
                prop::option::of(text()),
            )
        )
            .prop_map(
                |(
                    (kind, method, url, status, duration_ms, request_bytes, response_bytes),
                    (failure, request_headers, response_headers, request_body, response_body),
                )| {
                    EventData::Network(Network {
                        kind,
                        method,
                        url,
                        status,
                        duration_ms,
                        request_bytes,
                        response_bytes,
                        failure,
                        request_headers,
                        response_headers,
                        request_body,
                        response_body,
                    })
                }
            ),
        (
            any::<u32>(),
            text(),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(|(id, key, label, selector)| EventData::Key(Key {
                id,
                key,
                label,
                selector
            })),
    ]
}

/// The kind added for insights (issue 16): frustration signals.
fn insights_event_data() -> impl Strategy<Value = EventData> {
    (
        prop_oneof![
            Just(SignalKind::RageClick),
            Just(SignalKind::DeadClick),
            Just(SignalKind::ErrorClick),
            Just(SignalKind::ThrashedCursor),
            Just(SignalKind::UTurn)
        ],
        any::<u64>(),
        any::<u32>(),
        any::<i32>(),
        any::<i32>(),
        any::<u32>(),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(|(kind, since, id, x, y, count, label, selector)| {
            EventData::Signal(Signal {
                kind,
                since,
                id,
                x,
                y,
                count,
                label,
                selector,
            })
        })
}

/// The kinds added for fidelity (issue 14): animation phases, popovers.
fn fidelity_event_data() -> impl Strategy<Value = EventData> {
    prop_oneof![
        (
            any::<u32>(),
            text(),
            prop::option::of(text()),
            num(),
            any::<bool>()
        )
            .prop_map(|(id, name, pseudo, time, paused)| {
                EventData::Animation(Animation {
                    id,
                    name,
                    pseudo,
                    time,
                    paused,
                })
            }),
        (any::<u32>(), any::<bool>())
            .prop_map(|(id, open)| EventData::Popover(Popover { id, open })),
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(frame, base, chunk)| EventData::FrameEvents(FrameEvents {
                frame,
                base,
                chunk
            })),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        any::<u64>(),
        prop_oneof![
            event_data(),
            more_event_data(),
            support_event_data(),
            insights_event_data(),
            fidelity_event_data()
        ],
    )
        .prop_map(|(t, data)| Event { t, data })
}

proptest! {
    /// The hand-written MessagePack writer (which keeps serde out of the
    /// recorder's wasm) writes exactly what rmp-serde writes, so decoders
    /// that read with serde see no difference.
    #[test]
    fn the_hand_written_writer_matches_rmp_serde(e in event()) {
        let mut ours = Vec::new();
        reel_shared::msgpack::write_event(&mut ours, &e);
        prop_assert_eq!(ours, rmp_serde::to_vec(&on_the_wire(e)).unwrap());
    }

    #[test]
    fn the_hand_written_header_matches_rmp_serde(id in any::<[u8; 16]>(), seq in any::<u32>(), t in any::<u64>(), n in any::<u32>(), clicks in any::<u32>(), urls in prop::collection::vec(text(), 0..20), user in prop::option::of(text()), ua in prop::option::of("\\PC{0,300}")) {
        let h = ChunkHeader {
            session: SessionId(id), seq, t_start: t / 2, t_end: t, event_count: n,
            stats: ChunkStats { clicks, errors: clicks / 3, urls, user_id: user, user_agent: ua },
        };
        let mut ours = Vec::new();
        reel_shared::msgpack::write_header(&mut ours, &h);
        prop_assert_eq!(ours, rmp_serde::to_vec(&h).unwrap());
    }
}

/// The event as format 2 sends it: node ids relative.
fn on_the_wire(mut e: Event) -> Event {
    each_node_list(&mut e.data, ids_to_wire);
    e
}

/// A chunk of format 1 (absolute node ids, as recorders before format 2
/// wrote them) still decodes to the same events.
#[test]
fn format_1_chunks_still_decode() {
    let events = vec![
        Event {
            t: 5,
            data: EventData::FullSnapshot(Snapshot {
                nodes: vec![
                    FlatNode {
                        id: 1,
                        parent: 0,
                        kind: NodeKind::Document,
                    },
                    FlatNode {
                        id: 2,
                        parent: 1,
                        kind: NodeKind::Text("a".into()),
                    },
                    FlatNode {
                        id: 7,
                        parent: 1,
                        kind: NodeKind::Comment("b".into()),
                    },
                ],
                scroll_x: 0,
                scroll_y: 0,
            }),
        },
        Event {
            t: 6,
            data: EventData::Mutation(Mutation {
                adds: vec![AddedTree {
                    parent: 7,
                    next: 0,
                    nodes: vec![FlatNode {
                        id: 3,
                        parent: 7,
                        kind: NodeKind::ShadowRoot,
                    }],
                }],
                ..Mutation::default()
            }),
        },
    ];
    let v2 = encode_chunk(SessionId([1; 16]), 0, &events).unwrap();
    let (header, _) = decode_header(&v2, &Limits::default()).unwrap();
    let mut header_bytes = rmp_serde::to_vec(&header).unwrap();
    let mut v1 = b"REEL\x01".to_vec();
    v1.extend_from_slice(&(header_bytes.len() as u32).to_le_bytes());
    v1.append(&mut header_bytes);
    v1.extend_from_slice(&ruzstd::encoding::compress_to_vec(
        &rmp_serde::to_vec(&events).unwrap()[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    assert_eq!(
        decode_chunk(&v1, &Limits::default()).unwrap().events,
        events
    );
    assert_eq!(
        decode_chunk(&v2, &Limits::default()).unwrap().events,
        events
    );
    // And the relative ids really are what version 2 stores.
    assert_ne!(v1[9..], v2[9..]);
}

/// Mouse and Input events written before they had a label and a selector
/// (four and three fields) still decode, with neither.
#[test]
fn events_without_labels_still_decode() {
    #[derive(serde::Serialize)]
    enum Old {
        Mouse((MouseKind, u32, i32, i32)),
        Input((u32, Option<FieldValue>, Option<bool>)),
    }
    let old = vec![
        (7u64, Old::Mouse((MouseKind::Click, 3, 10, -20))),
        (8u64, Old::Input((4, Some(FieldValue::Masked), None))),
    ];
    let events: Vec<Event> = rmp_serde::from_slice(&rmp_serde::to_vec(&old).unwrap()).unwrap();
    assert_eq!(
        events,
        vec![
            Event {
                t: 7,
                data: EventData::Mouse(MouseInteraction {
                    kind: MouseKind::Click,
                    id: 3,
                    x: 10,
                    y: -20,
                    label: None,
                    selector: None,
                    box_x: None,
                    box_y: None,
                }),
            },
            Event {
                t: 8,
                data: EventData::Input(Input {
                    id: 4,
                    value: Some(FieldValue::Masked),
                    checked: None,
                    label: None,
                    selector: None,
                }),
            },
        ]
    );
}

/// Lengths and values at every size boundary of the MessagePack encodings.
#[test]
fn the_hand_written_writer_matches_rmp_serde_at_size_boundaries() {
    for len in [0usize, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000] {
        let s = "x".repeat(len);
        let nodes: Vec<FlatNode> = (0..len.min(70000) as u32)
            .map(|i| FlatNode {
                id: i,
                parent: i / 2,
                kind: NodeKind::Text(String::new()),
            })
            .collect();
        let e = Event {
            t: len as u64,
            data: EventData::Mutation(Mutation {
                removes: (0..len as u32).collect(),
                adds: vec![AddedTree {
                    parent: 1,
                    next: 0,
                    nodes,
                }],
                attrs: vec![AttrChange {
                    id: 3,
                    name: s.clone(),
                    value: Some(s.clone()),
                }],
                texts: vec![TextChange {
                    id: u32::MAX,
                    text: s,
                }],
            }),
        };
        let mut ours = Vec::new();
        reel_shared::msgpack::write_event(&mut ours, &e);
        assert!(
            ours == rmp_serde::to_vec(&on_the_wire(e)).unwrap(),
            "differs at length {len}"
        );
    }
    for v in [
        0i32,
        1,
        -1,
        127,
        128,
        -32,
        -33,
        -128,
        -129,
        255,
        256,
        32767,
        -32768,
        -32769,
        65535,
        65536,
        i32::MAX,
        i32::MIN,
    ] {
        let e = Event {
            t: v.unsigned_abs() as u64 * 4_000_000_000,
            data: EventData::Scroll(Scroll {
                id: v.unsigned_abs(),
                x: v,
                y: -v.saturating_add(1),
                depth: u16::try_from(v.unsigned_abs()).ok(),
            }),
        };
        let mut ours = Vec::new();
        reel_shared::msgpack::write_event(&mut ours, &e);
        assert_eq!(ours, rmp_serde::to_vec(&e).unwrap(), "differs at {v}");
    }
}

proptest! {
    #[test]
    fn events_round_trip(id in any::<[u8; 16]>(), seq in any::<u32>(), events in prop::collection::vec(event(), 1..20)) {
        let bytes = encode_chunk(SessionId(id), seq, &events).unwrap();
        let chunk = decode_chunk(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(chunk.header.session, SessionId(id));
        prop_assert_eq!(chunk.header.seq, seq);
        prop_assert_eq!(chunk.header.event_count as usize, events.len());
        prop_assert_eq!(chunk.header.t_start, events.iter().map(|e| e.t).min().unwrap());
        prop_assert_eq!(chunk.events, events);
    }

    /// A chunk compressed a frame at a time, at any points between pushes,
    /// decodes to the same events as one compressed at once; the bomb limit
    /// holds across frames.
    #[test]
    fn chunks_compressed_in_pieces_round_trip(events in prop::collection::vec(event(), 1..40), pad in 0usize..600, every in 1usize..8) {
        // Big enough events that the chunk spans several frames.
        let mut events = events;
        for (i, e) in events.iter_mut().enumerate() {
            if i % 3 == 0 {
                e.data = EventData::Custom(Custom { name: format!("{i}-{}", "pad ".repeat(pad * 30 + i)), data: None });
            }
        }
        let mut enc = ChunkEncoder::new(SessionId([9; 16]), 4);
        for (i, e) in events.iter().enumerate() {
            enc.push(e).unwrap();
            if i % every == 0 {
                while enc.compress_some() {}
            }
        }
        let encoded = enc.encoded_bytes();
        let bytes = enc.finish().unwrap();
        let chunk = decode_chunk(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(&chunk.events, &events);
        prop_assert_eq!(chunk.header.event_count as usize, events.len());
        prop_assert_eq!(&chunk.header.stats, &ChunkStats::from_events(&events));
        let tight = Limits { max_decompressed: encoded + 5, ..Limits::default() };
        prop_assert!(decode_chunk(&bytes, &tight).is_ok());
        let under = Limits { max_decompressed: encoded.saturating_sub(2), ..Limits::default() };
        prop_assert!(decode_chunk(&bytes, &under).is_err());
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_chunk(&bytes, &Limits::default());
        let mut prefixed = b"REEL\x01".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = decode_chunk(&prefixed, &Limits::default());
    }

    #[test]
    fn corrupted_chunks_never_panic(events in prop::collection::vec(event(), 1..6), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let mut bytes = encode_chunk(SessionId([3; 16]), 1, &events).unwrap();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let _ = decode_chunk(&bytes, &Limits::default());
        let n = cut.index(bytes.len());
        let _ = decode_chunk(&bytes[..n], &Limits::default());
    }
}

#[test]
fn a_zstd_bomb_is_refused_at_the_limit() {
    let events = vec![Event {
        t: 1,
        data: EventData::Custom(Custom {
            name: "x".repeat(4 << 20),
            data: None,
        }),
    }];
    let bytes = encode_chunk(SessionId([1; 16]), 0, &events).unwrap();
    assert!(
        bytes.len() < 64 * 1024,
        "4 MiB of one byte compresses to {}",
        bytes.len()
    );
    let limits = Limits {
        max_decompressed: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        decode_chunk(&bytes, &limits),
        Err(ChunkError::BodyTooLarge(1 << 20))
    );
}

#[test]
fn errors_are_counted_for_the_index() {
    let e = |data| Event { t: 1, data };
    let events = vec![
        e(EventData::Console(Console {
            level: ConsoleLevel::Error,
            text: "boom".into(),
        })),
        e(EventData::Console(Console {
            level: ConsoleLevel::Warn,
            text: "meh".into(),
        })),
        e(EventData::PageError(PageError {
            kind: PageErrorKind::Uncaught,
            message: "x is undefined".into(),
            source: None,
            stack: None,
        })),
    ];
    assert_eq!(ChunkStats::from_events(&events).errors, 2);
}

#[test]
fn versions_and_magic_are_checked() {
    let events = vec![Event {
        t: 1,
        data: EventData::Viewport(Viewport {
            width: 1,
            height: 2,
        }),
    }];
    let mut bytes = encode_chunk(SessionId([1; 16]), 0, &events).unwrap();
    bytes[4] = 99;
    assert_eq!(
        decode_chunk(&bytes, &Limits::default()),
        Err(ChunkError::UnsupportedVersion(99))
    );
    bytes[0] = b'X';
    assert_eq!(
        decode_chunk(&bytes, &Limits::default()),
        Err(ChunkError::BadMagic)
    );
    assert_eq!(
        decode_chunk(b"RE", &Limits::default()),
        Err(ChunkError::Truncated)
    );
}

#[test]
fn trailing_bytes_and_count_mismatch_are_refused() {
    let events = vec![Event {
        t: 1,
        data: EventData::Viewport(Viewport {
            width: 1,
            height: 2,
        }),
    }];
    let mut bytes = encode_chunk(SessionId([1; 16]), 0, &events).unwrap();
    bytes.push(0);
    assert_eq!(
        decode_chunk(&bytes, &Limits::default()),
        Err(ChunkError::TrailingBytes)
    );
}

/// Events as rmp-serde writes a `Vec<Event>` (ids as format 2 sends them).
fn rmp_events(events: &[Event]) -> (Vec<Event>, Vec<u8>) {
    let wire: Vec<Event> = events.iter().cloned().map(on_the_wire).collect();
    let bytes = rmp_serde::to_vec(&wire).unwrap();
    (wire, bytes)
}

proptest! {
    /// The hand-written reader (which keeps serde out of the player's
    /// wasm) reads exactly what rmp-serde writes.
    #[test]
    fn the_reader_reads_what_rmp_serde_writes(events in prop::collection::vec(event(), 0..8)) {
        let (wire, bytes) = rmp_events(&events);
        prop_assert_eq!(msgpack_read::read_events(&bytes), Ok(wire));
    }

    #[test]
    fn the_reader_reads_headers_as_rmp_serde_writes_them(id in any::<[u8; 16]>(), seq in any::<u32>(), t in any::<u64>(), n in any::<u32>(), clicks in any::<u32>(), urls in prop::collection::vec(text(), 0..20), user in prop::option::of(text()), ua in prop::option::of(text())) {
        let h = ChunkHeader {
            session: SessionId(id), seq, t_start: t / 2, t_end: t, event_count: n,
            stats: ChunkStats { clicks, errors: clicks / 3, urls, user_id: user, user_agent: ua },
        };
        let bytes = rmp_serde::to_vec(&h).unwrap();
        prop_assert_eq!(msgpack_read::Reader::new(&bytes).header(), Ok(h));
    }

    /// Damaged bytes: the reader fails cleanly, or reads what rmp-serde
    /// reads from the same bytes (it is never more lenient in a way that
    /// would give another value).
    #[test]
    fn the_reader_never_reads_damaged_bytes_otherwise_than_rmp_serde(events in prop::collection::vec(event(), 1..5), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), cut in any::<prop::sample::Index>()) {
        let (_, mut bytes) = rmp_events(&events);
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        for b in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
            if let Ok(ours) = msgpack_read::read_events(b) {
                let theirs: Result<Vec<Event>, _> = rmp_serde::from_slice(b);
                prop_assert_eq!(theirs.ok(), Some(ours));
            }
        }
    }

    #[test]
    fn the_reader_survives_garbage(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = msgpack_read::read_events(&bytes);
        let _ = msgpack_read::Reader::new(&bytes).header();
        let mut r = msgpack_read::Reader::new(&bytes);
        while r.event().is_ok() {}
    }
}

/// Structs written before their trailing fields were appended decode with
/// the fields' defaults, as rmp-serde decodes them.
#[test]
fn the_reader_reads_structs_written_before_fields_were_appended() {
    #[derive(serde::Serialize)]
    enum OldKind {
        Element((String, Namespace, Vec<(String, String)>)),
    }
    #[derive(serde::Serialize)]
    enum Old {
        Mouse((MouseKind, u32, i32, i32)),
        Input((u32, Option<FieldValue>, Option<bool>)),
        FullSnapshot((Vec<(u32, u32, OldKind)>, i32, i32)),
        Meta((String, String, u32, u32, String)),
        Scroll((u32, i32, i32)),
    }
    let old = vec![
        (7u64, Old::Mouse((MouseKind::Click, 3, 10, -20))),
        (8u64, Old::Input((4, Some(FieldValue::Masked), None))),
        (
            9u64,
            Old::FullSnapshot((
                vec![(1, 1, OldKind::Element(("p".into(), Namespace::Svg, vec![])))],
                0,
                5,
            )),
        ),
        (
            10u64,
            Old::Meta(("https://a/".into(), "A".into(), 800, 600, "UA".into())),
        ),
        (11u64, Old::Scroll((1, 0, 300))),
    ];
    let bytes = rmp_serde::to_vec(&old).unwrap();
    let ours = msgpack_read::read_events(&bytes).unwrap();
    let theirs: Vec<Event> = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(ours, theirs);
    assert!(matches!(
        &ours[0].data,
        EventData::Mouse(MouseInteraction {
            label: None,
            selector: None,
            x: 10,
            ..
        })
    ));
    let EventData::FullSnapshot(s) = &ours[2].data else {
        panic!("{:?}", ours[2]);
    };
    assert_eq!(
        s.nodes[0].kind,
        NodeKind::Element(Element {
            tag: "p".into(),
            ns: Namespace::Svg,
            ..Element::default()
        })
    );
    assert!(matches!(
        &ours[3].data,
        EventData::Meta(Meta {
            referrer: None,
            visitor_id: None,
            new_visitor: None,
            width: 800,
            ..
        })
    ));
    assert!(matches!(
        &ours[4].data,
        EventData::Scroll(Scroll {
            depth: None,
            y: 300,
            ..
        })
    ));
    // One field more than the model knows is refused, as rmp-serde does.
    #[derive(serde::Serialize)]
    enum New {
        Viewport((u32, u32, u32)),
    }
    let bytes = rmp_serde::to_vec(&vec![(1u64, New::Viewport((1, 2, 3)))]).unwrap();
    assert!(msgpack_read::read_events(&bytes).is_err());
    assert!(rmp_serde::from_slice::<Vec<Event>>(&bytes).is_err());
}
