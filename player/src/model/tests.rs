use super::*;
use crate::testdom::FakeDom;
use reel_shared::{AddedTree, FieldValue, Meta, Namespace, Viewport};

pub(crate) fn el(id: NodeId, parent: NodeId, tag: &str, attrs: &[(&str, &str)]) -> FlatNode {
    FlatNode {
        id,
        parent,
        kind: NodeKind::Element(Element {
            tag: tag.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }),
    }
}

pub(crate) fn text(id: NodeId, parent: NodeId, t: &str) -> FlatNode {
    FlatNode {
        id,
        parent,
        kind: NodeKind::Text(t.into()),
    }
}

pub(crate) fn doc(id: NodeId) -> FlatNode {
    FlatNode {
        id,
        parent: NO_NODE,
        kind: NodeKind::Document,
    }
}

pub(crate) fn snapshot(nodes: Vec<FlatNode>) -> EventData {
    EventData::FullSnapshot(Snapshot {
        nodes,
        scroll_x: 0,
        scroll_y: 0,
    })
}

pub(crate) fn meta(href: &str) -> EventData {
    EventData::Meta(Meta {
        href: href.into(),
        title: "t".into(),
        width: 800,
        height: 600,
        user_agent: "ua".into(),
        referrer: None,
        visitor_id: None,
        new_visitor: None,
    })
}

fn add(parent: NodeId, next: NodeId, nodes: Vec<FlatNode>) -> AddedTree {
    AddedTree {
        parent,
        next,
        nodes,
    }
}

fn mutation(removes: Vec<NodeId>, adds: Vec<AddedTree>) -> EventData {
    EventData::Mutation(Mutation {
        removes,
        adds,
        ..Default::default()
    })
}

fn attr(id: NodeId, name: &str, value: Option<&str>) -> EventData {
    EventData::Mutation(Mutation {
        attrs: vec![AttrChange {
            id,
            name: name.into(),
            value: value.map(str::to_string),
        }],
        ..Default::default()
    })
}

fn text_change(id: NodeId, t: &str) -> EventData {
    EventData::Mutation(Mutation {
        texts: vec![TextChange { id, text: t.into() }],
        ..Default::default()
    })
}

/// A page: `<html><head></head><body><p id=a>one</p><p id=b>two</p></body></html>`.
fn page() -> Vec<FlatNode> {
    vec![
        doc(1),
        el(2, 1, "html", &[]),
        el(3, 2, "head", &[]),
        el(4, 2, "body", &[]),
        el(5, 4, "p", &[("id", "a")]),
        text(6, 5, "one"),
        el(7, 4, "p", &[("id", "b")]),
        text(8, 7, "two"),
    ]
}

/// Applies events one by one, checking after each that the model is
/// consistent and that the ops applied incrementally give the same DOM as
/// building from scratch.
struct Harness {
    model: Model,
    dom: FakeDom,
}

impl Harness {
    fn new() -> Self {
        let model = Model::new();
        let dom = FakeDom::from_ops(&model.render_all());
        Harness { model, dom }
    }

    fn apply(&mut self, ev: &EventData) -> Vec<DomOp> {
        let ops = self.model.apply(ev);
        self.model.check();
        self.dom.apply(&ops);
        let fresh = FakeDom::from_ops(&self.model.render_all());
        assert_eq!(
            self.dom.html(),
            fresh.html(),
            "incremental and full render differ after {ev:?}"
        );
        ops
    }

    fn html(&self) -> String {
        self.dom.html()
    }
}

#[test]
fn snapshot_builds_the_document() {
    let mut h = Harness::new();
    h.apply(&meta("https://site.test/"));
    let ops = h.apply(&snapshot(page()));
    assert_eq!(ops[0], DomOp::Reset { doc: 1 });
    assert_eq!(ops.len(), 1 + 7 + 1, "reset, seven creates, window scroll");
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="a">one</p><p id="b">two</p></body></html>"#
    );
    assert_eq!(
        h.html(),
        r#"{scroll=0,0}<html><head></head><body><p id="a">one</p><p id="b">two</p></body></html>"#
    );
    assert_eq!(h.model.viewport(), (800, 600));
}

#[test]
fn a_new_snapshot_replaces_everything() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let ops = h.apply(&snapshot(vec![
        doc(100),
        el(101, 100, "html", &[]),
        text(102, 101, "x"),
    ]));
    assert_eq!(ops[0], DomOp::Reset { doc: 100 });
    assert_eq!(h.model.outline(), "<html>x</html>");
    assert!(h.model.node(5).is_none());
    assert_eq!(h.model.len(), 3);
}

