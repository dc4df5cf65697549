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
            prefix.push_str(&q(sudo)?);
            prefix.push(' ');
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

    /// `virsh domstate DOMAIN` (a name or a UUID).
    pub(crate) fn domstate(&self, domain: &str) -> Result<String> {
        Ok(format!(
            "{} domstate {}",
            self.prefix,
            Shell::Posix.quote(domain)?
        ))
    }

    /// `virsh start DOMAIN`.
    pub(crate) fn start(&self, domain: &str) -> Result<String> {
        Ok(format!(
            "{} start {}",
            self.prefix,
            Shell::Posix.quote(domain)?
        ))
    }

    /// `virsh destroy DOMAIN`.
    pub(crate) fn destroy(&self, domain: &str) -> Result<String> {
        Ok(format!(
            "{} destroy {}",
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

/// virsh's refusal of a domain it does not know (`error: failed to get domain 'x'`,
/// libvirt's VIR_ERR_NO_DOMAIN: "Domain not found").
pub(crate) fn is_no_domain(stderr: &str) -> bool {
    stderr.contains("failed to get domain") || stderr.contains("Domain not found")
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
            "LC_ALL=C /usr/bin/sudo virsh --connect qemu:///system domstate 'web; rm -rf /'"
        );
        let plain = Virsh::new(&VirshConfig::new(SshTarget::new("h", "u"))).unwrap();
        assert_eq!(plain.list(), "LC_ALL=C virsh list --all");
        assert_eq!(
            plain.destroy("a'b").unwrap(),
            r"LC_ALL=C virsh destroy 'a'\''b'"
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
        assert_eq!(error_message(e), "failed to get domain 'nope'");
        assert_eq!(error_message("plain text\n"), "plain text");
    }
}
