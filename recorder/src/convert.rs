//! Turns the capture layer's raw findings into Reel events, applying the
//! masking rules on the way. Pure: unit-tested natively.

use crate::mask::{self, Field};
use crate::netmask;
use crate::raw::{flags, RawAdd, RawAttr, RawEvent, RawLabel, RawNetwork, RawNode, RawText};
use reel_shared::text::cut;
use reel_shared::{limits, Network, NetworkKind};
use reel_shared::{
    AddedTree, AdoptedStyleSheets, AttrChange, Canvas, Console, ConsoleLevel, Custom, Element,
    Event, EventData, FlatNode, Focus, Identify, Input, Key, Media, MediaAction, Meta,
    MouseInteraction, MouseKind, MousePosition, Mutation, Namespace, NodeKind, PageError,
    PageErrorKind, Scroll, Selection, SheetOp, SheetRef, Snapshot, StyleSheetChange, TextChange,
    Touch, TouchKind, Viewport, Visibility,
};
use reel_shared::{Animation, Popover};
use std::mem::take;

/// Console text and error messages are cut to this many bytes: enough to
/// read, bounded whatever the page logs.
pub const MAX_TEXT: usize = 1024;
/// A canvas bitmap larger than this is skipped (one frame must not fill a
/// chunk).
pub const MAX_CANVAS_URL: usize = 2 * 1024 * 1024;

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

fn ms(t: f64) -> u64 {
    if t.is_finite() && t > 0.0 {
        t as u64
    } else {
        0
    }
}

fn px(v: f64) -> i32 {
    if v.is_finite() {
        v.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32
    } else {
        0
    }
}

/// A share in thousandths (0..=1000), from the capture layer's number.
fn thousandths(v: f64) -> Option<u16> {
    v.is_finite().then(|| v.round().clamp(0.0, 1000.0) as u16)
}

/// Finds `s` among `names` (the capture layer's words for an enum's
/// cases): the case at the same place in `cases`.
fn pick<T: Copy>(s: &str, names: &[&str], cases: &[T]) -> Option<T> {
    let i = names.iter().position(|n| *n == s)?;
    cases.get(i).copied()
}

/// An event target's label and selector, as they may leave the browser.
#[inline(never)]
fn target(label: &mut RawLabel) -> (Option<String>, Option<String>) {
    (
        mask::label(take(&mut label.text), label.masked),
        mask::selector(take(&mut label.selector)),
    )
}

/// Converts one raw event; `None` for what carries nothing to record.
pub fn event(mut raw: RawEvent) -> Option<Event> {
    let event = convert(&mut raw);
    // What the conversion did not take is dropped here, once: a drop at
    // each early return of a conversion that owned its fields was most of
    // this module's wasm.
    drop(raw);
    event
}

