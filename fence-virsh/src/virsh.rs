//! virsh command lines as fence_virsh sends them (`list --all`, `domstate`, `start`,
//! `destroy`), quoted for the host's POSIX shell, and what their output says.

use fence_core::Result;
use fence_ssh::Shell;

use crate::config::VirshConfig;
use crate::state::DomainState;

/// Builds virsh command lines for one host.
#[derive(Clone, Debug)]
pub(crate) struct Virsh {
    /// `LC_ALL=C [sudo] virsh [--connect URI]`, quoted.
    prefix: String,
}

impl Virsh {
    /// The prefix of every command; fails on a value that cannot be quoted (a NUL).
    pub(crate) fn new(config: &VirshConfig) -> Result<Virsh> {
        let q = |s: &str| Shell::Posix.quote(s);
        // The C locale: virsh translates the state words (virsh-domain-monitor.c: _()).
        let mut prefix = String::from("LC_ALL=C ");
        if let Some(sudo) = &config.sudo_path {
            // -n: never wait for a password prompt (sudo refuses at once instead).
            prefix.push_str(&q(sudo)?);
            prefix.push_str(" -n ");
        }
        prefix.push_str("virsh");
        if let Some(uri) = &config.uri {
            prefix.push_str(" --connect ");
            prefix.push_str(&q(uri)?);
        }
        Ok(Virsh { prefix })
    }

    /// `virsh list --all`.
    pub(crate) fn list(&self) -> String {
        format!("{} list --all", self.prefix)
    }

    /// `virsh domstate --domain DOMAIN` (a name or a UUID; `--domain` so that a plug such
    /// as `--help` is a domain name, not an option).
    pub(crate) fn domstate(&self, domain: &str) -> Result<String> {
        self.on_domain("domstate", domain)
    }

    /// `virsh start --force-boot --domain DOMAIN`: a fresh boot, never the resume of a
    /// managed-save image (which would bring back the fenced node's memory as it was).
    pub(crate) fn start(&self, domain: &str) -> Result<String> {
        self.on_domain("start --force-boot", domain)
    }

    /// `virsh destroy --domain DOMAIN`.
    pub(crate) fn destroy(&self, domain: &str) -> Result<String> {
        self.on_domain("destroy", domain)
    }

    fn on_domain(&self, command: &str, domain: &str) -> Result<String> {
        Ok(format!(
            "{} {command} --domain {}",
            self.prefix,
            Shell::Posix.quote(domain)?
        ))
    }
}

/// The domains of `virsh list --all`: the rows after the `Id Name State` header and its
/// rule, as (name, state). Rows virsh would not print (no known state at the end) are
/// skipped.
pub(crate) fn parse_list(stdout: &str) -> Vec<(String, DomainState)> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in stdout.lines() {
        if !in_table {
            let mut words = line.split_whitespace();
            in_table = words.next().is_some_and(|w| w.eq_ignore_ascii_case("id"))
                && words.next().is_some_and(|w| w.eq_ignore_ascii_case("name"));
            continue;
        }
        if line.trim().chars().all(|c| c == '-') {
            continue;
        }
        let Some((before, state)) = DomainState::at_end(line) else {
            continue;
        };
        // `Id` (a number or `-`), then the name, which may hold spaces.
        let before = before.trim();
        let Some((_id, name)) = before.split_once(char::is_whitespace) else {
            continue;
        };
        let name = name.trim();
        if !name.is_empty() {
            rows.push((name.to_owned(), state));
        }
    }
    rows
}

/// virsh's refusal of a domain it does not know: a line `error: failed to get domain '...'`
/// (virsh's own lookup, virsh-util.c) or `error: Domain not found` (libvirt's
/// VIR_ERR_NO_DOMAIN), at the start of a line of its error output.
pub(crate) fn is_no_domain(stderr: &str) -> bool {
    stderr.lines().map(str::trim_start).any(|l| {
        l.starts_with("error: failed to get domain '") || l.starts_with("error: Domain not found")
    })
}

/// A refusal that passes by itself: another operation holds the domain (libvirt's
/// "cannot acquire state change lock", VIR_ERR_OPERATION_TIMEOUT "Timed out during
/// operation"), or the hypervisor is busy.
pub(crate) fn is_transient(stderr: &str) -> bool {
    stderr.lines().map(str::trim_start).any(|l| {
        l.starts_with("error:")
            && (l.contains("cannot acquire state change lock")
                || l.contains("Timed out during operation"))
    })
}

/// virsh's message from a failed command: its `error:` lines, joined.
pub(crate) fn error_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim())
        .collect();
    if errors.is_empty() {
        lines.join(" ")
    } else {
        errors.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_ssh::SshTarget;

    #[test]
    fn commands_are_quoted_with_sudo_and_the_uri() {
        let v = Virsh::new(
            &VirshConfig::new(SshTarget::new("h", "u"))
                .sudo("/usr/bin/sudo")
                .uri("qemu:///system"),
        )
        .unwrap();
        assert_eq!(
            v.domstate("web; rm -rf /").unwrap(),
            "LC_ALL=C /usr/bin/sudo -n virsh --connect qemu:///system domstate --domain 'web; rm -rf /'"
        );
        let plain = Virsh::new(&VirshConfig::new(SshTarget::new("h", "u"))).unwrap();
        assert_eq!(plain.list(), "LC_ALL=C virsh list --all");
        assert_eq!(
            plain.destroy("a'b").unwrap(),
            r"LC_ALL=C virsh destroy --domain 'a'\''b'"
        );
        assert_eq!(
            plain.start("--help").unwrap(),
            "LC_ALL=C virsh start --force-boot --domain --help"
        );
        assert!(plain.start("a\0b").is_err());
    }

    #[test]
    fn the_list_table_is_read_with_names_that_hold_spaces() {
        let out = " Id   Name        State\n\
                   ------------------------------\n \
                   1    test        running\n \
                   -    web 01      shut off\n \
                   3    db          in shutdown\n \
                   -    sleepy      pmsuspended\n\n";
        assert_eq!(
            parse_list(out),
            vec![
                ("test".into(), DomainState::Running),
                ("web 01".into(), DomainState::ShutOff),
                ("db".into(), DomainState::InShutdown),
                ("sleepy".into(), DomainState::PmSuspended),
            ]
        );
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn errors_are_virshs_error_lines() {
        let e = "error: failed to get domain 'nope'\n";
        assert!(is_no_domain(e));
        assert!(!is_no_domain(
            "error: failed to start domain 'Domain not found x'\n"
        ));
        assert!(is_transient(
            "error: Timed out during operation: cannot acquire state change lock\n"
        ));
        assert!(!is_transient(e));
        assert_eq!(error_message(e), "failed to get domain 'nope'");
        assert_eq!(error_message("plain text\n"), "plain text");
    }
}
