//! Cutting text to a byte limit without splitting a character: the one
//! rule the recorder, the server and the player apply to every bounded
//! string (labels, selectors, URLs, messages, index fields).

/// The largest index `<= max` that is a character boundary of `s` (`s`'s
/// length when it is shorter). `str::floor_char_boundary`, which is not
/// stable yet.
pub fn boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub fn cut(mut s: String, max: usize) -> String {
    let end = boundary(&s, max);
    s.truncate(end);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries_only() {
        assert_eq!(cut("abc".into(), 5), "abc");
        assert_eq!(cut("abc".into(), 2), "ab");
        assert_eq!(cut("abc".into(), 0), "");
        // "é" is two bytes, "€" three: a cut inside one drops all of it.
        assert_eq!(cut("aé".into(), 2), "a");
        assert_eq!(cut("€€".into(), 5), "€");
        assert_eq!(boundary("€", 1), 0);
        assert_eq!(boundary("€x", 9), 4);
    }

    #[test]
    fn every_limit_gives_valid_text_within_it() {
        let s = "aé€😀b".repeat(3);
        for max in 0..=s.len() + 2 {
            let c = cut(s.clone(), max);
            assert!(c.len() <= max && s.starts_with(&c));
            // The longest such prefix: one more character would not fit.
            let next = s[c.len()..].chars().next().map_or(0, char::len_utf8);
            assert!(c.len() == s.len() || c.len() + next > max);
        }
    }
}