#[test]
fn snapshot_without_a_document_leaves_an_empty_model() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    h.apply(&snapshot(vec![el(2, 1, "html", &[])]));
    assert_eq!(h.model.root(), NO_NODE);
    assert!(h.model.is_empty());
    h.apply(&snapshot(vec![]));
    assert_eq!(h.model.render_all(), vec![DomOp::Reset { doc: 0 }]);
}

#[test]
fn adds_go_before_their_next_sibling_or_at_the_end() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    h.apply(&mutation(
        vec![],
        vec![
            add(4, 7, vec![el(10, 4, "hr", &[])]),
            add(4, 0, vec![el(11, 4, "footer", &[])]),
        ],
    ));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="a">one</p><hr></hr><p id="b">two</p><footer></footer></body></html>"#
    );
    // Before the first child, and a next that is not a child of the parent
    // (appends).
    h.apply(&mutation(
        vec![],
        vec![
            add(4, 5, vec![el(12, 4, "nav", &[])]),
            add(5, 7, vec![text(13, 5, "!")]),
        ],
    ));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><nav></nav><p id="a">one!</p><hr></hr><p id="b">two</p><footer></footer></body></html>"#
    );
}

#[test]
fn added_subtrees_are_built_in_order() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    h.apply(&mutation(
        vec![],
        vec![add(
            4,
            5,
            vec![
                el(20, 4, "ul", &[]),
                el(21, 20, "li", &[]),
                text(22, 21, "a"),
                el(23, 20, "li", &[]),
                text(24, 23, "b"),
            ],
        )],
    ));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><ul><li>a</li><li>b</li></ul><p id="a">one</p><p id="b">two</p></body></html>"#
    );
}

#[test]
fn removes_forget_the_subtree_and_tolerate_repeats() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let ops = h.apply(&mutation(vec![5, 5, 6, 999], vec![]));
    assert_eq!(ops, vec![DomOp::Remove { id: 5 }]);
    assert!(h.model.node(6).is_none(), "descendants are forgotten");
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="b">two</p></body></html>"#
    );
    // Removing the document itself is refused.
    h.apply(&mutation(vec![1], vec![]));
    assert_eq!(h.model.root(), 1);
}

#[test]
fn a_move_arrives_as_remove_then_add_with_the_same_ids() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    // Move <p id=b> before <p id=a>.
    h.apply(&mutation(
        vec![7],
        vec![add(
            4,
            5,
            vec![el(7, 4, "p", &[("id", "b")]), text(8, 7, "two")],
        )],
    ));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="b">two</p><p id="a">one</p></body></html>"#
    );
}

#[test]
fn an_add_of_an_existing_id_replaces_it() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    // No remove: the add itself moves <p id=a> (and its new content) to the end.
    h.apply(&mutation(
        vec![],
        vec![add(
            4,
            0,
            vec![el(5, 4, "p", &[("id", "a2")]), text(6, 5, "uno")],
        )],
    ));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="b">two</p><p id="a2">uno</p></body></html>"#
    );
    // Re-adding a node before itself: its old place is gone, so it appends.
    h.apply(&mutation(vec![], vec![add(4, 7, vec![el(7, 4, "p", &[])])]));
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="a2">uno</p><p></p></body></html>"#
    );
}

