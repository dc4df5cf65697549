//! `pcmk_host_map` and `pcmk_host_list` exactly as Pacemaker parses them.
//!
//! Pacemaker's fencer turns a device's `pcmk_host_map` into a case-insensitive table from
//! node name to *port* (the value sent to the agent as `port=`/`plug=`), and appends every
//! mapped port to the device's static target list. Two parser generations are in use:
//!
//! - [`HostMapSyntax::Pacemaker2`] (2.1.2 to 3.0.1, e.g. Debian 12's 2.1.5): a character
//!   scanner. `:`/`=` end a name, `;`, space, tab and the end of the string end a port, and
//!   `\` makes the next character ordinary. Its quirks are reproduced on purpose: names are
//!   kept with their backslashes while ports lose all of theirs, a name may map to an empty
//!   port, `a:b:c` maps `b` (not `a`), and a trailing backslash loses the last mapping.
//! - [`HostMapSyntax::Pacemaker3`] (3.0.2 and later): trim ASCII whitespace, split on `;`,
//!   space and tab, then split each piece at its first `:` or `=`. No escapes; a piece with
//!   an empty name or an empty or missing port is malformed and skipped.
//!
//! Both generations: lookups fold ASCII case only (like glib's `g_ascii_tolower` and
//! `strcasecmp`), the port is passed verbatim (a comma is not a port list), and the last
//! duplicate name wins.
//!
//! Pacemaker reads C strings, so everything from the first NUL character on is ignored here
//! too.
//!
//! [`parse_targets`] reproduces the target-list syntax shared by `pcmk_host_list` and the
//! output of an agent's `list` action, and [`can_fence_static`] the `static-list` check.

use std::collections::HashMap;

/// Which generation of Pacemaker's `pcmk_host_map` parser to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostMapSyntax {
    /// Pacemaker 2.1.2 to 3.0.1: a character scanner with backslash escapes.
    Pacemaker2,
    /// Pacemaker 3.0.2 and later: split on `;`, space and tab, then at the first `:` or `=`.
    Pacemaker3,
}

/// A parsed `pcmk_host_map`: node name (ASCII case-insensitive) to port.
///
/// Besides the table it keeps what Pacemaker derives from the same string: the list of
/// mapped ports added to the static target list ([`HostMap::targets`]) and the pieces it
/// rejected ([`HostMap::malformed`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostMap {
    /// `(name, port)` in the order each name (case-folded) was first mapped.
    entries: Vec<(String, String)>,
    /// ASCII-lowercased name to its position in `entries`.
    index: HashMap<String, usize>,
    /// Every port in the order it was mapped, duplicates included.
    targets: Vec<String>,
    /// Pieces Pacemaker logs as malformed (3.0.2+) or as a parse error (2.1.2 to 3.0.1).
    malformed: Vec<String>,
}

/// How a repeated name (compared case-insensitively) is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Duplicate {
    /// `g_hash_table_replace` (2.1.x): the new spelling of the name replaces the old one.
    ReplaceKey,
    /// `g_hash_table_insert` (3.0.2+): the first spelling of the name is kept.
    KeepKey,
}

impl HostMap {
    /// Parses `map` as the chosen Pacemaker generation does. Never fails.
    ///
    /// Whatever Pacemaker would ignore with a log message is ignored here and listed by
    /// [`HostMap::malformed`].
    pub fn parse(map: &str, syntax: HostMapSyntax) -> HostMap {
        let map = until_nul(map);
        match syntax {
            HostMapSyntax::Pacemaker2 => parse_scanner(map),
            HostMapSyntax::Pacemaker3 => parse_split(map),
        }
    }

    /// The port for `node`, or `None` where Pacemaker falls back to the node name.
    ///
    /// The lookup folds ASCII case only. A name mapped to an empty port (possible with
    /// [`HostMapSyntax::Pacemaker2`]) gives `Some("")`: Pacemaker then sends an empty `port=`.
    pub fn port_for(&self, node: &str) -> Option<&str> {
        self.index
            .get(&node.to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
            .map(|(_, port)| port.as_str())
    }

    /// Whether the map has an entry for `node` (ASCII case-insensitive).
    pub fn contains(&self, node: &str) -> bool {
        self.port_for(node).is_some()
    }

    /// The mapped ports, in mapping order and with duplicates, as Pacemaker appends them to
    /// the device's static target list (after the names of `pcmk_host_list`).
    pub fn targets(&self) -> impl Iterator<Item = &str> + '_ {
        self.targets.iter().map(String::as_str)
    }

