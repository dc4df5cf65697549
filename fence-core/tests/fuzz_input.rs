//! Hostile input to fence-core's parsers, as property tests (bounded: `PROPTEST_CASES`,
//! default 256): `pcmk_host_map` in both Pacemaker generations, target lists, and the
//! number-of-seconds parser every timeout option goes through.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use fence_core::params::parse_seconds;
use fence_core::{HostMap, HostMapSyntax, parse_targets};
use proptest::prelude::*;

/// Regression (found by tests/tests/fuzz_cli.rs): a value beyond `Duration`'s range made
/// `power_timeout=18446744073709551616` panic in `Duration::from_secs_f64`.
#[test]
fn seconds_beyond_the_duration_range_are_refused_not_a_panic() {
    for v in [
        "18446744073709551616",
        "1e20",
        "1e300",
        "1.8446744073709552e19",
    ] {
        assert_eq!(parse_seconds(v), None, "{v}");
    }
    assert_eq!(
        parse_seconds("1e19"),
        Some(Duration::from_secs(10_000_000_000_000_000_000))
    );
    assert_eq!(parse_seconds(" 2.5 "), Some(Duration::from_millis(2500)));
    for v in ["-1", "NaN", "inf", "-0.5", "", "5s", "0x10"] {
        assert_eq!(parse_seconds(v), None, "{v}");
    }
}

proptest! {
    #![proptest_config(fence_core::testkit::proptest_support::config(256))]

    #[test]
    fn parse_seconds_never_panics(text in "\\PC{0,24}") {
        let _ = parse_seconds(&text);
    }

    #[test]
    fn parse_seconds_takes_every_float_or_refuses_it(v in any::<f64>()) {
        match parse_seconds(&v.to_string()) {
            Some(d) => prop_assert!(v >= 0.0 && (d.as_secs_f64() - v).abs() <= v * 1e-9 + 1e-9),
            None => prop_assert!(!v.is_finite() || !(0.0..1.8e19).contains(&v)),
        }
    }

    /// Well-formed maps mean the same in both generations: every name gets its port,
    /// whichever separators and case are used.
    #[test]
    fn well_formed_maps_round_trip(
        pairs in proptest::collection::btree_map("[a-z][a-z0-9_.-]{0,8}", "[A-Za-z0-9_.-]{1,6}", 1..6),
        colon in any::<bool>(),
        sep in prop_oneof![Just(";"), Just(" "), Just("\t"), Just("; ")],
        upper in any::<bool>(),
    ) {
        let text: Vec<String> = pairs
            .iter()
            .map(|(n, p)| format!("{n}{}{p}", if colon { ":" } else { "=" }))
            .collect();
        let text = text.join(sep);
        for syntax in [HostMapSyntax::Pacemaker2, HostMapSyntax::Pacemaker3] {
            let map = HostMap::parse(&text, syntax);
            prop_assert_eq!(map.len(), pairs.len(), "{:?} {:?}", syntax, text);
            prop_assert!(map.malformed().is_empty(), "{:?} {:?}", syntax, map.malformed());
            for (n, p) in &pairs {
                let key = if upper { n.to_ascii_uppercase() } else { n.clone() };
                prop_assert_eq!(map.port_for(&key), Some(p.as_str()), "{:?} {:?}", syntax, text);
            }
            let targets: BTreeMap<&str, ()> = map.targets().map(|t| (t, ())).collect();
            for p in pairs.values() {
                prop_assert!(targets.contains_key(p.as_str()));
            }
        }
    }

    /// A name that is not in the map never gets a port, whatever else the map holds.
    #[test]
    fn unmapped_names_get_no_port(text in "\\PC{0,40}", syntax in prop_oneof![
        Just(HostMapSyntax::Pacemaker2), Just(HostMapSyntax::Pacemaker3)
    ]) {
        let map = HostMap::parse(&text, syntax);
        prop_assert_eq!(map.port_for("zz-never-mapped-node-zz"), None::<&str>);
        prop_assert_eq!(map.contains("zz-never-mapped-node-zz"), text.to_ascii_lowercase().contains("zz-never-mapped-node-zz"));
    }

    /// Target lists keep only entries of `[A-Za-z0-9_.-]`, and every clean entry written
    /// into a list comes back.
    #[test]
    fn clean_target_lists_round_trip(
        names in proptest::collection::vec("[A-Za-z0-9_.-]{1,10}", 0..8),
        sep in prop_oneof![Just(","), Just(" "), Just(";"), Just("\n"), Just(", ")],
    ) {
        let text = names.join(sep);
        let expected: Vec<String> = names
            .iter()
            .filter(|n| !n.eq_ignore_ascii_case("on") && !n.eq_ignore_ascii_case("off"))
            .cloned()
            .collect();
        if text.contains("invalid") || text.contains("variable") {
            return Ok(());
        }
        prop_assert_eq!(parse_targets(&text), expected);
    }
}