/// The conversion proper: it takes (`mem::take`) what it keeps from `raw`,
/// after its checks, so returning early owns nothing to drop.
fn convert(raw: &mut RawEvent) -> Option<Event> {
    let (t, data) = match raw {
        RawEvent::Meta {
            t,
            href,
            title,
            w,
            h,
            ua,
            referrer,
            visitor,
            ..
        } => {
            let visitor =
                take(visitor).filter(|(v, _)| !v.is_empty() && v.len() <= limits::MAX_VISITOR_ID);
            (
                *t,
                EventData::Meta(Meta {
                    href: take(href),
                    title: take(title),
                    width: *w,
                    height: *h,
                    user_agent: take(ua),
                    referrer: Some(cut(take(referrer), limits::MAX_URL)).filter(|r| !r.is_empty()),
                    new_visitor: visitor.as_ref().map(|v| v.1),
                    visitor_id: visitor.map(|v| v.0),
                }),
            )
        }
        RawEvent::Snapshot { t, nodes, sx, sy } => (
            *t,
            EventData::FullSnapshot(Snapshot {
                nodes: nodes_of(take(nodes)),
                scroll_x: px(*sx),
                scroll_y: px(*sy),
            }),
        ),
        RawEvent::Mutation {
            t,
            rem,
            add,
            attr,
            text,
        } => (*t, EventData::Mutation(mutation(rem, add, attr, text)?)),
        RawEvent::MouseMove { t, pos } => {
            if pos.is_empty() {
                return None;
            }
            let pos = pos
                .iter()
                .map(|&(x, y, dt)| MousePosition {
                    x: px(x),
                    y: px(y),
                    dt: px(dt).max(0) as u32,
                })
                .collect();
            (*t, EventData::MouseMove(pos))
        }
        RawEvent::Mouse {
            t,
            kind,
            id,
            x,
            y,
            label,
            bx,
            by,
            ..
        } => {
            let kind = pick(
                kind,
                &["mousedown", "mouseup", "click", "dblclick", "contextmenu"],
                &[
                    MouseKind::Down,
                    MouseKind::Up,
                    MouseKind::Click,
                    MouseKind::DblClick,
                    MouseKind::ContextMenu,
                ],
            )?;
            let (label, selector) = target(label);
            (
                *t,
                EventData::Mouse(MouseInteraction {
                    kind,
                    id: *id,
                    x: px(*x),
                    y: px(*y),
                    label,
                    selector,
                    box_x: bx.and_then(thousandths),
                    box_y: by.and_then(thousandths),
                }),
            )
        }
        RawEvent::Scroll { t, id, x, y, depth } => (
            *t,
            EventData::Scroll(Scroll {
                id: *id,
                x: px(*x),
                y: px(*y),
                depth: depth.and_then(thousandths),
            }),
        ),
        // Held by the caller until its `snap` arrives (`api.rs`), and for
        // the signal detector alone.
        RawEvent::SnapshotPart { .. } | RawEvent::Changed { .. } => return None,
        RawEvent::Viewport { t, w, h } => (
            *t,
            EventData::Viewport(Viewport {
                width: *w,
                height: *h,
            }),
        ),
        RawEvent::Input {
            t,
            id,
            field,
            label,
        } => {
            let f = Field {
                tag: &field.tag,
                ty: &field.ty,
                autocomplete: &field.ac,
                flags: field.m,
            };
            let value = take(&mut field.v).map(|v| f.value(v));
            let checked = f.checked(field.c);
            let (label, selector) = target(label);
            (
                *t,
                EventData::Input(Input {
                    id: *id,
                    value,
                    checked,
                    label,
                    selector,
                }),
            )
        }
        RawEvent::Key { t, id, key, label } => {
            // Named keys only: a single character would be typed text.
            if key.chars().nth(1).is_none() || key.len() > limits::MAX_KEY {
                return None;
            }
            let (label, selector) = target(label);
            (
                *t,
                EventData::Key(Key {
                    id: *id,
                    key: take(key),
                    label,
                    selector,
                }),
            )
        }
        RawEvent::Custom { t, name, data } => (
            *t,
            EventData::Custom(Custom {
                name: take(name),
                data: take(data),
            }),
        ),
        RawEvent::Identify { t, user, traits } => (
            *t,
            EventData::Identify(Identify {
                user_id: take(user),
                traits: take(traits),
            }),
        ),
        RawEvent::Console { t, level, text } => (
            *t,
            EventData::Console(Console {
                level: pick(
                    level,
                    &["debug", "info", "warn", "error"],
                    &[
                        ConsoleLevel::Debug,
                        ConsoleLevel::Info,
                        ConsoleLevel::Warn,
                        ConsoleLevel::Error,
                    ],
                )
                .unwrap_or(ConsoleLevel::Log),
                text: cut(take(text), MAX_TEXT),
            }),
        ),
        RawEvent::Error {
            t,
            kind,
            msg,
            src,
            stack,
        } => (
            *t,
            EventData::PageError(PageError {
                kind: if kind == "rejection" {
                    PageErrorKind::UnhandledRejection
                } else {
                    PageErrorKind::Uncaught
                },
                message: cut(take(msg), MAX_TEXT),
                source: take(src).map(|s| cut(s, MAX_TEXT)),
                stack: take(stack).map(|s| cut(s, 4 * MAX_TEXT)),
            }),
        ),
        RawEvent::Sheet {
            t,
            node,
            cs,
            op,
            path,
            i,
            rule,
            text,
        } => {
            let sheet = match (*node, *cs) {
                (Some(id), _) => SheetRef::Node(id),
                (None, Some(n)) => SheetRef::Constructed(n),
                (None, None) => return None,
            };
            let op = match op.as_str() {
                "ins" => SheetOp::Insert {
                    path: take(path),
                    index: *i,
                    rule: take(rule),
                },
                "del" => SheetOp::Delete {
                    path: take(path),
                    index: *i,
                },
                "rep" => SheetOp::Replace { text: take(text) },
                _ => return None,
            };
            (*t, EventData::StyleSheet(StyleSheetChange { sheet, op }))
        }
        RawEvent::Adopt { t, root, sheets } => (
            *t,
            EventData::AdoptedStyleSheets(AdoptedStyleSheets {
                root: *root,
                sheets: take(sheets),
            }),
        ),
        RawEvent::Media {
            t,
            id,
            a,
            time,
            rate,
            muted,
            vol,
        } => {
            let action = pick(
                a,
                &["play", "pause", "seek", "rate", "volume"],
                &[
                    MediaAction::Play,
                    MediaAction::Pause,
                    MediaAction::Seek,
                    MediaAction::RateChange,
                    MediaAction::VolumeChange,
                ],
            )?;
            (
                *t,
                EventData::Media(Media {
                    id: *id,
                    action,
                    time: finite(*time).max(0.0),
                    rate: finite(*rate),
                    muted: *muted,
                    volume: finite(*vol).clamp(0.0, 1.0),
                }),
            )
        }
        RawEvent::Canvas { t, id, url } => {
            if url.len() > MAX_CANVAS_URL || !url.starts_with("data:image/") {
                return None;
            }
            (
                *t,
                EventData::Canvas(Canvas {
                    id: *id,
                    data_url: take(url),
                }),
            )
        }
        RawEvent::Focus { t, id, f } => (
            *t,
            EventData::Focus(Focus {
                id: *id,
                focused: *f,
            }),
        ),
        RawEvent::Selection { t, a, ao, f, fo } => (
            *t,
            EventData::Selection(Selection {
                anchor: *a,
                anchor_offset: *ao,
                focus: *f,
                focus_offset: *fo,
            }),
        ),
        RawEvent::Visibility { t, v } => (*t, EventData::Visibility(Visibility { visible: *v })),
        RawEvent::Touch { t, kind, pts } => {
            let kind = pick(
                kind,
                &["start", "move", "end", "cancel"],
                &[
                    TouchKind::Start,
                    TouchKind::Move,
                    TouchKind::End,
                    TouchKind::Cancel,
                ],
            )?;
            let points = pts.iter().take(32).map(|&(x, y)| (px(x), px(y))).collect();
            (*t, EventData::Touch(Touch { kind, points }))
        }
        RawEvent::Network(n) => (n.t, EventData::Network(network(n)?)),
        RawEvent::Animation {
            t,
            id,
            name,
            pseudo,
            time,
            paused,
        } => (
            *t,
            EventData::Animation(Animation {
                id: *id,
                name: cut(take(name), limits::MAX_LABEL),
                pseudo: take(pseudo).map(|p| cut(p, limits::MAX_LABEL)),
                time: finite(*time),
                paused: *paused,
            }),
        ),
        RawEvent::Popover { t, id, o } => (*t, EventData::Popover(Popover { id: *id, open: *o })),
    };
    Some(Event { t: ms(t), data })
}

