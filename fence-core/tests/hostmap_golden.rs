//! Golden tests for `pcmk_host_map` and target lists: every row of pacemaker.md 6.3 in both
//! parser generations (2.1.5 observed = `Pacemaker2`, 3.0.2+ derived = `Pacemaker3`), and
//! the target-list examples of 5.3 and 7.

// The tests sit in a module named `hostmap` so that `cargo test hostmap` selects them.
mod hostmap {
    use fence_core::hostmap::{can_fence_static, parse_targets};
    use fence_core::{HostMap, HostMapSyntax};

    use fence_core::HostMapSyntax::{Pacemaker2, Pacemaker3};

    /// What one column of a 6.3 row says about one map string.
    struct Expect<'a> {
        /// Node name → port Pacemaker sends (`None`: falls back to the node name).
        ports: &'a [(&'a str, Option<&'a str>)],
        /// The mapped ports appended to the static target list, in order.
        targets: &'a [&'a str],
        /// The pieces logged as malformed / parse errors.
        malformed: &'a [&'a str],
        /// Targets a static-list device with only this map can fence.
        fenceable: &'a [&'a str],
        /// Targets it cannot fence ("ENODEV" in the table).
        enodev: &'a [&'a str],
    }

    fn check(map: &str, syntax: HostMapSyntax, expect: Expect<'_>) {
        let parsed = HostMap::parse(map, syntax);
        for &(node, port) in expect.ports {
            assert_eq!(
                parsed.port_for(node),
                port,
                "{syntax:?} {map:?}: port for {node:?}"
            );
        }
        let targets: Vec<&str> = parsed.targets().collect();
        assert_eq!(targets, expect.targets, "{syntax:?} {map:?}: targets");
        assert_eq!(
            parsed.malformed(),
            expect.malformed,
            "{syntax:?} {map:?}: malformed"
        );
        for node in expect.fenceable {
            assert!(
                can_fence_static(node, &[], &parsed),
                "{syntax:?} {map:?}: {node:?} should be fenceable"
            );
        }
        for node in expect.enodev {
            assert!(
                !can_fence_static(node, &[], &parsed),
                "{syntax:?} {map:?}: {node:?} should not be fenceable"
            );
        }
    }

    #[test]
    fn c01_space_after_colon() {
        let map = "virt-a: 10";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", Some("")), ("10", None)],
                targets: &[""],
                malformed: &["10"],
                fenceable: &["virt-a"],
                enodev: &["10"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", None), ("10", None)],
                targets: &[],
                malformed: &["virt-a:", "10"],
                fenceable: &[],
                enodev: &["virt-a", "10"],
            },
        );
    }

    #[test]
    fn c02_two_colons() {
        let map = "virt-a:1:2";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", None), ("1", Some("2")), ("2", None)],
                targets: &["2"],
                malformed: &[],
                fenceable: &["1", "2"],
                enodev: &["virt-a"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some("1:2")), ("1", None)],
                targets: &["1:2"],
                malformed: &[],
                fenceable: &["virt-a", "1:2"],
                enodev: &["1", "2"],
            },
        );
    }

    #[test]
    fn c03_escaped_semicolon() {
        let map = r"virt-a:a\;b;virt-b:2";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", Some("a;b")), ("virt-b", Some("2"))],
                targets: &["a;b", "2"],
                malformed: &[],
                fenceable: &["virt-a", "virt-b", "a;b", "2"],
                enodev: &["b", "a"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some(r"a\")), ("virt-b", Some("2")), ("b", None)],
                targets: &[r"a\", "2"],
                malformed: &["b"],
                fenceable: &["virt-a", "virt-b"],
                enodev: &["b"],
            },
        );
    }

    #[test]
    fn c04_escaped_backslash() {
        let map = r"virt-a:a\\b";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", Some("ab"))],
                targets: &["ab"],
                malformed: &[],
                fenceable: &["virt-a", "ab"],
                enodev: &[r"a\\b", r"a\b"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some(r"a\\b"))],
                targets: &[r"a\\b"],
                malformed: &[],
                fenceable: &["virt-a", r"a\\b"],
                enodev: &["ab"],
            },
        );
    }

    #[test]
    fn c05_name_without_port() {
        let map = "virt-a";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", None)],
                targets: &[],
                malformed: &["virt-a"],
                fenceable: &[],
                enodev: &["virt-a"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", None)],
                targets: &[],
                malformed: &["virt-a"],
                fenceable: &[],
                enodev: &["virt-a"],
            },
        );
    }

    #[test]
    fn c06_comma_is_not_a_separator() {
        let map = "virt-a:10,virt-b:20";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[
                    ("virt-a", None),
                    ("virt-b", None),
                    ("10,virt-b", Some("20")),
                ],
                targets: &["20"],
                malformed: &[],
                fenceable: &["10,virt-b", "20"],
                enodev: &["virt-a", "virt-b", "10"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some("10,virt-b:20")), ("virt-b", None)],
                targets: &["10,virt-b:20"],
                malformed: &[],
                fenceable: &["virt-a"],
                enodev: &["virt-b", "10"],
            },
        );
    }

    #[test]
    fn c07_duplicate_last_wins() {
        let map = "virt-a:1;virt-a:2";
        for syntax in [Pacemaker2, Pacemaker3] {
            check(
                map,
                syntax,
                Expect {
                    ports: &[("virt-a", Some("2"))],
                    targets: &["1", "2"],
                    malformed: &[],
                    fenceable: &["virt-a", "1", "2"],
                    enodev: &["virt-b"],
                },
            );
            assert_eq!(HostMap::parse(map, syntax).len(), 1);
        }
    }

    #[test]
    fn c08_newline_is_ordinary() {
        let map = "virt-a:1\nvirt-b:2";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", None), ("virt-b", None), ("1\nvirt-b", Some("2"))],
                targets: &["2"],
                malformed: &[],
                fenceable: &["2"],
                enodev: &["virt-a", "virt-b"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some("1\nvirt-b:2")), ("virt-b", None)],
                targets: &["1\nvirt-b:2"],
                malformed: &[],
                fenceable: &["virt-a"],
                enodev: &["virt-b"],
            },
        );
    }

    #[test]
    fn c09_trailing_backslash() {
        let map = r"virt-a:10\";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", None)],
                targets: &[],
                malformed: &[],
                fenceable: &[],
                enodev: &["virt-a", "10"],
            },
        );
        assert!(HostMap::parse(map, Pacemaker2).is_empty());
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some(r"10\"))],
                targets: &[r"10\"],
                malformed: &[],
                fenceable: &["virt-a"],
                enodev: &["10"],
            },
        );
    }

    #[test]
    fn c10_empty_port() {
        let map = "virt-a:";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", Some(""))],
                targets: &[""],
                malformed: &[],
                fenceable: &["virt-a"],
                enodev: &["virt-b"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", None)],
                targets: &[],
                malformed: &["virt-a:"],
                fenceable: &[],
                enodev: &["virt-a"],
            },
        );
    }

    #[test]
    fn c11_port_joins_target_list() {
        let map = "virt-a:virt-q";
        for syntax in [Pacemaker2, Pacemaker3] {
            check(
                map,
                syntax,
                Expect {
                    ports: &[("virt-a", Some("virt-q")), ("virt-q", None)],
                    targets: &["virt-q"],
                    malformed: &[],
                    fenceable: &["virt-a", "virt-q", "VIRT-Q"],
                    enodev: &["virt-b"],
                },
            );
        }
    }

    #[test]
    fn c12_surrounding_spaces() {
        let map = "  virt-a:10  ";
        for syntax in [Pacemaker2, Pacemaker3] {
            check(
                map,
                syntax,
                Expect {
                    ports: &[("virt-a", Some("10"))],
                    targets: &["10"],
                    malformed: &[],
                    fenceable: &["virt-a", "10"],
                    enodev: &["virt-b"],
                },
            );
        }
    }

    #[test]
    fn c13_mixed_separators() {
        let map = "virt-a:10;;virt-b:20\tvirt-c:30";
        for syntax in [Pacemaker2, Pacemaker3] {
            check(
                map,
                syntax,
                Expect {
                    ports: &[
                        ("virt-a", Some("10")),
                        ("virt-b", Some("20")),
                        ("virt-c", Some("30")),
                    ],
                    targets: &["10", "20", "30"],
                    malformed: &[],
                    fenceable: &["virt-a", "virt-b", "virt-c", "20"],
                    enodev: &["virt-d"],
                },
            );
            assert_eq!(HostMap::parse(map, syntax).len(), 3);
        }
    }

    #[test]
    fn c14_equals_after_colon() {
        let map = "virt-a:x=y";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("virt-a", None), ("x", Some("y"))],
                targets: &["y"],
                malformed: &[],
                fenceable: &["x", "y"],
                enodev: &["virt-a"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[("virt-a", Some("x=y")), ("x", None)],
                targets: &["x=y"],
                malformed: &[],
                fenceable: &["virt-a"],
                enodev: &["x", "y"],
            },
        );
    }

    #[test]
    fn c15_escaped_colon_in_name() {
        let map = r"vi\:rt:5";
        check(
            map,
            Pacemaker2,
            Expect {
                ports: &[("vi:rt", None), (r"vi\:rt", Some("5")), ("vi", None)],
                targets: &["5"],
                malformed: &[],
                fenceable: &[r"vi\:rt", "5"],
                enodev: &["vi:rt", "vi"],
            },
        );
        check(
            map,
            Pacemaker3,
            Expect {
                ports: &[(r"vi\", Some("rt:5")), (r"vi\:rt", None), ("vi:rt", None)],
                targets: &["rt:5"],
                malformed: &[],
                fenceable: &[r"vi\"],
                enodev: &["vi:rt", r"vi\:rt"],
            },
        );
    }

    #[test]
    fn docs_example_comma_port_is_one_string() {
        let map = "node1:1;node2:2,3";
        for syntax in [Pacemaker2, Pacemaker3] {
            check(
                map,
                syntax,
                Expect {
                    ports: &[("node1", Some("1")), ("node2", Some("2,3"))],
                    targets: &["1", "2,3"],
                    malformed: &[],
                    fenceable: &["node1", "node2"],
                    enodev: &["2", "3"],
                },
            );
        }
    }

    #[test]
    fn lookup_is_ascii_case_insensitive() {
        for syntax in [Pacemaker2, Pacemaker3] {
            let map = HostMap::parse("virt-a:10", syntax);
            assert_eq!(map.port_for("VIRT-A"), Some("10"), "{syntax:?}");
            assert_eq!(map.port_for("Virt-A"), Some("10"), "{syntax:?}");
            assert!(can_fence_static("VIRT-A", &[], &map), "{syntax:?}");

            // Only ASCII folds, as with g_ascii_tolower/strcasecmp.
            let map = HostMap::parse("ÄRGER:1;straße:2", syntax);
            assert_eq!(map.port_for("ÄRGER"), Some("1"), "{syntax:?}");
            assert_eq!(map.port_for("äRGER"), None, "{syntax:?}");
            assert_eq!(map.port_for("ärger"), None, "{syntax:?}");
            assert_eq!(map.port_for("STRAßE"), Some("2"), "{syntax:?}");
            assert_eq!(map.port_for("STRASSE"), None, "{syntax:?}");
        }
    }

    #[test]
    fn list_output_example() {
        let output = "vm:1\nMixed.Case\non\nnode/2\ninvalid-node\nhost_x y\n";
        assert_eq!(
            parse_targets(output),
            ["vm", "Mixed.Case", "node", "host_x", "y"]
        );
        let host_list = parse_targets(output);
        for node in ["vm", "mixed.case", "MIXED.CASE", "node", "host_x", "y"] {
            assert!(
                can_fence_static(node, &host_list, &HostMap::default()),
                "{node}"
            );
        }
        for node in ["vm:1", "on", "node/2", "invalid-node", "1", "2"] {
            assert!(
                !can_fence_static(node, &host_list, &HostMap::default()),
                "{node}"
            );
        }
    }

    #[test]
    fn host_list_example_with_literal_backslash_n() {
        let host_list = parse_targets(r"a:b c@d,e\nf;g");
        assert_eq!(host_list, ["a", "c", "e", "f", "g"]);
        let empty = HostMap::default();
        for node in ["a", "c", "e", "f", "g"] {
            assert!(can_fence_static(node, &host_list, &empty), "{node}");
        }
        for node in ["a:b", "c@d", "b", "d", r"e\nf"] {
            assert!(!can_fence_static(node, &host_list, &empty), "{node}");
        }
    }

    #[test]
    fn host_list_and_map_together() {
        // pacemaker.md 7: list virt-l1 + map virt-a:10.
        let host_list = parse_targets("virt-l1");
        for syntax in [Pacemaker2, Pacemaker3] {
            let map = HostMap::parse("virt-a:10", syntax);
            assert!(can_fence_static("virt-l1", &host_list, &map));
            assert_eq!(map.port_for("virt-l1"), None);
            assert!(can_fence_static("virt-a", &host_list, &map));
            assert!(can_fence_static("10", &host_list, &map));
            assert!(!can_fence_static("virt-b", &host_list, &map));
        }
    }

    #[test]
    fn targets_lines_and_filters() {
        assert_eq!(parse_targets(""), Vec::<String>::new());
        assert_eq!(parse_targets("ON Off oN,x"), ["x"]);
        assert_eq!(
            parse_targets("a,b;c\td\re\u{0b}f\u{0c}g"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
        // "invalid"/"variable" are matched case-sensitively and skip the whole line only.
        assert_eq!(parse_targets("x invalid y\nz"), ["z"]);
        assert_eq!(parse_targets(r"unknown variable\nok"), ["ok"]);
        assert_eq!(parse_targets("Invalid Variable"), ["Invalid", "Variable"]);
        // fence-agents' "port,alias" lines: both become targets.
        assert_eq!(
            parse_targets("1,vm-one\n2,vm-two\n"),
            ["1", "vm-one", "2", "vm-two"]
        );
        // Entries starting outside the allowed set are dropped, others truncated.
        assert_eq!(parse_targets("@x é y:z ok-1.2_3"), ["y", "ok-1.2_3"]);
        // A backslash not followed by n is part of the entry, so it cuts it.
        assert_eq!(parse_targets(r"a\b \\n c"), ["a", "c"]);
        // Pacemaker reads a C string: nothing after a NUL.
        assert_eq!(parse_targets("a\0b"), ["a"]);
    }
}
