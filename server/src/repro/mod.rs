//! From replay to reproduction: a session's events turned into the steps a
//! person took ("Click the button “Load orders”"), written out as text for
//! a ticket ([`steps`]) or as a `@playwright/test` spec ([`playwright`]).
//!
//! [`Builder`] reads the events in order and keeps a small model of the
//! page ([`dom`]) to know what each target is. What it makes of them:
//! - a page load (`Meta`) is "go to URL", unless a click or a key press
//!   just before it caused it: then it is a wait for that URL;
//! - a click on a field is dropped (filling it focuses it); a click that
//!   toggled a checkbox or radio button (on it, or on its label) becomes a
//!   check or an uncheck; three clicks of a double click become one; the
//!   browser's own clicks are not steps: the one at (0, 0) that Enter
//!   makes on a form's submit button, and the one a label makes on its
//!   field, at the same point as the label's (it stands for the label's);
//! - the input events of a field merge into one "type VALUE" (or "choose
//!   VALUE" in a select); a value the page's script set is the page's
//!   doing, not the user's, and is left out (the recorder gives only the
//!   user's edits a label or selector; in a recording from before labels,
//!   an edit of a field without the focus is the script's); a masked
//!   value is a numbered variable;
//! - named key presses (`Enter`, `Escape`, `Tab`, …) are pressed on their
//!   target, except the editing keys inside a text field and the arrows in
//!   a select, whose effect is in the typed or chosen value already.
//!
//! The session ends on its last page: its URL, title and first heading
//! are what the spec asserts.

pub mod dom;
pub mod playwright;
pub mod steps;

use dom::Dom;
use reel_shared::{Event, EventData, FieldValue, MouseKind, NodeId};

/// A session with more steps than this is refused (a spec that long
/// helps nobody, and its text would be megabytes).
pub const MAX_STEPS: usize = 2000;

/// What replaces masked text in a recording (the recorder's
/// `mask::TEXT_MASK`): a label equal to it says nothing of its element.
pub const MASKED_TEXT: &str = "•••";

/// A click or key press closer than this before a page load caused it.
const CAUSE_MS: u64 = 10_000;

#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum ReproError {
    #[error("the session has more than {MAX_STEPS} steps, too many to turn into a reproduction")]
    TooLong,
}

/// What an action is done to, as the recorder described it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    /// The accessible name or visible text; `None` when unknown or masked.
    pub label: Option<String>,
    /// The label was masked when recorded.
    pub masked_label: bool,
    pub selector: Option<String>,
    /// The ARIA role (explicit or implicit), when known.
    pub role: Option<String>,
    /// Where the click landed (viewport pixels): the last resort.
    pub x: i32,
    pub y: i32,
}

/// A value typed or chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    /// Masked when recorded: the spec reads `REEL_VALUE_{n}`.
    Masked(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClickKind {
    Single,
    Double,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Open a URL (the first page, or one the user went to by hand).
    Goto(String),
    /// The previous action loaded this URL.
    WaitUrl(String),
    Click(Target, ClickKind),
    Fill(Target, Value),
    Select(Target, Value),
    Check(Target, bool),
    Press(Target, String),
}

/// The page the user ended on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ending {
    pub url: Option<String>,
    pub title: Option<String>,
    /// The first `h1` (else `h2`) and its text.
    pub heading: Option<(String, String)>,
}

/// A session as the steps a person took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// The first page's origin (`http://host:port`): URLs on it are
    /// written as paths, so the steps run on another origin too.
    pub origin: Option<String>,
    pub actions: Vec<Action>,
    pub ending: Ending,
    /// How many masked values the actions use (`REEL_VALUE_1..=n`).
    pub masked_values: usize,
}

impl Script {
    /// `url` as the steps write it: a path when on the recorded origin.
    pub fn display_url<'a>(&self, url: &'a str) -> &'a str {
        match &self.origin {
            Some(o) => match url.strip_prefix(o.as_str()) {
                Some(rest) if rest.starts_with('/') => rest,
                Some("") => "/",
                _ => url,
            },
            None => url,
        }
    }
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// A field's input waiting to be written as one step.
struct PendingFill {
    id: NodeId,
    select: bool,
    target: Target,
    value: Option<FieldValue>,
}

