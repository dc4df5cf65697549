//! The layering, checked on the sources:
//! - fence-cli's logic names no backend: apart from src/main.rs (the binary that registers
//!   the built-in families), no source file mentions a backend crate, an agent name or a
//!   family outside comments and `#[cfg(test)]` items. Everything backend-specific comes
//!   from the registered `AgentFamily` descriptors.
//! - the library crates (fence-core and the backends) hold no CLI wording: no `Failed:` or
//!   `Parse error:` line and no pointer to `-h` in their logic. They say what went wrong as
//!   data (`fence_core::Error`, `InputProblem`); fence-cli's `wording` module words it.

use std::path::Path;

/// Words that would mean the library branches on a backend.
const FORBIDDEN: &[&str] = &[
    "fence_ipmi",
    "fence_redfish",
    "fence_vbox",
    "fence_virsh",
    "ipmilan",
    "fence_ilo",
    "fence_imm",
    "fence_idrac",
    "Family::",
    "Ipmi",
    "Redfish",
    "Vbox",
    "VirtualBox",
    "Virsh",
    "libvirt",
];

/// `source` without comments and without the items marked `#[cfg(test)]` (a block up to
/// its closing brace, or a statement up to its `;`).
fn logic(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim() == "#[cfg(test)]" {
            let mut depth = 0i32;
            let mut opened = false;
            for skipped in lines.by_ref() {
                let code = skipped.split("//").next().unwrap_or("");
                for c in code.chars() {
                    match c {
                        '{' | '[' | '(' => {
                            depth += 1;
                            opened |= c == '{';
                        }
                        '}' | ']' | ')' => depth -= 1,
                        _ => {}
                    }
                }
                let ends_statement = depth == 0 && code.trim_end().ends_with(';');
                if (opened && depth == 0) || ends_statement {
                    break;
                }
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

#[test]
fn the_library_names_no_backend() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("main.rs") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).expect("read");
        for (n, line) in logic(&text).lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    found.push(format!("{}: {word}: {}", path.display(), line.trim()));
                    let _ = n;
                }
            }
        }
    }
    assert!(files >= 10, "only {files} source files read");
    assert!(
        found.is_empty(),
        "backend names in fence-cli's logic:\n{}",
        found.join("\n")
    );
}

/// The start of a string literal that would be CLI wording.
const CLI_WORDING: &[&str] = &["\"Failed:", "\"Parse error", "Please use '-h'"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_library_crates_hold_no_cli_wording() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in [
        "fence-core",
        "fence-ipmi-proto",
        "fence-ipmi",
        "fence-redfish",
        "fence-vbox",
    ] {
        rust_files(&root.join(krate).join("src"), &mut files);
    }
    assert!(files.len() >= 30, "only {} source files found", files.len());
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        for line in logic(&text).lines() {
            for word in CLI_WORDING {
                if line.contains(word) {
                    found.push(format!("{}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "CLI wording in the library crates:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_filter_keeps_logic_and_drops_comments_and_test_items() {
    let text = "fn a() { x(); } // fence_vbox\n#[cfg(test)]\nregister(&[\n    &fence_ipmi::AGENTS,\n]);\nfn b() {}\n#[cfg(test)]\nmod tests {\n    fn c() { fence_vbox(); }\n}\nfn d() { Redfish }\n";
    let kept = logic(text);
    assert!(kept.contains("fn a()") && kept.contains("fn b()") && kept.contains("fn d()"));
    assert!(
        !kept.contains("fence_vbox") && !kept.contains("fence_ipmi"),
        "{kept}"
    );
    assert!(kept.contains("Redfish"));
}
