//! fence-core stays free of network, TLS and SSH stacks (design.md: "fence-core must not pull
//! in reqwest, rustls, ssh2 or a UDP stack"); the Redfish backend stays free of OpenSSL.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn normal_tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn crate_names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn fence_core_has_no_network_tls_or_ssh_dependency() {
    let tree = normal_tree("fence-core");
    let names = crate_names(&tree);
    assert!(
        names.contains(&"tokio"),
        "sanity: the tree lists dependencies:\n{tree}"
    );
    for banned in [
        "reqwest",
        "rustls",
        "ssh2",
        "libssh2-sys",
        "openssl",
        "openssl-sys",
        "hyper",
        "native-tls",
    ] {
        assert!(
            !names.contains(&banned),
            "fence-core depends on {banned}:\n{tree}"
        );
    }
}

#[test]
fn fence_redfish_uses_rustls_and_no_openssl() {
    let tree = normal_tree("fence-redfish");
    let names = crate_names(&tree);
    assert!(
        names.contains(&"rustls"),
        "fence-redfish should use rustls:\n{tree}"
    );
    for banned in ["openssl", "openssl-sys", "native-tls", "aws-lc-sys"] {
        assert!(
            !names.contains(&banned),
            "fence-redfish depends on {banned}:\n{tree}"
        );
    }
}