#[test]
fn cycles_are_refused() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let before = h.model.outline();
    // <body> under its own child, <p> under its own text, a node under itself.
    h.apply(&mutation(
        vec![],
        vec![add(5, 0, vec![el(4, 5, "body", &[])])],
    ));
    h.apply(&mutation(vec![], vec![add(6, 0, vec![el(5, 6, "p", &[])])]));
    h.apply(&mutation(vec![], vec![add(7, 0, vec![el(7, 7, "p", &[])])]));
    assert_eq!(h.model.outline(), before);
    // Inside one tree: a later node re-using the tree's root id under the root.
    h.apply(&mutation(
        vec![],
        vec![add(
            4,
            0,
            vec![
                el(30, 4, "div", &[]),
                el(31, 30, "span", &[]),
                el(30, 31, "i", &[]),
            ],
        )],
    ));
    assert!(h
        .model
        .outline()
        .ends_with(r#"<div><span></span></div></body></html>"#));
}

#[test]
fn bad_adds_are_skipped() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let before = h.model.outline();
    h.apply(&mutation(
        vec![],
        vec![
            add(999, 0, vec![el(40, 999, "div", &[]), text(41, 40, "x")]),
            add(4, 0, vec![]),
            add(4, 0, vec![el(0, 4, "div", &[])]),
            add(4, 0, vec![doc(42)]),
            add(6, 0, vec![el(43, 6, "b", &[])]),
        ],
    ));
    // The text node accepts no children in the DOM: the model keeps it,
    // the DOM does not get it.
    assert!(h.model.node(43).is_some_and(|n| !n.rendered()));
    h.apply(&mutation(vec![43], vec![]));
    assert_eq!(h.model.outline(), before);
    // A stray parent inside a tree does not graft nodes elsewhere.
    h.apply(&mutation(
        vec![],
        vec![add(4, 0, vec![el(50, 4, "div", &[]), text(51, 3, "stray")])],
    ));
    assert!(h.model.node(51).is_none());
}

#[test]
fn attributes_change_and_go() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    assert_eq!(
        h.apply(&attr(5, "class", Some("x"))),
        vec![DomOp::SetAttr {
            id: 5,
            name: "class".into(),
            value: "x".into()
        }]
    );
    h.apply(&attr(5, "class", Some("y")));
    assert_eq!(
        h.apply(&attr(5, "id", None)),
        vec![DomOp::RemoveAttr {
            id: 5,
            name: "id".into()
        }]
    );
    assert!(h.apply(&attr(5, "missing", None)).is_empty());
    assert!(h.apply(&attr(999, "class", Some("x"))).is_empty());
    assert!(
        h.apply(&attr(6, "class", Some("x"))).is_empty(),
        "text nodes have no attributes"
    );
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p class="y">one</p><p id="b">two</p></body></html>"#
    );
}

#[test]
fn text_changes() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    assert_eq!(
        h.apply(&text_change(6, "uno")),
        vec![DomOp::SetText {
            id: 6,
            text: "uno".into()
        }]
    );
    assert!(h.apply(&text_change(5, "not a text node")).is_empty());
    assert!(h.apply(&text_change(999, "x")).is_empty());
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="a">uno</p><p id="b">two</p></body></html>"#
    );
}

#[test]
fn a_batch_applies_removes_adds_attrs_texts_in_that_order() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let m = EventData::Mutation(Mutation {
        removes: vec![7],
        adds: vec![add(4, 0, vec![el(60, 4, "p", &[]), text(61, 60, "new")])],
        // The attribute and text changes name nodes added in this batch.
        attrs: vec![AttrChange {
            id: 60,
            name: "class".into(),
            value: Some("c".into()),
        }],
        texts: vec![
            TextChange {
                id: 61,
                text: "newer".into(),
            },
            TextChange {
                id: 8,
                text: "gone".into(),
            },
        ],
    });
    h.apply(&m);
    assert_eq!(
        h.model.outline(),
        r#"<html><head></head><body><p id="a">one</p><p class="c">newer</p></body></html>"#
    );
}

#[test]
fn form_state_scroll_and_viewport() {
    let mut h = Harness::new();
    let mut nodes = page();
    nodes.push(FlatNode {
        id: 70,
        parent: 4,
        kind: NodeKind::Element(Element {
            tag: "input".into(),
            value: Some(FieldValue::Masked),
            ..Default::default()
        }),
    });
    nodes.push(FlatNode {
        id: 71,
        parent: 4,
        kind: NodeKind::Element(Element {
            tag: "input".into(),
            checked: Some(false),
            ..Default::default()
        }),
    });
    h.apply(&snapshot(nodes));
    assert!(h
        .html()
        .contains("<input>{value=••••••}</input><input>{checked=false}</input>"));
    let ops = h.apply(&EventData::Input(Input {
        id: 70,
        value: Some(FieldValue::Text("hi".into())),
        checked: None,
        label: None,
        selector: None,
    }));
    assert_eq!(
        ops,
        vec![DomOp::SetValue {
            id: 70,
            value: "hi".into()
        }]
    );
    h.apply(&EventData::Input(Input {
        id: 71,
        value: None,
        checked: Some(true),
        label: None,
        selector: None,
    }));
    h.apply(&EventData::Input(Input {
        id: 999,
        value: None,
        checked: Some(true),
        label: None,
        selector: None,
    }));
    h.apply(&EventData::Scroll(Scroll {
        id: 1,
        x: 0,
        y: 300,
        depth: None,
    }));
    h.apply(&EventData::Scroll(Scroll {
        id: 4,
        x: 5,
        y: 6,
        depth: None,
    }));
    h.apply(&EventData::Scroll(Scroll {
        id: 999,
        x: 5,
        y: 6,
        depth: None,
    }));
    assert!(h.html().starts_with("{scroll=0,300}"));
    assert!(h.html().contains("<body>{scroll=5,6}"));
    assert!(h
        .html()
        .contains("<input>{value=hi}</input><input>{checked=true}</input>"));
    h.apply(&EventData::Viewport(Viewport {
        width: 375,
        height: 700,
    }));
    assert_eq!(h.model.viewport(), (375, 700));
}