    /// The pieces Pacemaker would reject with a log message: `Malformed mapping '<piece>'`
    /// (3.0.2+) or `Parse error at offset …` for a token without a name (2.1.2 to 3.0.1).
    pub fn malformed(&self) -> &[String] {
        &self.malformed
    }

    /// The `(name, port)` entries, in the order each name was first mapped.
    ///
    /// For a name mapped more than once, the port is the last one; the name is spelled as
    /// in its last mapping for [`HostMapSyntax::Pacemaker2`] and as in its first mapping for
    /// [`HostMapSyntax::Pacemaker3`], as Pacemaker's hash tables keep it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|(name, port)| (name.as_str(), port.as_str()))
    }

    /// The number of distinct (case-insensitive) names mapped.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no name is mapped (Pacemaker logs `No host mappings detected` for 2.1.x).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stores `name → port` and appends `port` to the target list.
    fn insert(&mut self, name: &str, port: String, duplicate: Duplicate) {
        self.targets.push(port.clone());
        let key = name.to_ascii_lowercase();
        match self.index.get(&key).and_then(|&i| self.entries.get_mut(i)) {
            Some(entry) => {
                if duplicate == Duplicate::ReplaceKey {
                    entry.0 = name.to_owned();
                }
                entry.1 = port;
            }
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push((name.to_owned(), port));
            }
        }
    }
}

/// The part of `text` a C string would hold: everything before the first NUL.
fn until_nul(text: &str) -> &str {
    text.split('\0').next().unwrap_or_default()
}

/// The 2.1.2 to 3.0.1 character scanner (`build_port_aliases` with backslash escapes).
///
/// Every boundary it slices at is an ASCII byte (or the end), so the slices are valid.
fn parse_scanner(map: &str) -> HostMap {
    let bytes = map.as_bytes();
    let mut result = HostMap::default();
    let mut name: Option<&str> = None;
    let mut start = 0;
    let mut pos = 0;
    while pos <= bytes.len() {
        match bytes.get(pos).copied() {
            Some(b'\\') => {
                // The escaped byte is jumped over; a backslash at the very end jumps over
                // the terminator, so the pending mapping is never stored.
                pos += 2;
                continue;
            }
            Some(b':' | b'=') => {
                let token = &map[start..pos];
                if !token.is_empty() {
                    name = Some(token);
                }
                start = pos + 1;
            }
            None | Some(b';' | b' ' | b'\t') => {
                let token = &map[start..pos];
                match name.take() {
                    Some(name) => result.insert(name, unescape(token), Duplicate::ReplaceKey),
                    None if !token.is_empty() => result.malformed.push(token.to_owned()),
                    None => {}
                }
                start = pos + 1;
            }
            Some(_) => {}
        }
        pos += 1;
    }
    result
}

/// A 2.1.x port: the token with every backslash deleted.
fn unescape(token: &str) -> String {
    token.chars().filter(|&c| c != '\\').collect()
}

/// ASCII whitespace as C's `isspace` (C locale) and glib's `g_ascii_isspace` see it:
/// unlike [`char::is_ascii_whitespace`], it includes the vertical tab.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}')
}

/// The 3.0.2+ split-based parser.
fn parse_split(map: &str) -> HostMap {
    let mut result = HostMap::default();
    let pieces = map
        .trim_matches(is_c_space)
        .split([';', ' ', '\t'])
        .filter(|piece| !piece.is_empty());
    for piece in pieces {
        match piece.split_once([':', '=']) {
            Some((name, port)) if !name.is_empty() && !port.is_empty() => {
                result.insert(name, port.to_owned(), Duplicate::KeepKey);
            }
            _ => result.malformed.push(piece.to_owned()),
        }
    }
    result
}