/// Turns events, fed in order, into a [`Script`].
#[derive(Default)]
pub struct Builder {
    dom: Dom,
    script: Script,
    fill: Option<PendingFill>,
    focused: Option<NodeId>,
    /// The last click: its node, its time, and its index in `actions`.
    last_click: Option<(NodeId, u64, usize)>,
    /// The time of the last click or key press that could load a page.
    last_cause: Option<u64>,
    /// Whether the recorder gave any target a label or selector (it did
    /// not before issue 17).
    labelled: bool,
    error: Option<ReproError>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event; an error once the session is too long (later
    /// events are then ignored).
    pub fn push(&mut self, e: &Event) -> Result<(), ReproError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        self.event(e);
        if self.script.actions.len() > MAX_STEPS {
            self.error = Some(ReproError::TooLong);
            return Err(ReproError::TooLong);
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Script, ReproError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        self.flush_fill();
        if self.script.actions.len() > MAX_STEPS {
            return Err(ReproError::TooLong);
        }
        let title = self
            .dom
            .first_text_of("title")
            .or_else(|| self.script.ending.title.take());
        self.script.ending.title = title.filter(|t| !t.is_empty() && !t.contains(MASKED_TEXT));
        self.script.ending.heading = ["h1", "h2"]
            .into_iter()
            .find_map(|tag| Some((tag.to_string(), self.dom.first_text_of(tag)?)))
            .filter(|(_, t)| !t.contains(MASKED_TEXT) && t.chars().count() <= 200);
        Ok(self.script)
    }

    fn emit(&mut self, a: Action) {
        self.script.actions.push(a);
    }

    fn target(&self, id: NodeId, label: &Option<String>, selector: &Option<String>) -> Target {
        let masked_label = label.as_deref() == Some(MASKED_TEXT);
        let from_selector = selector
            .as_deref()
            .and_then(parse_role_selector)
            .map(|(role, _)| role);
        Target {
            label: label
                .clone()
                .filter(|l| !masked_label && !l.trim().is_empty()),
            masked_label,
            selector: selector.clone().filter(|s| !s.is_empty()),
            role: from_selector.or_else(|| self.dom.role(self.dom.actionable(id))),
            x: 0,
            y: 0,
        }
    }

    fn event(&mut self, e: &Event) {
        match &e.data {
            EventData::Meta(m) => {
                self.flush_fill();
                if self.script.origin.is_none() {
                    self.script.origin = origin_of(&m.href);
                }
                let caused = self
                    .last_cause
                    .is_some_and(|c| e.t.saturating_sub(c) <= CAUSE_MS);
                if caused {
                    self.emit(Action::WaitUrl(m.href.clone()));
                } else {
                    self.emit(Action::Goto(m.href.clone()));
                }
                self.last_cause = None;
                self.last_click = None;
                self.focused = None;
                self.script.ending.url = Some(m.href.clone());
                self.script.ending.title = Some(m.title.clone());
            }
            EventData::FullSnapshot(s) => self.dom.snapshot(&s.nodes),
            EventData::Mutation(m) => self.dom.mutation(m),
            EventData::Focus(f) => {
                if f.focused {
                    self.focused = Some(f.id);
                } else if self.focused == Some(f.id) {
                    self.focused = None;
                }
            }
            EventData::Mouse(m) => {
                let kind = match m.kind {
                    MouseKind::Click => ClickKind::Single,
                    MouseKind::DblClick => ClickKind::Double,
                    MouseKind::ContextMenu => ClickKind::Right,
                    MouseKind::Down | MouseKind::Up => return,
                };
                let node = self.dom.actionable(m.id);
                self.labelled |= m.label.is_some() || m.selector.is_some();
                // The browser's own clicks. Enter in a form clicks its
                // submit button, at (0, 0): the key press's doing. A click
                // on a label clicks its field, at the same point: it stands
                // for the label's click (it is what toggles).
                if kind == ClickKind::Single {
                    let last = self.script.actions.last();
                    if m.x == 0
                        && m.y == 0
                        && matches!(last, Some(Action::Press(_, k)) if k == "Enter")
                    {
                        return;
                    }
                    if let (Some((prev, _, idx)), Some(Action::Click(t, ClickKind::Single))) =
                        (self.last_click, last)
                    {
                        if (t.x, t.y) == (m.x, m.y)
                            && prev != m.id
                            && self.dom.in_label(prev)
                            && idx + 1 == self.script.actions.len()
                        {
                            self.script.actions.pop();
                            self.last_click = None;
                        }
                    }
                }
                // Clicking into a field only focuses it: filling does that.
                if kind == ClickKind::Single && self.is_text_field(node) {
                    self.last_click = None;
                    return;
                }
                self.flush_fill();
                let mut target = self.target(m.id, &m.label, &m.selector);
                target.x = m.x;
                target.y = m.y;
                if kind == ClickKind::Double {
                    // A double click is two clicks and a dblclick: one step.
                    for _ in 0..2 {
                        if matches!(self.script.actions.last(), Some(Action::Click(t, ClickKind::Single)) if t.selector == target.selector && t.label == target.label)
                        {
                            self.script.actions.pop();
                        }
                    }
                }
                self.emit(Action::Click(target, kind));
                self.last_click = Some((m.id, e.t, self.script.actions.len() - 1));
                self.last_cause = Some(e.t);
            }
            EventData::Input(i) => self.input(e.t, i),
            EventData::Key(k) => {
                let node = self.dom.actionable(k.id);
                let plain = !k.key.contains('+');
                let editing = matches!(
                    k.key.as_str(),
                    "Backspace"
                        | "Delete"
                        | "ArrowLeft"
                        | "ArrowRight"
                        | "ArrowUp"
                        | "ArrowDown"
                        | "Home"
                        | "End"
                );
                if plain
                    && editing
                    && (self.is_text_field(node) || self.dom.tag(node) == Some("select"))
                {
                    return;
                }
                self.flush_fill();
                let target = self.target(k.id, &k.label, &k.selector);
                self.emit(Action::Press(target, k.key.clone()));
                self.last_click = None;
                self.last_cause = Some(e.t);
            }
            _ => {}
        }
    }

    fn is_text_field(&self, id: NodeId) -> bool {
        match self.dom.tag(id) {
            Some("textarea") => true,
            Some("input") => !matches!(
                self.dom.input_type(id).as_str(),
                "button"
                    | "submit"
                    | "reset"
                    | "image"
                    | "checkbox"
                    | "radio"
                    | "file"
                    | "range"
                    | "color"
                    | "hidden"
            ),
            _ => false,
        }
    }

    /// Whether a field's change was the user's (see the module's doc).
    fn by_user(&mut self, i: &reel_shared::Input) -> bool {
        if i.label.is_some() || i.selector.is_some() {
            self.labelled = true;
            return true;
        }
        !self.labelled && self.focused == Some(i.id)
    }

    fn input(&mut self, _t: u64, i: &reel_shared::Input) {
        let tag = self.dom.tag(i.id).unwrap_or_default().to_string();
        let ty = self.dom.input_type(i.id);
        if tag == "input" && matches!(ty.as_str(), "checkbox" | "radio") {
            let Some(checked) = i.checked else { return };
            if !self.by_user(i) {
                return;
            }
            // The click on the box or its label that toggled it.
            let by_click = self
                .last_click
                .filter(|&(node, _, _)| node == i.id || self.dom.in_label(node));
            self.flush_fill();
            let target = self.target(i.id, &i.label, &i.selector);
            let action = Action::Check(target, checked);
            match by_click {
                Some((_, _, at)) if at + 1 == self.script.actions.len() => {
                    self.script.actions[at] = action;
                }
                _ => self.emit(action),
            }
            self.last_click = None;
            return;
        }
        let select = tag == "select";
        if !(select || self.is_text_field(i.id)) {
            return; // an <option> of a multiple select, a file input, …
        }
        if !self.by_user(i) {
            return; // set by the page's script, not typed
        }
        let Some(value) = &i.value else { return };
        if let Some(p) = &mut self.fill {
            if p.id == i.id {
                p.value = Some(value.clone());
                return;
            }
        }
        self.flush_fill();
        // The click that focused a select is part of choosing in it.
        if let Some((node, _, at)) = self.last_click {
            if select && node == i.id && at + 1 == self.script.actions.len() {
                self.script.actions.pop();
            }
        }
        self.last_click = None;
        self.fill = Some(PendingFill {
            id: i.id,
            select,
            target: self.target(i.id, &i.label, &i.selector),
            value: Some(value.clone()),
        });
    }

    fn flush_fill(&mut self) {
        let Some(p) = self.fill.take() else { return };
        let value = match p.value {
            Some(FieldValue::Text(s)) => Value::Text(s),
            Some(FieldValue::Masked) => {
                self.script.masked_values += 1;
                Value::Masked(self.script.masked_values)
            }
            None => return,
        };
        self.emit(if p.select {
            Action::Select(p.target, value)
        } else {
            Action::Fill(p.target, value)
        });
    }
}

/// Reads the recorder's role selector, `role=ROLE[name="NAME"]`.
pub fn parse_role_selector(sel: &str) -> Option<(String, String)> {
    let rest = sel.strip_prefix("role=")?;
    let (role, rest) = rest.split_once("[name=\"")?;
    let quoted = rest.strip_suffix("\"]")?;
    let mut name = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            name.push(chars.next()?);
        } else {
            name.push(c);
        }
    }
    Some((role.to_string(), name))
}

/// Builds the script of a whole list of events (tests, small sessions).
pub fn script(events: &[Event]) -> Result<Script, ReproError> {
    let mut b = Builder::new();
    for e in events {
        b.push(e)?;
    }
    b.finish()
}

#[cfg(test)]
mod tests;