#[test]
fn select_value_is_set_after_its_options_exist() {
    let mut h = Harness::new();
    h.apply(&snapshot(page()));
    let select = FlatNode {
        id: 80,
        parent: 4,
        kind: NodeKind::Element(Element {
            tag: "select".into(),
            value: Some(FieldValue::Text("b".into())),
            ..Default::default()
        }),
    };
    let ops = h.apply(&mutation(
        vec![],
        vec![add(
            4,
            0,
            vec![
                select,
                el(81, 80, "option", &[("value", "a")]),
                el(82, 80, "option", &[("value", "b")]),
            ],
        )],
    ));
    assert!(matches!(ops.last(), Some(DomOp::SetValue { id: 80, .. })));
    // Replaced within one batch: only the replacement's state is set.
    let ops = h.apply(&mutation(
        vec![],
        vec![
            add(
                4,
                0,
                vec![FlatNode {
                    id: 90,
                    parent: 4,
                    kind: NodeKind::Element(Element {
                        tag: "input".into(),
                        value: Some(FieldValue::Masked),
                        ..Default::default()
                    }),
                }],
            ),
            add(4, 0, vec![el(90, 4, "input", &[])]),
        ],
    ));
    assert!(
        !ops.iter().any(|o| matches!(o, DomOp::SetValue { .. })),
        "{ops:?}"
    );
}

#[test]
fn scripts_are_created_empty_and_stay_empty() {
    let mut h = Harness::new();
    h.apply(&meta("https://site.test/app/"));
    let mut nodes = page();
    nodes.push(el(100, 3, "script", &[("src", "a.js"), ("onload", "x()")]));
    nodes.push(text(101, 100, "alert(1)"));
    h.apply(&snapshot(nodes));
    assert!(
        h.html().contains("<head><script></script></head>"),
        "{}",
        h.html()
    );
    assert!(h.apply(&text_change(101, "alert(2)")).is_empty());
    assert!(h
        .apply(&mutation(
            vec![],
            vec![add(100, 0, vec![text(102, 100, "more")])]
        ))
        .is_empty());
    assert!(h.apply(&mutation(vec![101], vec![])).is_empty());
    // A script's children moved out of it become visible.
    h.apply(&mutation(
        vec![],
        vec![add(4, 0, vec![text(102, 4, "now shown")])],
    ));
    assert!(h.html().contains("now shown"));
    // Attribute changes on a script are sanitised too.
    assert!(h.apply(&attr(100, "src", Some("b.js"))).is_empty());
    assert_eq!(h.apply(&attr(100, "type", Some("module"))).len(), 1);
}