/// A snapshot's (or an added tree's) nodes, converted.
#[inline(never)]
fn nodes_of(nodes: Vec<RawNode>) -> Vec<FlatNode> {
    nodes.into_iter().filter_map(node).collect()
}

/// A mutation record, or `None` when nothing of it is left to record.
fn mutation(
    rem: &mut Vec<u32>,
    add: &mut Vec<RawAdd>,
    attr: &mut [RawAttr],
    text: &mut [RawText],
) -> Option<Mutation> {
    let m = Mutation {
        removes: take(rem),
        adds: take(add)
            .into_iter()
            .map(|a| AddedTree {
                parent: a.p,
                next: a.n,
                nodes: nodes_of(a.nodes),
            })
            .filter(|a| !a.nodes.is_empty())
            .collect(),
        attrs: attr
            .iter_mut()
            .map(|a| {
                let field = Field {
                    tag: &a.tag,
                    ty: &a.ty,
                    autocomplete: &a.ac,
                    flags: a.m,
                };
                let value = take(&mut a.v).map(|v| field.attr(&a.name, v));
                AttrChange {
                    id: a.id,
                    name: take(&mut a.name),
                    value,
                }
            })
            .collect(),
        texts: text
            .iter_mut()
            .map(|x| TextChange {
                id: x.id,
                text: mask::text(take(&mut x.v), x.m),
            })
            .collect(),
    };
    let empty =
        m.removes.is_empty() && m.adds.is_empty() && m.attrs.is_empty() && m.texts.is_empty();
    (!empty).then_some(m)
}

