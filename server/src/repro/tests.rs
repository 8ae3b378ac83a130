use super::*;
use reel_shared::{
    Element, Event, EventData, FieldValue, FlatNode, Focus, Input, Key, Meta, MouseInteraction,
    MouseKind, Namespace, NodeKind, Snapshot, NO_NODE,
};

pub(super) fn el(id: u32, parent: u32, tag: &str, attrs: &[(&str, &str)]) -> FlatNode {
    FlatNode {
        id,
        parent,
        kind: NodeKind::Element(Element {
            tag: tag.into(),
            ns: Namespace::Html,
            attrs: attrs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Element::default()
        }),
    }
}
pub(super) fn text(id: u32, parent: u32, t: &str) -> FlatNode {
    FlatNode {
        id,
        parent,
        kind: NodeKind::Text(t.into()),
    }
}
fn ev(t: u64, data: EventData) -> Event {
    Event { t, data }
}
fn meta(t: u64, href: &str, title: &str) -> Event {
    ev(
        t,
        EventData::Meta(Meta {
            href: href.into(),
            title: title.into(),
            width: 800,
            height: 600,
            user_agent: "test".into(),
            referrer: None,
            visitor_id: None,
            new_visitor: None,
        }),
    )
}
fn snap(t: u64, body: Vec<FlatNode>) -> Event {
    let mut nodes = vec![
        FlatNode {
            id: 1,
            parent: NO_NODE,
            kind: NodeKind::Document,
        },
        el(2, 1, "html", &[]),
        el(3, 2, "body", &[]),
    ];
    nodes.extend(body);
    ev(
        t,
        EventData::FullSnapshot(Snapshot {
            nodes,
            scroll_x: 0,
            scroll_y: 0,
        }),
    )
}
fn click(t: u64, id: u32, label: &str, sel: &str) -> Event {
    click_at(t, id, label, sel, 10, 20)
}
fn click_at(t: u64, id: u32, label: &str, sel: &str, x: i32, y: i32) -> Event {
    ev(
        t,
        EventData::Mouse(MouseInteraction {
            kind: MouseKind::Click,
            id,
            x,
            y,
            label: Some(label.into()).filter(|l: &String| !l.is_empty()),
            selector: Some(sel.into()).filter(|s: &String| !s.is_empty()),
            box_x: None,
            box_y: None,
        }),
    )
}
fn focus(t: u64, id: u32) -> Event {
    ev(t, EventData::Focus(Focus { id, focused: true }))
}
fn input(t: u64, id: u32, value: Option<FieldValue>, checked: Option<bool>, label: &str) -> Event {
    ev(
        t,
        EventData::Input(Input {
            id,
            value,
            checked,
            // The recorder labels the user's edits only.
            label: Some(label.into()).filter(|l: &String| !l.is_empty()),
            selector: None,
        }),
    )
}
fn typed(t: u64, id: u32, v: &str, label: &str) -> Event {
    input(t, id, Some(FieldValue::Text(v.into())), None, label)
}
fn key(t: u64, id: u32, k: &str, label: &str) -> Event {
    ev(
        t,
        EventData::Key(Key {
            id,
            key: k.into(),
            label: Some(label.into()),
            selector: Some(format!("role=textbox[name=\"{label}\"]")),
        }),
    )
}

/// A to-do page: a field, a button, a checkbox in a label.
fn todo_page(t: u64) -> Vec<Event> {
    vec![
        meta(t, "http://app.test:8080/todo.html", "To-do"),
        snap(
            t,
            vec![
                el(4, 3, "h1", &[]),
                text(5, 4, "My tasks"),
                el(6, 3, "input", &[("id", "new")]),
                el(7, 3, "button", &[]),
                el(8, 7, "span", &[]),
                text(9, 8, "Add"),
                el(10, 3, "label", &[]),
                el(11, 10, "input", &[("type", "checkbox")]),
                text(12, 10, "Buy milk"),
                el(13, 3, "select", &[("name", "when")]),
                el(14, 3, "input", &[("type", "password")]),
            ],
        ),
    ]
}

