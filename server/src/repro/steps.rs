//! A [`Script`] as numbered steps in words, ready to paste into a ticket:
//!
//! ```text
//! 1. Go to /cart
//! 2. Click the button “Load orders”
//! 3. Type “fix bug 42” into “New task”
//! 4. Press Enter in “New task”
//! 5. Click the link “Checkout” (the page goes to /checkout)
//! Ends on /checkout, showing “Checkout”.
//! ```
//!
//! A page load that a step caused is told in that step, not numbered.

use super::{Action, ClickKind, Script, Target, Value};
use std::fmt::Write;

/// `“text”`.
fn q(s: &str) -> String {
    format!("“{s}”")
}

/// The words for a role, as in "the button".
fn role_words(role: &str) -> Option<&'static str> {
    Some(match role {
        "button" => "the button",
        "link" => "the link",
        "checkbox" => "the checkbox",
        "radio" => "the radio button",
        "switch" => "the switch",
        "tab" => "the tab",
        "menuitem" | "menuitemcheckbox" | "menuitemradio" => "the menu item",
        "option" => "the option",
        "heading" => "the heading",
        "img" => "the image",
        "listitem" => "the list item",
        "textbox" | "searchbox" => "the field",
        "combobox" | "listbox" => "the list",
        "slider" => "the slider",
        "spinbutton" => "the number field",
        "treeitem" => "the tree item",
        _ => return None,
    })
}

/// "the button “Load orders”", "the checkbox `#agree`" (label masked),
/// "“Notes”", "the element `main > p:nth-of-type(2)`", "the point (x, y)".
pub fn describe(t: &Target) -> String {
    let role = t.role.as_deref().and_then(role_words);
    match (&t.label, role, &t.selector) {
        (Some(l), Some(r), _) => format!("{r} {}", q(l)),
        (Some(l), None, _) => q(l),
        (None, r, Some(s)) => {
            let masked = if t.masked_label {
                " (label masked)"
            } else {
                ""
            };
            format!("{} `{s}`{masked}", r.unwrap_or("the element"))
        }
        (None, Some(r), None) if t.masked_label => format!("{r} (label masked)"),
        (None, _, None) => format!("the point ({}, {})", t.x, t.y),
    }
}

/// A field as the object of "into" / "in": its label alone reads best.
pub fn field(t: &Target) -> String {
    match &t.label {
        Some(l) => q(l),
        None => describe(t),
    }
}

fn value(v: &Value, what: &str) -> String {
    match v {
        Value::Text(s) => q(s),
        Value::Masked(n) => format!("a masked {what} (REEL_VALUE_{n} in the spec)"),
    }
}

/// One action in words ("Click the button “Load orders”").
pub fn action_words(s: &Script, a: &Action) -> String {
    match a {
        Action::Goto(url) => format!("Go to {}", s.display_url(url)),
        Action::WaitUrl(url) => format!("Wait for {}", s.display_url(url)),
        Action::Click(t, ClickKind::Single) => format!("Click {}", describe(t)),
        Action::Click(t, ClickKind::Double) => format!("Double-click {}", describe(t)),
        Action::Click(t, ClickKind::Right) => format!("Right-click {}", describe(t)),
        Action::Fill(t, Value::Text(v)) if v.is_empty() => format!("Clear {}", field(t)),
        Action::Fill(t, v) => format!("Type {} into {}", value(v, "value"), field(t)),
        Action::Select(t, v) => format!("Choose {} in {}", value(v, "option"), field(t)),
        Action::Check(t, true) => format!("Check {}", field(t)),
        Action::Check(t, false) => format!("Uncheck {}", field(t)),
        Action::Press(t, key) => {
            if t.label.is_none() && t.selector.is_none() && !t.masked_label {
                format!("Press {key}")
            } else {
                format!("Press {key} in {}", field(t))
            }
        }
    }
}

/// The numbered steps and the ending, one line each.
pub fn render(s: &Script) -> String {
    let mut lines: Vec<String> = Vec::new();
    for a in &s.actions {
        if let Action::WaitUrl(url) = a {
            if let Some(prev) = lines.last_mut() {
                let _ = write!(prev, " (the page goes to {})", s.display_url(url));
                continue;
            }
        }
        lines.push(action_words(s, a));
    }
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let _ = writeln!(out, "{}. {l}", i + 1);
    }
    if let Some(url) = &s.ending.url {
        let _ = write!(out, "Ends on {}", s.display_url(url));
        let heading = s.ending.heading.as_ref().map(|(_, h)| h);
        if let Some(h) = heading.or(s.ending.title.as_ref()) {
            let _ = write!(out, ", showing {}", q(h));
        }
        out.push_str(".\n");
    }
    out
}