#[test]
fn sanitising_follows_attribute_changes() {
    let mut h = Harness::new();
    h.apply(&meta("https://site.test/app/page"));
    let mut nodes = page();
    nodes.push(FlatNode {
        id: 110,
        parent: 3,
        kind: NodeKind::Element(Element {
            tag: "link".into(),
            attrs: vec![
                ("rel".into(), "preload".into()),
                ("href".into(), "s.css".into()),
            ],
            stylesheet: Some("b{c:d}".into()),
            ..Default::default()
        }),
    });
    h.apply(&snapshot(nodes));
    assert!(
        h.html()
            .contains(r#"<link href="https://site.test/app/s.css" rel="preload">"#),
        "{}",
        h.html()
    );
    // Becoming a stylesheet makes the recorded text the href.
    let ops = h.apply(&attr(110, "rel", Some("stylesheet")));
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(h
        .html()
        .contains(r#"href="data:text/css;charset=utf-8,b%7Bc:d%7D""#));
    assert!(h.apply(&attr(5, "onclick", Some("steal()"))).is_empty());
    h.apply(&attr(5, "href", Some("javascript:steal()")));
    assert!(h.html().contains(r#"<p href="javascript:void(0)" id="a">"#));
}

#[test]
fn style_text_and_blocked_boxes() {
    let mut h = Harness::new();
    h.apply(&meta("https://site.test/app/"));
    let mut nodes = page();
    nodes.push(el(120, 3, "style", &[]));
    nodes.push(text(121, 120, "a{b:url(x.png)}"));
    nodes.push(FlatNode {
        id: 122,
        parent: 4,
        kind: NodeKind::Blocked {
            tag: "div".into(),
            ns: Namespace::Html,
            width: 10,
            height: 20,
        },
    });
    h.apply(&snapshot(nodes));
    assert!(h
        .html()
        .contains(r#"<style>a{b:url("https://site.test/app/x.png")}</style>"#));
    assert!(h.html().contains(
        r#"<div data-reel-block="" style="box-sizing:border-box;width:10px;height:20px;"#
    ));
    assert_eq!(
        h.apply(&text_change(121, "c{d:url(/y.png)}")),
        vec![DomOp::SetText {
            id: 121,
            text: r#"c{d:url("https://site.test/y.png")}"#.into()
        }]
    );
}

#[test]
fn doctype_and_svg() {
    let mut h = Harness::new();
    let nodes = vec![
        doc(1),
        FlatNode {
            id: 2,
            parent: 1,
            kind: NodeKind::Doctype {
                name: "html".into(),
                public_id: "".into(),
                system_id: "".into(),
            },
        },
        el(3, 1, "html", &[]),
        FlatNode {
            id: 4,
            parent: 3,
            kind: NodeKind::Element(Element {
                tag: "svg".into(),
                ns: Namespace::Svg,
                ..Default::default()
            }),
        },
        FlatNode {
            id: 5,
            parent: 3,
            kind: NodeKind::Comment("c".into()),
        },
    ];
    let ops = h.apply(&snapshot(nodes));
    assert!(matches!(
        &ops[3],
        DomOp::Create {
            node: NewNode::Element {
                ns: crate::ops::Ns::Svg,
                ..
            },
            ..
        }
    ));
    assert_eq!(
        h.html(),
        "{scroll=0,0}<!DOCTYPE html><html><svg></svg><!--c--></html>"
    );
}

#[test]
fn deep_trees_do_not_recurse() {
    const DEPTH: u32 = 10_000;
    let mut nodes = vec![doc(1)];
    for i in 2..DEPTH + 2 {
        nodes.push(el(i, i - 1, "div", &[]));
    }
    nodes.push(text(DEPTH + 2, DEPTH + 1, "leaf"));
    let mut m = Model::new();
    let ops = m.apply(&snapshot(nodes));
    // Reset, the nodes down to MAX_DEPTH, the document's scroll: what is
    // deeper stays in the model (outline) but never reaches the DOM.
    assert_eq!(ops.len(), MAX_DEPTH as usize + 2);
    assert!(m.depth_cut());
    assert_eq!(m.render_all().len(), ops.len());
    assert!(m.outline().contains("leaf"));
    assert!(matches!(ops.last(), Some(DomOp::Scroll { id: 1, .. })));
    // Cycle check walks the whole depth; removal deletes it all.
    m.apply(&mutation(
        vec![],
        vec![add(DEPTH + 1, 0, vec![el(2, DEPTH + 1, "div", &[])])],
    ));
    assert_eq!(m.len(), DEPTH as usize + 2);
    m.apply(&mutation(vec![2], vec![]));
    assert_eq!(m.len(), 1);
    m.check();
}

#[test]
fn depth_is_capped_in_the_dom_and_says_so() {
    // A chain exactly MAX_DEPTH deep is all rendered; one more level is not.
    for (depth, cut) in [(MAX_DEPTH, false), (MAX_DEPTH + 1, true)] {
        let mut nodes = vec![doc(1)];
        for i in 2..depth + 2 {
            nodes.push(el(i, i - 1, "div", &[]));
        }
        let mut m = Model::new();
        let ops = m.apply(&snapshot(nodes));
        let creates = ops
            .iter()
            .filter(|o| matches!(o, DomOp::Create { .. }))
            .count();
        assert_eq!(creates, MAX_DEPTH as usize, "depth {depth}");
        assert_eq!(m.depth_cut(), cut, "depth {depth}");
        // A mutation adding below the deepest rendered node is cut too.
        let ops = m.apply(&mutation(
            vec![],
            vec![add(depth + 1, 0, vec![el(depth + 10, depth + 1, "p", &[])])],
        ));
        let created = ops.iter().any(|o| matches!(o, DomOp::Create { .. }));
        assert_eq!(created, depth < MAX_DEPTH, "depth {depth}");
        assert!(m.depth_cut() || depth < MAX_DEPTH);
        m.check();
    }
}

/// A small deterministic generator (no dependency needed for this).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Random, often nonsensical, events over a small id space so that
/// collisions, moves, repeats and unknown ids are frequent.
pub(crate) fn random_event(rng: &mut Rng, next_id: &mut NodeId) -> EventData {
    const TAGS: &[&str] = &[
        "div", "p", "script", "style", "link", "input", "select", "option", "span",
    ];
    const NAMES: &[&str] = &[
        "class",
        "onclick",
        "href",
        "rel",
        "src",
        "style",
        "id",
        "srcdoc",
        "integrity",
    ];
    const VALUES: &[&str] = &[
        "a",
        "stylesheet",
        "javascript:x()",
        "img/x.png",
        "url(a.png)",
        "",
    ];
    let id = |rng: &mut Rng, next_id: NodeId| rng.below(u64::from(next_id) + 3) as NodeId;
    let node = |rng: &mut Rng, nid: NodeId, parent: NodeId| -> FlatNode {
        match rng.below(5) {
            0 => text(nid, parent, "t"),
            1 => FlatNode {
                id: nid,
                parent,
                kind: NodeKind::Comment("c".into()),
            },
            2 => FlatNode {
                id: nid,
                parent,
                kind: NodeKind::Element(Element {
                    tag: "input".into(),
                    value: Some(FieldValue::Text("v".into())),
                    checked: Some(true),
                    ..Default::default()
                }),
            },
            _ => {
                let tag = rng.pick(TAGS);
                let mut e = el(nid, parent, tag, &[(rng.pick(NAMES), rng.pick(VALUES))]);
                if let NodeKind::Element(x) = &mut e.kind {
                    x.stylesheet = (tag == "link").then(|| "a{b:c}".to_string());
                }
                e
            }
        }
    };
    match rng.below(12) {
        0 => {
            let mut nodes = vec![doc(1), el(2, 1, "html", &[]), el(3, 2, "body", &[])];
            for _ in 0..rng.below(6) {
                *next_id += 1;
                let parent = rng.below(u64::from(*next_id)) as NodeId;
                nodes.push(node(rng, *next_id, parent));
            }
            snapshot(nodes)
        }
        1 => EventData::Input(Input {
            id: id(rng, *next_id),
            value: Some(FieldValue::Text(format!("{}", rng.below(9)))),
            checked: Some(rng.below(2) == 0),
            label: None,
            selector: None,
        }),
        2 => EventData::Scroll(Scroll {
            id: id(rng, *next_id),
            x: 1,
            y: rng.below(100) as i32,
            depth: None,
        }),
        3 => meta(rng.pick(&["https://a.test/x/", "https://b.test/", "about:blank"])),
        _ => {
            let mut m = Mutation::default();
            for _ in 0..rng.below(3) {
                m.removes.push(id(rng, *next_id));
            }
            for _ in 0..rng.below(3) {
                let parent = id(rng, *next_id);
                let root = if rng.below(3) == 0 {
                    id(rng, *next_id)
                } else {
                    *next_id += 1;
                    *next_id
                };
                let mut nodes = vec![node(rng, root, parent)];
                for _ in 0..rng.below(4) {
                    let p = nodes[rng.below(nodes.len() as u64) as usize].id;
                    let nid = if rng.below(4) == 0 {
                        id(rng, *next_id)
                    } else {
                        *next_id += 1;
                        *next_id
                    };
                    nodes.push(node(rng, nid, p));
                }
                m.adds.push(AddedTree {
                    parent,
                    next: id(rng, *next_id),
                    nodes,
                });
            }
            for _ in 0..rng.below(3) {
                let value = (rng.below(4) != 0).then(|| rng.pick(VALUES).to_string());
                m.attrs.push(AttrChange {
                    id: id(rng, *next_id),
                    name: rng.pick(NAMES).to_string(),
                    value,
                });
            }
            for _ in 0..rng.below(2) {
                m.texts.push(TextChange {
                    id: id(rng, *next_id),
                    text: format!("x{}", rng.below(5)),
                });
            }
            EventData::Mutation(m)
        }
    }
}

#[test]
fn random_streams_keep_the_model_consistent_and_the_dom_in_step() {
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let mut h = Harness::new();
        let mut next_id = 3;
        h.apply(&meta("https://a.test/x/"));
        h.apply(&snapshot(vec![
            doc(1),
            el(2, 1, "html", &[]),
            el(3, 2, "body", &[]),
        ]));
        for _ in 0..60 {
            let ev = random_event(&mut rng, &mut next_id);
            h.apply(&ev);
        }
    }
}

fn node(id: NodeId, parent: NodeId, kind: NodeKind) -> FlatNode {
    FlatNode { id, parent, kind }
}

fn sheet(sheet: SheetRef, op: SheetOp) -> EventData {
    EventData::StyleSheet(StyleSheetChange { sheet, op })
}

#[test]
fn shadow_roots_and_frame_documents_are_built_inside_their_hosts() {
    let mut h = Harness::new();
    let mut nodes = page();
    nodes.extend([
        el(20, 4, "my-card", &[]),
        node(21, 20, NodeKind::ShadowRoot),
        el(22, 21, "b", &[]),
        text(23, 22, "in shadow"),
        el(30, 4, "iframe", &[("src", "frame.html")]),
        node(31, 30, NodeKind::Document),
        el(32, 31, "html", &[]),
        el(33, 32, "body", &[]),
        text(34, 33, "in frame"),
    ]);
    h.apply(&meta("https://site.test/"));
    h.apply(&snapshot(nodes));
    let html = h.html();
    assert!(
        html.contains("<my-card>#shadow-root(<b>in shadow</b>)</my-card>"),
        "{html}"
    );
    assert!(
        html.contains("<iframe>#document(<html><body>in frame</body></html>)</iframe>"),
        "a replayed frame loads nothing and holds its document: {html}"
    );
    // Changes inside both trees; a frame navigation replaces its document.
    h.apply(&mutation(
        vec![],
        vec![add(21, 0, vec![el(24, 21, "hr", &[])])],
    ));
    h.apply(&text_change(23, "changed"));
    h.apply(&mutation(
        vec![31],
        vec![add(
            30,
            0,
            vec![node(40, 30, NodeKind::Document), el(41, 40, "html", &[])],
        )],
    ));
    let html = h.html();
    assert!(
        html.contains("#shadow-root(<b>changed</b><hr></hr>)"),
        "{html}"
    );
    assert!(
        html.contains("<iframe>#document(<html></html>)</iframe>"),
        "{html}"
    );
    // A document anywhere but under a frame, or a shadow root under a
    // non-element, is refused.
    h.apply(&mutation(
        vec![],
        vec![
            add(5, 0, vec![node(50, 5, NodeKind::Document)]),
            add(6, 0, vec![node(51, 6, NodeKind::ShadowRoot)]),
        ],
    ));
    assert!(h.model.node(50).is_none() && h.model.node(51).is_none());
}

#[test]
fn cssom_edits_constructed_and_adopted_sheets_replay_and_rebuild() {
    let mut h = Harness::new();
    let mut nodes = page();
    nodes.extend([el(20, 3, "style", &[]), text(21, 20, "p { }")]);
    h.apply(&meta("https://site.test/app/"));
    h.apply(&snapshot(nodes));
    h.apply(&sheet(
        SheetRef::Node(20),
        SheetOp::Insert {
            path: vec![],
            index: 1,
            rule: ".a { background: url(a.png); }".into(),
        },
    ));
    h.apply(&sheet(
        SheetRef::Node(20),
        SheetOp::Delete {
            path: vec![],
            index: 0,
        },
    ));
    h.apply(&sheet(
        SheetRef::Constructed(1),
        SheetOp::Replace {
            text: ".c { }".into(),
        },
    ));
    h.apply(&EventData::AdoptedStyleSheets(AdoptedStyleSheets {
        root: 1,
        sheets: vec![1],
    }));
    let html = h.html();
    assert!(
        html.contains("https://site.test/app/a.png") && html.contains("adopt [1]"),
        "{html}"
    );
    // Setting a <style>'s text reparses it: earlier CSSOM edits are gone.
    h.apply(&text_change(21, "q { }"));
    assert!(!h.html().contains("a.png"), "{}", h.html());
    // Edits naming no sheet, or a non-style element, are ignored.
    h.apply(&sheet(
        SheetRef::Node(5),
        SheetOp::Replace { text: "x".into() },
    ));
    h.apply(&sheet(
        SheetRef::Node(999),
        SheetOp::Replace { text: "x".into() },
    ));
}

#[test]
fn media_state_and_canvas_bitmaps_are_restated() {
    let mut h = Harness::new();
    let mut nodes = page();
    nodes.extend([el(20, 4, "video", &[]), el(21, 4, "canvas", &[])]);
    h.apply(&snapshot(nodes));
    h.apply(&EventData::Media(Media {
        id: 20,
        action: MediaAction::Play,
        time: 1.5,
        rate: 2.0,
        muted: false,
        volume: 1.0,
    }));
    h.apply(&EventData::Canvas(reel_shared::Canvas {
        id: 21,
        data_url: "data:image/png;base64,AAAA".into(),
    }));
    // Not an image: ignored.
    h.apply(&EventData::Canvas(reel_shared::Canvas {
        id: 21,
        data_url: "javascript:alert(1)".into(),
    }));
    let html = h.html();
    assert!(html.contains("{media 1.5 false 2}"), "{html}");
    assert!(
        html.contains("{canvas data:image/png;base64,AAAA}"),
        "{html}"
    );
}

/// A cross-origin frame (recorded as an element with its own attributes,
/// no document) shows the placeholder in its own box until its own
/// recorder's document arrives, then that document; the placeholder again
/// once the document goes. A change of its attributes keeps the placeholder.
#[test]
fn a_cross_origin_frame_shows_its_document_once_one_arrives() {
    let mut h = Harness::new();
    h.apply(&meta("https://site.test/"));
    let mut nodes = page();
    nodes.push(el(
        9,
        4,
        "iframe",
        &[
            ("src", "https://other.test/embed"),
            ("style", "border:3px solid #333"),
            ("frameborder", "0"),
        ],
    ));
    nodes.push(el(10, 4, "p", &[("id", "after")]));
    h.apply(&snapshot(nodes));
    let html = h.html();
    assert!(html.contains("frame not recorded"), "{html}");
    assert!(html.contains("border:3px solid #333"), "{html}");
    assert!(html.contains("frameborder=\"0\""), "{html}");
    assert!(
        !html.contains("other.test"),
        "a replayed frame loads nothing: {html}"
    );
    let ops = h.apply(&EventData::Mutation(Mutation {
        attrs: vec![AttrChange {
            id: 9,
            name: "style".into(),
            value: Some("border:0".into()),
        }],
        ..Mutation::default()
    }));
    assert!(
        !ops.iter().any(|op| matches!(op, DomOp::Remove { .. })
            || matches!(op, DomOp::SetAttr { name, .. } if name == "srcdoc")),
        "{ops:?}"
    );
    assert!(h.html().contains("frame not recorded"), "{}", h.html());
    let base = reel_shared::frames::FIRST_BASE;
    let frame_doc = FlatNode {
        id: base,
        parent: 9,
        kind: NodeKind::Document,
    };
    let ops = h.apply(&EventData::Mutation(Mutation {
        adds: vec![add(
            9,
            NO_NODE,
            vec![
                frame_doc.clone(),
                el(base + 1, base, "html", &[]),
                el(base + 2, base + 1, "body", &[]),
                text(base + 3, base + 2, "inside"),
            ],
        )],
        ..Mutation::default()
    }));
    // The frame is created anew (before its next sibling), with its own
    // attributes and no placeholder, then its document.
    assert!(
        ops[0] == DomOp::Remove { id: 9 }
            && matches!(&ops[1], DomOp::Create { id: 9, parent: 4, next: 10, node: NewNode::Element { attrs, .. } }
            if attrs.iter().any(|(k, v)| k == "style" && v == "border:0")
                && !attrs.iter().any(|(k, _)| k == "srcdoc")),
        "{ops:?}"
    );
    assert!(!h.html().contains("frame not recorded"), "{}", h.html());
    assert!(h.html().contains("inside"), "{}", h.html());
    h.apply(&EventData::Mutation(Mutation {
        removes: vec![base],
        ..Mutation::default()
    }));
    assert!(h.html().contains("frame not recorded"), "{}", h.html());
    assert!(!h.html().contains("inside"), "{}", h.html());
}
