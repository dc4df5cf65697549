//! Metadata of every agent name: valid against fence-agents' RelaxNG schema (as
//! `-o metadata`, `action=metadata` on stdin, `-o manpage`), and covering every parameter
//! (with its deprecated/obsoletes attribute, `required` and default) and every action of
//! the Python agent of the same name.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{AGENTS, ours, ours_stdin, python};

const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// One `<parameter>`: its attributes after the name, its content type and default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    required: String,
    relation: Option<String>,
    content_type: String,
    default: Option<String>,
}

fn attr(line: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

/// Parameters and actions of a metadata document (fence-agents' line layout).
fn parse(xml: &str) -> (BTreeMap<String, Param>, Vec<String>) {
    let mut params = BTreeMap::new();
    let mut actions = Vec::new();
    let mut current: Option<(String, Param)> = None;
    for line in xml.lines() {
        let t = line.trim_start();
        if t.starts_with("<parameter ") {
            let name = attr(t, "name").expect("parameter name");
            let relation = attr(t, "deprecated")
                .map(|v| format!("deprecated={v}"))
                .or_else(|| attr(t, "obsoletes").map(|v| format!("obsoletes={v}")));
            current = Some((
                name,
                Param {
                    required: attr(t, "required").expect("required"),
                    relation,
                    content_type: String::new(),
                    default: None,
                },
            ));
        } else if t.starts_with("<content ") {
            if let Some((_, p)) = current.as_mut() {
                p.content_type = attr(t, "type").expect("content type");
                p.default = attr(t, "default");
            }
        } else if t.starts_with("</parameter>") {
            if let Some((n, p)) = current.take() {
                params.insert(n, p);
            }
        } else if t.starts_with("<action ") {
            actions.push(attr(t, "name").expect("action name"));
        }
    }
    (params, actions)
}

/// Runs `program args` with `input` on stdin and collects its output; a missing program
/// fails the test with `install` (which package to install).
fn pipe_through(program: &str, args: &[&str], input: &str, install: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is missing ({e}): install {install}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect(program)
}

fn xmllint(xml: &str) -> (bool, String) {
    let out = pipe_through(
        "xmllint",
        &["--noout", "--relaxng", SCHEMA, "-"],
        xml,
        "libxml2-utils",
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_agent_metadata_and_manpage_validate_against_the_schema() {
    assert!(
        std::path::Path::new(SCHEMA).is_file(),
        "{SCHEMA} missing: install fence-agents"
    );
    for agent in AGENTS {
        for (how, run) in [
            ("-o metadata", ours(agent, &["-o", "metadata"])),
            ("action=metadata", ours_stdin(agent, "action=metadata\n")),
            ("action=meta-data", ours_stdin(agent, "action=meta-data\n")),
            ("-o manpage", ours(agent, &["-o", "manpage"])),
        ] {
            assert_eq!(run.code, 0, "{agent} {how}: {}", run.stderr);
            assert!(
                run.stderr.is_empty(),
                "{agent} {how} stderr: {}",
                run.stderr
            );
            assert!(
                run.stdout
                    .contains(&format!("<resource-agent name=\"{agent}\" ")),
                "{agent} {how}: wrong name"
            );
            let (ok, err) = xmllint(&run.stdout);
            assert!(ok, "{agent} {how} does not validate: {err}");
        }
    }
}

#[test]
fn every_agent_covers_the_python_agents_parameters_and_actions() {
    for agent in AGENTS {
        let py = python(agent, &["-o", "metadata"], None);
        assert_eq!(py.code, 0, "python {agent}: {}", py.stderr);
        let rs = ours(agent, &["-o", "metadata"]);
        assert_eq!(rs.code, 0, "{agent}: {}", rs.stderr);
        let (py_params, py_actions) = parse(&py.stdout);
        let (rs_params, rs_actions) = parse(&rs.stdout);
        assert!(py_params.len() > 20, "{agent}: python metadata not parsed");
        for (name, p) in &py_params {
            let Some(r) = rs_params.get(name) else {
                panic!("{agent}: parameter {name} of the Python agent is missing");
            };
            assert_eq!(
                r.relation, p.relation,
                "{agent}: {name} deprecated/obsoletes"
            );
            assert_eq!(r.required, p.required, "{agent}: {name} required");
            // fence-agents' own check ignores the content of *_path/*_file parameters.
            if !(name.ends_with("_path") || name.ends_with("_file")) {
                assert_eq!(r.content_type, p.content_type, "{agent}: {name} type");
                assert_eq!(r.default, p.default, "{agent}: {name} default");
            }
        }
        assert_eq!(rs_actions, py_actions, "{agent}: actions");
    }
}

#[test]
fn metadata_layout_details() {
    let rs = ours("fence_ipmilan", &["-o", "metadata"]);
    let x = &rs.stdout;
    assert!(x.starts_with("<?xml version=\"1.0\" ?>\n<resource-agent name=\"fence_ipmilan\" shortdesc=\"Fence agent for IPMI\" >\n<symlink name=\"fence_ilo3\" shortdesc=\"Fence agent for HP iLO3\"/>\n"));
    assert!(x.contains("\t<parameter name=\"ip\" unique=\"0\" required=\"0\" obsoletes=\"ipaddr\">\n\t\t<getopt mixed=\"-a, --ip=[ip]\" />\n\t\t<content type=\"string\"  />\n"));
    assert!(x.contains("\t\t<content type=\"select\" default=\"onoff\"  >\n\t\t\t<option value=\"onoff\" />\n\t\t\t<option value=\"cycle\" />\n\t\t</content>\n"));
    assert!(x.ends_with("\t<action name=\"diag\" />\n</actions>\n</resource-agent>\n"));
    // separator is not offered by port_as_ip agents; plug is optional there.
    assert!(!x.contains("name=\"separator\""));
    assert!(x.contains("<parameter name=\"plug\" unique=\"0\" required=\"0\" obsoletes=\"port\">"));
    // vbox: troff paragraph markup stripped in metadata, kept in manpage.
    let md = ours("fence_vbox", &["-o", "metadata"]).stdout;
    let man = ours("fence_vbox", &["-o", "manpage"]).stdout;
    assert!(md.contains("all of the work. \n\nBy default"), "{md}");
    assert!(man.contains("all of the work. \n.P\nBy default"), "{man}");
    // alias defaults
    let ilo3 = ours("fence_ilo3", &["-o", "metadata"]).stdout;
    let (p, _) = parse(&ilo3);
    assert_eq!(p["power_wait"].default.as_deref(), Some("4"));
    assert_eq!(p["lanplus"].default.as_deref(), Some("1"));
}

#[test]
fn metadata_reports_the_invoked_name_under_a_prefix() {
    let dir = common::temp_dir("meta-prefix");
    let link = dir.join("fence_rs_idrac");
    std::os::unix::fs::symlink(common::bin(), &link).expect("symlink");
    let out = Command::new(&link)
        .args(["-o", "metadata"])
        .output()
        .expect("run link");
    let xml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        xml.contains("<resource-agent name=\"fence_rs_idrac\" "),
        "{xml}"
    );
    assert!(xml.contains("<symlink name=\"fence_rs_ilo3\" "), "{xml}");
    assert!(xmllint(&xml).0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn manpage_renders_with_fence_agents_stylesheet() {
    // fence-agents builds its man pages with xsltproc and fence2man.xsl from -o manpage.
    let xsl = "/usr/share/cluster/relaxng/fence2man.xsl";
    for agent in AGENTS {
        let xml = ours(agent, &["-o", "manpage"]).stdout;
        let out = pipe_through("xsltproc", &[xsl, "-"], &xml, "xsltproc");
        let man = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{agent}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(man.contains(&format!("{agent} - ")), "{agent}: {man}");
        assert!(man.contains(".SH PARAMETERS"), "{agent}");
        assert!(
            man.contains(".B -n, --plug=["),
            "{agent}: plug missing from the man page"
        );
    }
}