#[test]
fn typing_merges_and_page_answers_are_left_out() {
    let mut e = todo_page(1000);
    e.push(click(2000, 6, "New task", "#new"));
    e.push(focus(2000, 6));
    for (i, v) in ["f", "fi", "fix", "fix bug 42"].iter().enumerate() {
        e.push(typed(2100 + i as u64 * 100, 6, v, "New task"));
    }
    e.push(key(3000, 6, "Backspace", "New task"));
    e.push(typed(3001, 6, "fix bug 4", "New task"));
    e.push(typed(3100, 6, "fix bug 42", "New task"));
    e.push(key(3500, 6, "Enter", "New task"));
    // The page clears the field once the task is added (no label: the
    // page's script set it).
    e.push(typed(3502, 6, "", ""));
    // Typed right after a Tab: not an answer to it.
    e.push(key(4000, 6, "Tab", "New task"));
    e.push(focus(4001, 14));
    e.push(input(4003, 14, Some(FieldValue::Masked), None, "Password"));
    let s = script(&e).unwrap();
    let text = steps::render(&s);
    assert_eq!(
        text,
        "1. Go to /todo.html\n\
         2. Type “fix bug 42” into “New task”\n\
         3. Press Enter in “New task”\n\
         4. Press Tab in “New task”\n\
         5. Type a masked value (REEL_VALUE_1 in the spec) into “Password”\n\
         Ends on /todo.html, showing “My tasks”.\n"
    );
}

#[test]
fn clicks_on_a_label_become_checks_and_script_toggles_are_ignored() {
    let mut e = todo_page(1000);
    // A click on the label's text toggles its box.
    e.push(click(2000, 10, "Buy milk", ""));
    e.push(input(2001, 11, None, Some(true), "Buy milk"));
    // A click on the button (its span), then the page unchecks the box.
    e.push(click(3000, 8, "Add", "role=button[name=\"Add\"]"));
    e.push(input(3001, 11, None, Some(false), ""));
    let s = script(&e).unwrap();
    assert_eq!(s.actions.len(), 3, "{:?}", s.actions);
    assert!(
        matches!(&s.actions[1], Action::Check(t, true) if t.label.as_deref() == Some("Buy milk") && t.role.as_deref() == Some("checkbox"))
    );
    assert!(
        matches!(&s.actions[2], Action::Click(t, ClickKind::Single) if t.role.as_deref() == Some("button"))
    );
    let text = steps::render(&s);
    assert!(text.contains("2. Check “Buy milk”\n"), "{text}");
    assert!(text.contains("3. Click the button “Add”\n"), "{text}");
    let spec = playwright::render(&s, "abc", "2026-01-01T00:00:00Z");
    assert!(
        spec.contains("await page.getByRole(\"checkbox\", { name: \"Buy milk\", exact: true }).first().check();"),
        "{spec}"
    );
    assert!(
        spec.contains("await page.getByRole(\"button\", { name: \"Add\", exact: true }).click();"),
        "{spec}"
    );
}

#[test]
fn masked_values_are_named_variables() {
    let mut e = todo_page(1000);
    e.push(focus(2000, 14));
    e.push(input(2100, 14, Some(FieldValue::Masked), None, "Password"));
    e.push(input(2200, 14, Some(FieldValue::Masked), None, "Password"));
    e.push(focus(2300, 13));
    e.push(input(2400, 13, Some(FieldValue::Masked), None, "When"));
    let s = script(&e).unwrap();
    assert_eq!(s.masked_values, 2);
    let text = steps::render(&s);
    assert!(
        text.contains("2. Type a masked value (REEL_VALUE_1 in the spec) into “Password”"),
        "{text}"
    );
    assert!(
        text.contains("3. Choose a masked option (REEL_VALUE_2 in the spec) in “When”"),
        "{text}"
    );
    let spec = playwright::render(&s, "abc", "2026-01-01T00:00:00Z");
    assert!(
        spec.contains("//   REEL_VALUE_1: typed into “Password”"),
        "{spec}"
    );
    assert!(spec.contains(".fill(masked(\"REEL_VALUE_1\"));"), "{spec}");
    assert!(
        spec.contains(".selectOption(masked(\"REEL_VALUE_2\"));"),
        "{spec}"
    );
    assert!(
        spec.contains("process.env.REEL_BASE_URL || \"http://app.test:8080\""),
        "{spec}"
    );
}

