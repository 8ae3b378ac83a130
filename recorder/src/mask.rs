//! The privacy rules: what may leave the browser in clear.
//!
//! Masking is decided here, in one place, before anything is encoded. The
//! rules, strictest first:
//! 1. Sensitive fields (passwords, card data, one-time codes, and any field
//!    that was ever a password) are masked, whatever other markup says.
//! 2. Every other form field's value is masked unless the field or an
//!    ancestor has `data-reel-unmask`.
//! 3. Text under `data-reel-mask` (or `maskTextSelector`, or everywhere with
//!    `maskAllText`) is masked, and so are the element's human-readable
//!    attributes.
//!
//! A mask is a fixed string: it reveals neither the value nor its length.

use crate::raw::flags;
use reel_shared::{limits, FieldValue};

/// What replaces masked text.
pub const TEXT_MASK: &str = "•••";

/// Autocomplete tokens that mark a field as never to be recorded in clear.
fn sensitive_autocomplete(ac: &str) -> bool {
    ac.split_ascii_whitespace().any(|tok| {
        tok.starts_with("cc-")
            || matches!(tok, "current-password" | "new-password" | "one-time-code")
    })
}

/// A field as the capture layer described it.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    pub tag: &'a str,
    pub ty: &'a str,
    pub autocomplete: &'a str,
    pub flags: u32,
}

impl Field<'_> {
    /// Does this element hold a value the user typed or chose?
    pub fn is_field(&self) -> bool {
        match self.tag {
            "textarea" | "select" => true,
            "input" => !matches!(
                self.ty,
                "button" | "submit" | "reset" | "image" | "checkbox" | "radio"
            ),
            _ => false,
        }
    }

    pub fn is_sensitive(&self) -> bool {
        self.ty == "password"
            || self.flags & flags::WAS_SENSITIVE != 0
            || sensitive_autocomplete(self.autocomplete)
    }

    /// Whether the field's value must be masked.
    pub fn value_masked(&self) -> bool {
        self.is_sensitive() || self.flags & flags::UNMASK == 0
    }

    /// The value as it may leave the browser.
    pub fn value(&self, raw: String) -> FieldValue {
        if self.value_masked() {
            FieldValue::Masked
        } else {
            FieldValue::Text(raw)
        }
    }

    /// The `checked` state as it may leave the browser. A checkbox's state
    /// is recorded in clear (like rrweb's); an `<option>`'s `selected`
    /// (recorded for multiple selects, whose choice no single value holds)
    /// is the choice itself, so it follows the value rule of its select.
    pub fn checked(&self, c: Option<bool>) -> Option<bool> {
        if self.tag == "option" && self.value_masked() {
            None
        } else {
            c
        }
    }

    /// An attribute of this element as it may leave the browser.
    pub fn attr(&self, name: &str, value: String) -> String {
        if name == "value" && self.is_field() && self.value_masked() {
            return FieldValue::MASK.to_string();
        }
        if self.flags & flags::MASK_TEXT != 0
            && matches!(
                name,
                "value" | "placeholder" | "title" | "alt" | "aria-label" | "aria-description"
            )
            && !value.is_empty()
        {
            return TEXT_MASK.to_string();
        }
        value
    }
}

/// A text node's data as it may leave the browser. Whitespace-only text is
/// layout, not content, and is kept so the replay's layout matches.
pub fn text(data: String, node_flags: u32) -> String {
    let masked = node_flags & flags::MASK_TEXT != 0
        || (node_flags & flags::IN_TEXTAREA != 0 && node_flags & flags::UNMASK == 0);
    if masked && !data.trim().is_empty() {
        TEXT_MASK.to_string()
    } else {
        data
    }
}

/// An event target's label (`js/src/labels.js`) as it may leave the
/// browser: the mask when any text it was built from is masked, cut to
/// [`limits::MAX_LABEL`] bytes otherwise. The capture layer never builds
/// one from a field's value, and builds none for a blocked element.
pub fn label(text: Option<String>, masked: bool) -> Option<String> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    if masked {
        return Some(TEXT_MASK.to_string());
    }
    Some(reel_shared::text::cut(text, limits::MAX_LABEL))
}