/// A request, through the rules of [`crate::netmask`].
fn network(n: &mut RawNetwork) -> Option<Network> {
    let kind = pick(
        &n.kind,
        &["fetch", "xhr", "beacon"],
        &[NetworkKind::Fetch, NetworkKind::Xhr, NetworkKind::Beacon],
    )?;
    let headers = |h: &mut Vec<(String, String)>| -> Vec<(String, String)> {
        take(h)
            .into_iter()
            .filter(|(k, _)| netmask::header_allowed(k))
            .take(limits::MAX_HEADERS)
            .map(|(k, v)| (cut(k, limits::MAX_HEADER), cut(v, limits::MAX_HEADER)))
            .collect()
    };
    let size = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64);
    Some(Network {
        kind,
        method: cut(n.method.to_ascii_uppercase(), limits::MAX_METHOD),
        url: netmask::mask_url(&n.url, &n.query_allow),
        status: if n.status.is_finite() && (0.0..=999.0).contains(&n.status) {
            n.status as u16
        } else {
            0
        },
        duration_ms: if n.dur.is_finite() && n.dur > 0.0 {
            n.dur.round().min(u32::MAX as f64) as u32
        } else {
            0
        },
        request_bytes: size(n.req_bytes),
        response_bytes: size(n.res_bytes),
        failure: take(&mut n.failure).map(|f| cut(f, limits::MAX_FAILURE)),
        request_headers: headers(&mut n.req_headers),
        response_headers: headers(&mut n.res_headers),
        request_body: take(&mut n.req_body).map(|b| netmask::mask_body(b, &n.req_type)),
        response_body: take(&mut n.res_body).map(|b| netmask::mask_body(b, &n.res_type)),
    })
}

fn namespace(ns: Option<&str>) -> Namespace {
    match ns {
        Some("svg") => Namespace::Svg,
        Some("math") => Namespace::MathMl,
        _ => Namespace::Html,
    }
}

pub fn node(raw: RawNode) -> Option<FlatNode> {
    let kind = match raw.k {
        1 if raw.m & flags::BLOCK != 0 => NodeKind::Blocked {
            tag: raw.tag,
            ns: namespace(raw.ns.as_deref()),
            width: raw.bw.max(0.0).round() as u32,
            height: raw.bh.max(0.0).round() as u32,
        },
        1 => {
            let (ty, mut ac) = field_attrs(&raw);
            if let Some(select_ac) = &raw.ac {
                ac = select_ac.to_ascii_lowercase();
            }
            let field = Field {
                tag: &raw.tag,
                ty: &ty,
                autocomplete: &ac,
                flags: raw.m,
            };
            let value = if field.is_field() {
                raw.v.map(|v| field.value(v))
            } else {
                None
            };
            let attrs = raw.a.into_iter().map(|(n, v)| {
                let v = field.attr(&n, v);
                (n, v)
            });
            NodeKind::Element(Element {
                attrs: attrs.collect(),
                ns: namespace(raw.ns.as_deref()),
                value,
                checked: field.checked(raw.c),
                stylesheet: raw.css,
                tag: raw.tag,
            })
        }
        3 => NodeKind::Text(mask::text(raw.x.unwrap_or_default(), raw.m)),
        4 => NodeKind::CData(mask::text(raw.x.unwrap_or_default(), raw.m)),
        8 => NodeKind::Comment(mask::text(raw.x.unwrap_or_default(), raw.m)),
        9 => NodeKind::Document,
        11 => NodeKind::ShadowRoot,
        10 => NodeKind::Doctype {
            name: raw.x.unwrap_or_default(),
            public_id: raw.pub_id.unwrap_or_default(),
            system_id: raw.sys_id.unwrap_or_default(),
        },
        _ => return None,
    };
    Some(FlatNode {
        id: raw.id,
        parent: raw.p,
        kind,
    })
}

