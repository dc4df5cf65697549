//! Secrets that never reach logs, `Debug` output or error messages.
//!
//! Secrets are values, not text: every message of fence-rs is built without secret values
//! in it ([`Secret`] cannot be formatted, the parameter table marks secret options), so no
//! message of ours is ever scrubbed and a password equal to a word of our wording changes
//! nothing. Only text from outside (a device's message, a script's output, an echoed
//! input line) may hold a secret; it goes through [`scrub_outside`] where it comes in.

use std::fmt;

/// A password, BMC key (Kg) or session token.
///
/// `Debug` and `Display` print `[redacted]`; the only way to read the value is
/// [`Secret::expose`], which makes every use greppable.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send it to the device.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// What replaces a secret found in text from outside.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are replaced only where they stand as a word of their own (no
/// letter or digit on either side): replacing every `e` of a device's message would garble
/// it. Longer ones are replaced wherever they appear.
pub const WORD_ONLY_BELOW: usize = 4;

/// Removes the values of `secrets` from `text`, which came from outside (a device's
/// message, a script's stderr, an echoed input line): each occurrence becomes
/// [`REDACTED`], longest secret first. Secrets of fewer than [`WORD_ONLY_BELOW`] characters
/// are replaced only as whole words. Never apply it to our own wording: it holds no
/// secret, and a replaced word of it would tell the secret.
pub fn scrub_outside<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut secrets: Vec<&str> = secrets
        .into_iter()
        .map(|s| s.trim_end_matches(['\n', '\r']))
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut out = text.to_owned();
    for secret in secrets {
        if !out.contains(secret) {
            continue;
        }
        out = if secret.chars().count() >= WORD_ONLY_BELOW {
            out.replace(secret, REDACTED)
        } else {
            replace_words(&out, secret)
        };
    }
    out
}

/// Replaces the occurrences of `word` that have no letter or digit right before or after.
fn replace_words(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(word) {
        let prev = rest[..at].chars().next_back().or(before);
        let after = &rest[at + word.len()..];
        let next = after.chars().next();
        let alone =
            !prev.is_some_and(char::is_alphanumeric) && !next.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..at]);
        if alone {
            out.push_str(REDACTED);
            before = word.chars().next_back();
            rest = after;
        } else {
            // Step over one character of the match and look again.
            let step = rest[at..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[at..at + step]);
            before = rest[at..].chars().next();
            rest = &rest[at + step..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_loses_long_secrets_everywhere_and_short_ones_as_words() {
        assert_eq!(
            scrub_outside("pw=hunter2hunter2 x hunter2", ["hunter2", "hunter2hunter2"]),
            "pw=[redacted] x [redacted]"
        );
        assert_eq!(scrub_outside("nothing here", ["hunter2"]), "nothing here");
        // Short: only as a word of its own.
        assert_eq!(
            scrub_outside("the password 'ab' is wrong: ab", ["ab"]),
            "the password '[redacted]' is wrong: [redacted]"
        );
        assert_eq!(
            scrub_outside("absent, tab, cabs", ["ab"]),
            "absent, tab, cabs"
        );
        assert_eq!(scrub_outside("e", ["e"]), "[redacted]");
        assert_eq!(
            scrub_outside("Unauthorized", ["e", "a", "z"]),
            "Unauthorized"
        );
        assert_eq!(scrub_outside("x=é", ["é"]), "x=[redacted]");
        assert_eq!(scrub_outside("aab ab", ["ab"]), "aab [redacted]");
        // Empty secrets and trailing newlines (script output) are ignored.
        assert_eq!(scrub_outside("abc", ["", "abc\n"]), "[redacted]");
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
