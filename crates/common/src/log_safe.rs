//! Untrusted text (a query parameter, a header, a form field) made safe to log: it stays on its
//! own line, cannot drive the reader's terminal, and is cut short. Log such a value as
//! `field = %log_safe::untrusted(value)`.

use std::fmt::{self, Write};

/// How many characters of an untrusted value are logged.
pub const MAX_CHARS: usize = 200;

/// `value`, displayed as it may be logged: see [`Untrusted`].
pub fn untrusted(value: &str) -> Untrusted<'_> {
    Untrusted(value)
}

/// Displays an untrusted value escaped and truncated: newlines, carriage returns and tabs as
/// `\n`, `\r`, `\t`; every other control character (ESC, BEL, DEL, the C1 range) and the Unicode
/// characters that break lines or reorder text (U+2028/9, bidirectional controls, BOM) as
/// `\u{…}`; a backslash doubled, so an escape in the log always means the value held that
/// character. At most [`MAX_CHARS`] characters are shown, then how many were left out.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(&'a str);

/// Characters a log line must not carry as they are.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' // left-to-right and right-to-left marks
                | '\u{2028}' | '\u{2029}' // line and paragraph separators
                | '\u{202a}'..='\u{202e}' // bidirectional embeddings and overrides
                | '\u{2066}'..='\u{2069}' // bidirectional isolates
                | '\u{feff}' // byte order mark
        )
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_CHARS) {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        let left_out = chars.count();
        if left_out > 0 {
            let unit = if left_out == 1 { "character" } else { "characters" };
            write!(f, "…[{left_out} more {unit}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(value: &str) -> String {
        untrusted(value).to_string()
    }

    #[test]
    fn ordinary_values_are_unchanged() {
        assert_eq!(shown("access_denied"), "access_denied");
        assert_eq!(
            shown("consent_required: the user said no"),
            "consent_required: the user said no"
        );
        assert_eq!(shown("Zürich — 5 km"), "Zürich — 5 km");
        assert_eq!(shown(""), "");
    }

    #[test]
    fn a_forged_line_and_terminal_sequences_stay_on_one_line() {
        let attack = "access_denied\n2026-12-02T09:00:00Z  INFO participant connected\r\x1b[2J\x1b]0;hi\x07\tx";
        let logged = shown(attack);
        assert_eq!(
            logged,
            "access_denied\\n2026-12-02T09:00:00Z  INFO participant connected\\r\\u{1b}[2J\\u{1b}]0;hi\\u{7}\\tx"
        );
        assert!(!logged.chars().any(|c| c.is_control()), "{logged:?}");
    }

    #[test]
    fn c1_controls_separators_and_bidi_overrides_are_escaped() {
        assert_eq!(shown("a\u{85}b\u{9b}c\u{7f}"), "a\\u{85}b\\u{9b}c\\u{7f}");
        assert_eq!(shown("x\u{2028}y\u{2029}z"), "x\\u{2028}y\\u{2029}z");
        assert_eq!(
            shown("user\u{202e}txt.exe\u{2066}\u{feff}"),
            "user\\u{202e}txt.exe\\u{2066}\\u{feff}"
        );
        assert_eq!(shown("\0"), "\\u{0}");
    }

    #[test]
    fn a_backslash_cannot_pass_for_an_escape() {
        assert_eq!(shown(r"a\nb"), r"a\\nb");
        assert_ne!(shown(r"a\nb"), shown("a\nb"));
    }

    #[test]
    fn long_values_are_cut_after_max_chars_and_say_so() {
        let long = "é".repeat(MAX_CHARS + 55);
        let logged = shown(&long);
        assert_eq!(logged, format!("{}…[55 more characters]", "é".repeat(MAX_CHARS)));
        assert_eq!(shown(&"a".repeat(MAX_CHARS)), "a".repeat(MAX_CHARS));
        // Escapes count as the one character they stand for.
        let newlines = "\n".repeat(MAX_CHARS + 1);
        assert_eq!(shown(&newlines), format!("{}…[1 more character]", "\\n".repeat(MAX_CHARS)));
    }

    #[test]
    fn debug_is_the_same_as_display() {
        assert_eq!(format!("{:?}", untrusted("a\nb")), "a\\nb");
    }
}