/// Parses a target list as Pacemaker does for `pcmk_host_list` and for the output of an
/// agent's `list` action (`stonith__parse_targets`, unchanged from 2.1 to 3.x).
///
/// - Lines end at a newline or at the two characters `\` `n`; a line containing `invalid`
///   or `variable` (case-sensitive) anywhere is skipped.
/// - Entries are separated by any mix of ASCII whitespace, `,` and `;`.
/// - Each entry is cut at its first character outside `[A-Za-z0-9_.-]`; an entry that
///   starts with such a character is dropped.
/// - Entries equal to `on` or `off` (ASCII case-insensitive) are dropped.
///
/// So `vm:1` gives `vm`, `node/2` gives `node`, and `host_x y` gives `host_x` and `y`.
pub fn parse_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in target_lines(until_nul(text)) {
        if line.contains("invalid") || line.contains("variable") {
            continue;
        }
        targets.extend(line_entries(line));
    }
    targets
}

/// Splits at `\n` and at the two characters backslash-`n`.
fn target_lines(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split('\n').flat_map(|line| line.split("\\n"))
}

/// The entries of one target-list line.
fn line_entries(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| is_c_space(c) || c == ',' || c == ';')
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let end = entry
                .find(|c: char| !is_target_char(c))
                .unwrap_or(entry.len());
            let name = &entry[..end];
            let keep = !name.is_empty()
                && !name.eq_ignore_ascii_case("on")
                && !name.eq_ignore_ascii_case("off");
            keep.then(|| name.to_owned())
        })
}