/// A selector, or nothing when it is longer than [`limits::MAX_SELECTOR`]
/// (a cut selector would find something else).
pub fn selector(sel: Option<String>) -> Option<String> {
    sel.filter(|s| !s.is_empty() && s.len() <= limits::MAX_SELECTOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::flags::*;

    #[test]
    fn labels_are_masked_with_their_text_and_bounded() {
        assert_eq!(
            label(Some("Load orders".into()), false).as_deref(),
            Some("Load orders")
        );
        assert_eq!(
            label(Some("Account 4471".into()), true).as_deref(),
            Some(TEXT_MASK)
        );
        assert_eq!(label(Some("  ".into()), false), None);
        assert_eq!(label(None, true), None);
        let long = "é".repeat(limits::MAX_LABEL);
        assert!(label(Some(long), false).is_some_and(|l| l.len() <= limits::MAX_LABEL));
        assert_eq!(selector(Some("x".repeat(limits::MAX_SELECTOR + 1))), None);
        assert_eq!(selector(Some("#a".into())).as_deref(), Some("#a"));
    }

    fn input(ty: &'static str, ac: &'static str, flags: u32) -> Field<'static> {
        Field {
            tag: "input",
            ty,
            autocomplete: ac,
            flags,
        }
    }

    #[test]
    fn an_option_choice_is_kept_only_where_its_select_is_in_clear() {
        let option = |ac: &'static str, flags: u32| Field {
            tag: "option",
            ty: "text",
            autocomplete: ac,
            flags,
        };
        assert_eq!(option("", 0).checked(Some(true)), None);
        assert_eq!(option("", UNMASK).checked(Some(true)), Some(true));
        assert_eq!(option("cc-exp-month", UNMASK).checked(Some(true)), None);
        assert_eq!(
            option("", UNMASK | WAS_SENSITIVE).checked(Some(false)),
            None
        );
        // Checkboxes and radios keep their state, masked or not.
        assert_eq!(input("checkbox", "", 0).checked(Some(true)), Some(true));
    }

    #[test]
    fn fields_are_masked_by_default() {
        assert_eq!(
            input("text", "", 0).value("secret".into()),
            FieldValue::Masked
        );
        assert_eq!(
            Field {
                tag: "textarea",
                ty: "",
                autocomplete: "",
                flags: 0
            }
            .value("x".into()),
            FieldValue::Masked
        );
        assert_eq!(
            Field {
                tag: "select",
                ty: "",
                autocomplete: "",
                flags: 0
            }
            .value("x".into()),
            FieldValue::Masked
        );
    }

    #[test]
    fn unmask_reveals_ordinary_fields() {
        assert_eq!(
            input("text", "", UNMASK).value("Berlin".into()),
            FieldValue::Text("Berlin".into())
        );
        assert_eq!(
            input("email", "email", UNMASK).value("a@b".into()),
            FieldValue::Text("a@b".into())
        );
    }

    #[test]
    fn sensitive_fields_stay_masked_whatever_the_markup() {
        for f in [
            input("password", "", UNMASK),
            input("text", "cc-number", UNMASK),
            input("text", "billing cc-csc", UNMASK),
            input("text", "current-password", UNMASK),
            input("text", "new-password", UNMASK),
            input("text", "one-time-code", UNMASK),
            input("text", "", UNMASK | WAS_SENSITIVE),
        ] {
            assert_eq!(f.value("hunter2".into()), FieldValue::Masked, "{f:?}");
            assert_eq!(f.attr("value", "hunter2".into()), FieldValue::MASK);
        }
    }

    #[test]
    fn value_attribute_of_masked_fields_is_masked() {
        assert_eq!(
            input("text", "", 0).attr("value", "Jane".into()),
            FieldValue::MASK
        );
        assert_eq!(
            input("text", "", UNMASK).attr("value", "Jane".into()),
            "Jane"
        );
        // A button's value is its label, page content.
        assert_eq!(input("submit", "", 0).attr("value", "Send".into()), "Send");
    }

    #[test]
    fn masked_text_hides_content_and_length() {
        assert_eq!(text("a much longer secret".into(), MASK_TEXT), TEXT_MASK);
        assert_eq!(text("x".into(), MASK_TEXT), TEXT_MASK);
        assert_eq!(text("  \n ".into(), MASK_TEXT), "  \n ");
        assert_eq!(text("hello".into(), 0), "hello");
        assert_eq!(text("typed".into(), IN_TEXTAREA), TEXT_MASK);
        assert_eq!(text("typed".into(), IN_TEXTAREA | UNMASK), "typed");
    }

    #[test]
    fn masked_elements_lose_readable_attributes() {
        let f = Field {
            tag: "img",
            ty: "",
            autocomplete: "",
            flags: MASK_TEXT,
        };
        assert_eq!(f.attr("alt", "Jane's passport".into()), TEXT_MASK);
        assert_eq!(f.attr("title", "x".into()), TEXT_MASK);
        assert_eq!(f.attr("class", "photo".into()), "photo");
    }
}