/// The `type` and `autocomplete` of an element, lowercase, from its
/// attributes.
fn field_attrs(raw: &RawNode) -> (String, String) {
    let get = |name: &str| {
        raw.a
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default()
    };
    let ty = get("type");
    (
        if ty.is_empty() { "text".into() } else { ty },
        get("autocomplete"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::FieldValue;

    fn parse(json: &str) -> Vec<Event> {
        let raws = crate::raw::parse_batch(json).expect("valid raw json");
        raws.into_iter().filter_map(event).collect()
    }

    #[test]
    fn labels_selectors_and_named_keys_reach_the_events() {
        let ev = parse(
            r##"[{"k":"mouse","t":1,"kind":"click","id":3,"x":1,"y":2,"lab":"Load orders","sel":"[data-testid=\"load\"]"},
                {"k":"mouse","t":2,"kind":"click","id":4,"x":1,"y":2,"lab":"Account 4471","lm":1,"sel":"main > button"},
                {"k":"input","t":3,"id":5,"tag":"input","type":"text","ac":"","m":0,"v":"fix","lab":"New task","sel":"#new"},
                {"k":"key","t":4,"id":5,"key":"Enter","lab":"New task","sel":"#new"},
                {"k":"key","t":5,"id":5,"key":"a","lab":"New task","sel":"#new"}]"##,
        );
        assert_eq!(ev.len(), 4, "the printable key is dropped: {ev:?}");
        let EventData::Mouse(m) = &ev[0].data else {
            panic!("{ev:?}")
        };
        assert_eq!(m.label.as_deref(), Some("Load orders"));
        assert_eq!(m.selector.as_deref(), Some("[data-testid=\"load\"]"));
        let EventData::Mouse(m) = &ev[1].data else {
            panic!("{ev:?}")
        };
        assert_eq!(m.label.as_deref(), Some(mask::TEXT_MASK));
        let EventData::Input(i) = &ev[2].data else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (i.label.as_deref(), i.selector.as_deref()),
            (Some("New task"), Some("#new"))
        );
        assert_eq!(i.value, Some(FieldValue::Masked));
        let EventData::Key(k) = &ev[3].data else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (k.key.as_str(), k.label.as_deref()),
            ("Enter", Some("New task"))
        );
    }

    #[test]
    fn animation_phases_and_popovers_reach_the_events() {
        let long = "n".repeat(limits::MAX_LABEL + 10);
        let ev = parse(&format!(
            r#"[{{"k":"anim","t":1,"id":7,"name":"slide","ps":null,"time":1234.5,"p":false}},
                {{"k":"anim","t":2,"id":8,"name":"{long}","ps":"::before","time":null,"p":true}},
                {{"k":"pop","t":3,"id":9,"o":true}},
                {{"k":"pop","t":4,"id":9,"o":false}}]"#
        ));
        let data: Vec<EventData> = ev.into_iter().map(|e| e.data).collect();
        assert_eq!(
            data,
            [
                EventData::Animation(Animation {
                    id: 7,
                    name: "slide".into(),
                    pseudo: None,
                    time: 1234.5,
                    paused: false,
                }),
                EventData::Animation(Animation {
                    id: 8,
                    name: "n".repeat(limits::MAX_LABEL),
                    pseudo: Some("::before".into()),
                    time: 0.0,
                    paused: true,
                }),
                EventData::Popover(Popover { id: 9, open: true }),
                EventData::Popover(Popover { id: 9, open: false }),
            ]
        );
    }

    #[test]
    fn insights_facts_are_kept_bounded() {
        let ev = parse(
            r#"[{"k":"meta","t":1,"href":"https://a/","title":"","w":8,"h":6,"ua":"x",
                 "ref":"https://search.test/?q=1","vid":"00ff","nv":1,"pu":["https://z/"],"pt":0},
                {"k":"meta","t":2,"href":"https://a/","title":"","w":8,"h":6,"ua":"x","ref":""},
                {"k":"mouse","t":3,"kind":"click","id":1,"x":5,"y":6,"bx":499.6,"by":1200},
                {"k":"mouse","t":4,"kind":"click","id":1,"x":5,"y":6,"bx":-3,"nd":1},
                {"k":"scroll","t":5,"id":1,"x":0,"y":40,"d":733.4},
                {"k":"chg","t":6}]"#,
        );
        assert_eq!(ev.len(), 5, "a change is for the detector alone: {ev:?}");
        let EventData::Meta(m) = &ev[0].data else {
            panic!("{ev:?}")
        };
        assert_eq!(m.referrer.as_deref(), Some("https://search.test/?q=1"));
        assert_eq!(
            (m.visitor_id.as_deref(), m.new_visitor),
            (Some("00ff"), Some(true))
        );
        let EventData::Meta(m) = &ev[1].data else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (&m.referrer, &m.visitor_id, m.new_visitor),
            (&None, &None, None)
        );
        let boxes: Vec<_> = ev[2..4]
            .iter()
            .map(|e| match &e.data {
                EventData::Mouse(m) => (m.box_x, m.box_y),
                d => panic!("{d:?}"),
            })
            .collect();
        assert_eq!(boxes, [(Some(500), Some(1000)), (Some(0), None)]);
        let EventData::Scroll(sc) = &ev[4].data else {
            panic!("{ev:?}")
        };
        assert_eq!(sc.depth, Some(733));
    }

    #[test]
    fn option_choices_follow_their_selects_masking() {
        let ev = parse(
            r#"[{"k":"snap","t":1,"sx":0,"sy":0,"nodes":[
                {"id":1,"p":0,"k":1,"tag":"option","c":true,"ac":""},
                {"id":2,"p":0,"k":1,"tag":"option","c":true,"ac":"","m":2},
                {"id":3,"p":0,"k":1,"tag":"option","c":true,"ac":"CC-EXP-MONTH","m":2}
            ]},
            {"k":"input","t":2,"id":2,"tag":"option","type":"text","ac":"","m":2,"c":false},
            {"k":"input","t":2,"id":3,"tag":"option","type":"text","ac":"cc-exp","m":2,"c":false}]"#,
        );
        let EventData::FullSnapshot(s) = &ev[0].data else {
            panic!("not a snapshot")
        };
        let checked: Vec<_> = s
            .nodes
            .iter()
            .map(|n| match &n.kind {
                NodeKind::Element(e) => e.checked,
                k => panic!("not an element: {k:?}"),
            })
            .collect();
        assert_eq!(checked, [None, Some(true), None]);
        let inputs: Vec<_> = ev[1..]
            .iter()
            .map(|e| match &e.data {
                EventData::Input(i) => i.checked,
                d => panic!("not an input: {d:?}"),
            })
            .collect();
        assert_eq!(inputs, [Some(false), None]);
    }

    #[test]
    fn snapshot_masks_fields_and_keeps_structure() {
        let ev = parse(
            r#"[{"k":"snap","t":1000.7,"sx":0,"sy":12,"nodes":[
                {"id":1,"p":0,"k":9},
                {"id":2,"p":1,"k":1,"tag":"html"},
                {"id":3,"p":2,"k":1,"tag":"input","a":[["type","password"],["value","pw1"]],"v":"hunter2","m":2},
                {"id":4,"p":2,"k":1,"tag":"input","a":[["id","city"]],"v":"Berlin","m":2},
                {"id":5,"p":2,"k":1,"tag":"input","a":[["value","Jane"]],"v":"Jane Doe"},
                {"id":6,"p":2,"k":1,"tag":"div","m":4,"bw":100.4,"bh":20},
                {"id":7,"p":2,"k":3,"x":"private","m":1},
                {"id":8,"p":2,"k":1,"tag":"svg","ns":"svg"}
            ]}]"#,
        );
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].t, 1000);
        let EventData::FullSnapshot(s) = &ev[0].data else {
            panic!("not a snapshot")
        };
        assert_eq!(s.scroll_y, 12);
        let el = |i: usize| match &s.nodes[i].kind {
            NodeKind::Element(e) => e.clone(),
            k => panic!("not an element: {k:?}"),
        };
        assert_eq!(el(2).value, Some(FieldValue::Masked));
        assert_eq!(el(2).attrs[1].1, FieldValue::MASK);
        assert_eq!(el(3).value, Some(FieldValue::Text("Berlin".into())));
        assert_eq!(el(4).value, Some(FieldValue::Masked));
        assert_eq!(el(4).attrs[0].1, FieldValue::MASK);
        assert_eq!(
            s.nodes[5].kind,
            NodeKind::Blocked {
                tag: "div".into(),
                ns: Namespace::Html,
                width: 100,
                height: 20
            }
        );
        assert_eq!(s.nodes[6].kind, NodeKind::Text(mask::TEXT_MASK.into()));
        assert_eq!(el(7).ns, Namespace::Svg);
        let all = format!("{ev:?}");
        for secret in ["hunter2", "pw1", "Jane", "private"] {
            assert!(!all.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn input_events_are_masked_unless_unmasked() {
        let ev = parse(
            r#"[{"k":"input","t":5,"id":3,"tag":"input","type":"text","v":"secret"},
                {"k":"input","t":6,"id":4,"tag":"input","type":"text","m":2,"v":"Berlin"},
                {"k":"input","t":7,"id":5,"tag":"input","type":"text","m":10,"v":"was-a-password"},
                {"k":"input","t":8,"id":6,"tag":"input","type":"checkbox","c":true}]"#,
        );
        let values: Vec<_> = ev
            .iter()
            .map(|e| match &e.data {
                EventData::Input(i) => (i.value.clone(), i.checked),
                d => panic!("{d:?}"),
            })
            .collect();
        assert_eq!(
            values,
            vec![
                (Some(FieldValue::Masked), None),
                (Some(FieldValue::Text("Berlin".into())), None),
                (Some(FieldValue::Masked), None),
                (None, Some(true)),
            ]
        );
    }

    #[test]
    fn mutations_keep_order_and_mask_attributes() {
        let ev = parse(
            r#"[{"k":"mut","t":9,"rem":[4],"add":[{"p":2,"n":0,"nodes":[{"id":9,"p":2,"k":3,"x":"hi"}]}],
                 "attr":[{"id":5,"name":"value","v":"typed","tag":"input","type":"text"},{"id":6,"name":"class","v":null}],
                 "text":[{"id":7,"v":"secret","m":1}]},
                {"k":"mut","t":10}]"#,
        );
        assert_eq!(ev.len(), 1, "an empty mutation is dropped");
        let EventData::Mutation(m) = &ev[0].data else {
            panic!()
        };
        assert_eq!(m.removes, vec![4]);
        assert_eq!(m.adds[0].nodes[0].kind, NodeKind::Text("hi".into()));
        assert_eq!(m.attrs[0].value.as_deref(), Some(FieldValue::MASK));
        assert_eq!(m.attrs[1].value, None);
        assert_eq!(m.texts[0].text, mask::TEXT_MASK);
    }

    #[test]
    fn console_errors_and_sheets_convert() {
        let long = "x".repeat(5000);
        let ev = parse(&format!(
            r#"[{{"k":"console","t":1,"level":"warn","text":"{long}"}},
                {{"k":"err","t":2,"kind":"rejection","msg":"boom","src":null,"stack":null}},
                {{"k":"sheet","t":3,"node":7,"op":"ins","path":[1],"i":0,"rule":"a {{ color: red; }}"}},
                {{"k":"sheet","t":4,"cs":2,"op":"rep","text":"b {{ }}"}},
                {{"k":"sheet","t":5,"op":"del","i":0}},
                {{"k":"adopt","t":6,"root":1,"sheets":[2]}},
                {{"k":"snap","t":7,"sx":0,"sy":0,"nodes":[{{"id":1,"p":0,"k":9}},{{"id":2,"p":1,"k":1,"tag":"div"}},{{"id":3,"p":2,"k":11}}]}}]"#
        ));
        assert_eq!(ev.len(), 6, "a sheet op naming no sheet is dropped");
        let EventData::Console(c) = &ev[0].data else {
            panic!()
        };
        assert_eq!((c.level, c.text.len()), (ConsoleLevel::Warn, MAX_TEXT));
        assert!(
            matches!(&ev[1].data, EventData::PageError(e) if e.kind == PageErrorKind::UnhandledRejection)
        );
        assert_eq!(
            ev[2].data,
            EventData::StyleSheet(StyleSheetChange {
                sheet: SheetRef::Node(7),
                op: SheetOp::Insert {
                    path: vec![1],
                    index: 0,
                    rule: "a { color: red; }".into()
                }
            })
        );
        let EventData::FullSnapshot(s) = &ev[5].data else {
            panic!()
        };
        assert_eq!(s.nodes[2].kind, NodeKind::ShadowRoot);
    }

    #[test]
    fn unknown_kinds_and_garbage_numbers_are_harmless() {
        let ev = parse(
            r#"[{"k":"mouse","t":-1,"kind":"wheel","id":1,"x":0,"y":0},
                {"k":"mouse","t":1e300,"kind":"click","id":1,"x":1e300,"y":-1e300}]"#,
        );
        assert_eq!(ev.len(), 1);
        let EventData::Mouse(m) = &ev[0].data else {
            panic!()
        };
        assert_eq!((m.x, m.y), (i32::MAX, i32::MIN));
    }
}