/// The characters a target name may hold in a target list: `[A-Za-z0-9_.-]`.
fn is_target_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Whether a `static-list` device can fence `node` (`can_fence_host_with_device`).
///
/// `host_list` is the parsed `pcmk_host_list` (see [`parse_targets`]). The node is
/// eligible when it equals a listed name or a mapped port of `map` (Pacemaker appends the
/// ports to the target list), or when `map` has an entry for it; all comparisons fold ASCII
/// case only.
pub fn can_fence_static(node: &str, host_list: &[String], map: &HostMap) -> bool {
    host_list
        .iter()
        .map(String::as_str)
        .chain(map.targets())
        .any(|target| target.eq_ignore_ascii_case(node))
        || map.contains(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use HostMapSyntax::{Pacemaker2, Pacemaker3};

    fn entries(map: &HostMap) -> Vec<(&str, &str)> {
        map.iter().collect()
    }

    #[test]
    fn duplicate_spelling_follows_the_hash_table_call() {
        let map = "VIRT-A:1;virt-a:2;virt-b:3";
        // 2.1.x uses g_hash_table_replace: the last spelling is kept.
        let p2 = HostMap::parse(map, Pacemaker2);
        assert_eq!(entries(&p2), [("virt-a", "2"), ("virt-b", "3")]);
        // 3.0.2+ uses g_hash_table_insert: the first spelling is kept.
        let p3 = HostMap::parse(map, Pacemaker3);
        assert_eq!(entries(&p3), [("VIRT-A", "2"), ("virt-b", "3")]);
        for parsed in [&p2, &p3] {
            assert_eq!(parsed.len(), 2);
            assert_eq!(parsed.targets().collect::<Vec<_>>(), ["1", "2", "3"]);
            assert_eq!(parsed.port_for("Virt-A"), Some("2"));
        }
    }

    #[test]
    fn scanner_colon_with_empty_token_keeps_the_name() {
        let parsed = HostMap::parse("a::b;c=:d;e:=", Pacemaker2);
        assert_eq!(entries(&parsed), [("a", "b"), ("c", "d"), ("e", "")]);
        assert!(parsed.malformed().is_empty());
    }

    #[test]
    fn scanner_escaped_separator_glues_tokens() {
        // The escaped space does not end the port, so `b\ c` becomes the next name.
        let parsed = HostMap::parse(r"a:b\ c:d", Pacemaker2);
        assert_eq!(entries(&parsed), [(r"b\ c", "d")]);
        assert_eq!(parsed.port_for("a"), None);
    }

    #[test]
    fn scanner_trailing_backslash_loses_only_the_last_mapping() {
        let parsed = HostMap::parse(r"a:1 b:2\", Pacemaker2);
        assert_eq!(entries(&parsed), [("a", "1")]);
        assert_eq!(parsed.targets().collect::<Vec<_>>(), ["1"]);
        // An escaped character before the end is fine.
        let parsed = HostMap::parse(r"a:1 b:2\x", Pacemaker2);
        assert_eq!(parsed.port_for("b"), Some("2x"));
    }

    #[test]
    fn scanner_reports_tokens_without_a_name() {
        let parsed = HostMap::parse("x y a:1 z", Pacemaker2);
        assert_eq!(parsed.malformed(), ["x", "y", "z"]);
        assert_eq!(entries(&parsed), [("a", "1")]);
    }

    #[test]
    fn scanner_handles_multibyte_characters() {
        let parsed = HostMap::parse(r"nœud:pört\é;ü\", Pacemaker2);
        assert_eq!(parsed.port_for("NŒUD"), None);
        assert_eq!(parsed.port_for("nœud"), Some("pörté"));
        assert_eq!(parsed.malformed(), Vec::<String>::new());
    }

    #[test]
    fn split_trims_glib_whitespace_only_at_the_ends() {
        let parsed = HostMap::parse("\u{0b}\u{0c}\r\n a:1\n;b:2 \t\u{0b}", Pacemaker3);
        assert_eq!(entries(&parsed), [("a", "1\n"), ("b", "2")]);
        let parsed = HostMap::parse("\na:1\n", Pacemaker3);
        assert_eq!(entries(&parsed), [("a", "1")]);
    }

    #[test]
    fn split_skips_malformed_pieces_and_goes_on() {
        let parsed = HostMap::parse(":1 a: =2 b c=3 d:4", Pacemaker3);
        assert_eq!(parsed.malformed(), [":1", "a:", "=2", "b"]);
        assert_eq!(entries(&parsed), [("c", "3"), ("d", "4")]);
    }

    #[test]
    fn empty_maps() {
        for syntax in [Pacemaker2, Pacemaker3] {
            for text in ["", " ", ";;", "\t ;"] {
                let parsed = HostMap::parse(text, syntax);
                assert!(parsed.is_empty(), "{syntax:?} {text:?}");
                assert_eq!(parsed.len(), 0);
                assert!(parsed.malformed().is_empty());
                assert_eq!(parsed.targets().count(), 0);
            }
        }
    }

    #[test]
    fn nul_ends_the_map() {
        for syntax in [Pacemaker2, Pacemaker3] {
            let parsed = HostMap::parse("a:1\0b:2", syntax);
            assert_eq!(entries(&parsed), [("a", "1")], "{syntax:?}");
        }
    }

    fn syntax() -> impl Strategy<Value = HostMapSyntax> {
        prop_oneof![Just(Pacemaker2), Just(Pacemaker3)]
    }

    proptest! {
        #![proptest_config(crate::testkit::proptest_support::config(256))]

        #[test]
        fn parse_never_panics(text in any::<String>(), syntax in syntax()) {
            let parsed = HostMap::parse(&text, syntax);
            prop_assert_eq!(parsed.len(), parsed.iter().count());
            prop_assert!(parsed.targets().count() >= parsed.len());
            for (name, port) in parsed.iter() {
                prop_assert_eq!(parsed.port_for(name), Some(port));
                prop_assert_eq!(parsed.port_for(&name.to_ascii_uppercase()), Some(port));
            }
        }

        #[test]
        fn parse_never_panics_on_map_like_text(
            text in r"[a-c:=;\\ \t\n,é]{0,24}",
            syntax in syntax(),
        ) {
            let parsed = HostMap::parse(&text, syntax);
            prop_assert_eq!(parsed.len(), parsed.iter().count());
        }

        #[test]
        fn modern_names_and_ports_are_clean(text in r"[a-c:=;\\ \t\n\r]{0,24}|\PC{0,40}") {
            let parsed = HostMap::parse(&text, Pacemaker3);
            for (name, port) in parsed.iter() {
                prop_assert!(!name.is_empty());
                prop_assert!(!port.is_empty());
                prop_assert!(!name.contains([';', ' ', '\t', ':', '=']), "{:?}", name);
                prop_assert!(!port.contains([';', ' ', '\t']), "{:?}", port);
            }
            for piece in parsed.malformed() {
                prop_assert!(!piece.is_empty());
                prop_assert!(!piece.contains([';', ' ', '\t']));
            }
        }

        #[test]
        fn targets_are_clean(text in any::<String>()) {
            for target in parse_targets(&text) {
                prop_assert!(!target.is_empty());
                prop_assert!(target.chars().all(is_target_char), "{:?}", target);
                prop_assert!(!target.eq_ignore_ascii_case("on"));
                prop_assert!(!target.eq_ignore_ascii_case("off"));
            }
        }
    }
}