#[test]
fn a_page_load_after_a_click_is_awaited_one_without_is_visited() {
    let mut e = todo_page(1000);
    e.push(click(2000, 7, "Add", "[data-testid=\"add\"]"));
    e.extend(todo_page(2500).into_iter().map(|mut x| {
        if let EventData::Meta(m) = &mut x.data {
            m.href = "http://app.test:8080/done.html?x=1".into();
        }
        x
    }));
    // Much later, the user goes back to the first page by hand.
    e.extend(todo_page(60_000));
    let s = script(&e).unwrap();
    let text = steps::render(&s);
    assert_eq!(
        text,
        "1. Go to /todo.html\n\
         2. Click the button “Add” (the page goes to /done.html?x=1)\n\
         3. Go to /todo.html\n\
         Ends on /todo.html, showing “My tasks”.\n"
    );
    let spec = playwright::render(&s, "abc", "t");
    assert!(spec.contains("await page.getByTestId(\"add\").click();\n  await page.waitForURL(at(\"/done.html?x=1\"));"), "{spec}");
    assert!(
        spec.contains("await expect(page).toHaveURL(at(\"/todo.html\"));"),
        "{spec}"
    );
    assert!(
        spec.contains("await expect(page).toHaveTitle(\"To-do\");"),
        "{spec}"
    );
    assert!(
        spec.contains("await expect(page.locator(\"h1\").first()).toHaveText(\"My tasks\");"),
        "{spec}"
    );
}

#[test]
fn the_browsers_own_clicks_are_not_steps() {
    let mut e = todo_page(1000);
    e.push(focus(2000, 6));
    e.push(typed(2100, 6, "milk", "New task"));
    // Enter submits the form: the browser clicks its button.
    e.push(key(2500, 6, "Enter", "New task"));
    e.push(click_at(2501, 7, "Add", "[data-testid=\"add\"]", 0, 0));
    // A click on a label's text clicks its checkbox too.
    e.push(click(3000, 12, "Buy milk", "li > label"));
    e.push(click(
        3001,
        11,
        "Buy milk",
        "role=checkbox[name=\"Buy milk\"]",
    ));
    e.push(input(3002, 11, None, Some(true), "Buy milk"));
    let s = script(&e).unwrap();
    let text = steps::render(&s);
    assert_eq!(
        text,
        "1. Go to /todo.html\n\
         2. Type “milk” into “New task”\n\
         3. Press Enter in “New task”\n\
         4. Check “Buy milk”\n\
         Ends on /todo.html, showing “My tasks”.\n"
    );
}

#[test]
fn too_many_steps_is_an_error() {
    let mut e = todo_page(1000);
    for i in 0..=MAX_STEPS as u64 {
        e.push(click(2000 + i * 2000, 7, "Add", ""));
    }
    assert_eq!(script(&e), Err(ReproError::TooLong));
}

#[test]
fn masked_labels_say_so_and_selectors_stand_in() {
    let mut e = todo_page(1000);
    e.push(click(2000, 7, MASKED_TEXT, "main > button:nth-of-type(2)"));
    let s = script(&e).unwrap();
    let text = steps::render(&s);
    assert!(
        text.contains("2. Click the button `main > button:nth-of-type(2)` (label masked)"),
        "{text}"
    );
    assert!(!text.contains(MASKED_TEXT));
    let spec = playwright::render(&s, "abc", "t");
    assert!(
        spec.contains("await page.locator(\"main > button:nth-of-type(2)\").click();"),
        "{spec}"
    );
}

#[test]
fn role_selectors_read_back_with_quotes() {
    assert_eq!(
        parse_role_selector(r#"role=button[name="Say \"hi\" \\ bye"]"#),
        Some(("button".into(), r#"Say "hi" \ bye"#.into()))
    );
    assert_eq!(parse_role_selector("#x"), None);
}
