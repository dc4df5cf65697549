//! The peers' libvirtd (tests/scripts/start-peers.sh), reached locally as fenceuser: the
//! judge of the virsh tests (libvirt's own `virsh domstate`, not through an agent), and
//! domains of its test driver made for one test.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{peer_path, peer_var};

/// fenceuser's home directory (its passwd entry).
pub fn fenceuser_home() -> PathBuf {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd
                .lines()
                .find_map(|l| l.strip_prefix("fenceuser:").map(str::to_owned))
        })
        .and_then(|rest| rest.split(':').nth(4).map(PathBuf::from))
        .unwrap_or_else(|| panic!("no user fenceuser: run tests/scripts/install-deps.sh"))
}

/// virsh as fenceuser against `uri` (`None`: the peers' libvirtd), in the C locale.
pub fn virsh_at(uri: Option<&str>, args: &[&str]) -> Output {
    let runtime = peer_path("LIBVIRT_RUNTIME");
    let uri = uri.map_or_else(|| peer_var("LIBVIRT_URI"), str::to_owned);
    std::process::Command::new("setpriv")
        .args([
            "--reuid=fenceuser",
            "--regid=fenceuser",
            "--init-groups",
            "--",
        ])
        .args(["env", "-i"])
        .arg(format!("HOME={}", fenceuser_home().display()))
        .args(["PATH=/usr/bin:/bin", "LC_ALL=C"])
        .arg(format!("XDG_RUNTIME_DIR={}", runtime.join("run").display()))
        .args(["virsh", "-c", &uri])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run virsh as fenceuser: {e}"))
}

/// virsh against the peers' libvirtd; panics with its error output when it fails.
pub fn virsh_ok(args: &[&str]) -> String {
    let out = virsh_at(None, args);
    assert!(
        out.status.success(),
        "virsh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The domain's state as libvirt reports it.
pub fn state(name: &str) -> String {
    virsh_ok(&["domstate", name])
}

/// A domain XML of the test driver named `name` (escaped), in a file fenceuser can read in
/// `dir`.
pub fn domain_file(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;");
    let xml = dir.join("domain.xml");
    std::fs::write(
        &xml,
        format!(
            "<domain type='test'><name>{escaped}</name><memory>8192</memory>\
             <os><type>hvm</type></os></domain>"
        ),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", xml.display()));
    for (path, mode) in [(dir, 0o755), (xml.as_path(), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    xml
}

/// A running domain of the peers' libvirtd, defined (`persistent`) or created (transient);
/// destroyed and undefined when dropped.
#[derive(Debug)]
pub struct Domain {
    /// Its name.
    pub name: String,
}

impl Domain {
    /// A persistent domain, defined and started, named `name`.
    pub fn defined(name: String, dir: &Path) -> Domain {
        let xml = domain_file(dir, &name);
        virsh_ok(&["define", &xml.display().to_string()]);
        virsh_ok(&["start", &name]);
        Domain { name }
    }

    /// A transient domain (`virsh create`): gone once destroyed.
    pub fn created(name: String, dir: &Path) -> Domain {
        let xml = domain_file(dir, &name);
        virsh_ok(&["create", &xml.display().to_string()]);
        Domain { name }
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = virsh_at(None, &["destroy", &self.name]);
        let _ = virsh_at(None, &["undefine", &self.name]);
    }
}
