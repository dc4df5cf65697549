//! Where and how to log in: the host, the credentials, the address family, the bounds, the
//! host key policy; built from the SSH parameters every fence-agents SSH agent has.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fence_core::params::Options;
use fence_core::params::common;
use fence_core::{Error, InputProblem, Result, Secret};

/// The bound used where fence-agents would wait forever (`login_timeout=0`,
/// `shell_timeout=0`, as `disable_timeout` sets them): every network call stays bounded.
pub const ZERO_TIMEOUT_CAP: Duration = Duration::from_secs(60);

/// What to do with the SSH host key (`ssh_host_key_check`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// A known host must present its recorded key (a changed key is refused); the key of
    /// an unknown host is recorded in the known_hosts file and accepted, like OpenSSH's
    /// `StrictHostKeyChecking=accept-new`. The default.
    #[default]
    AcceptNew,
    /// The host must already be in the known_hosts file with the key it presents.
    Strict,
    /// No check at all (anyone who can intercept the connection can impersonate the host
    /// and learn the password).
    Off,
}

impl HostKeyCheck {
    /// Parses `accept-new`, `strict` or `off` (case-insensitively).
    pub fn parse(value: &str) -> Result<HostKeyCheck> {
        match value.to_ascii_lowercase().as_str() {
            "accept-new" => Ok(HostKeyCheck::AcceptNew),
            "strict" => Ok(HostKeyCheck::Strict),
            "off" => Ok(HostKeyCheck::Off),
            _ => Err(Error::input(
                common::SSH_HOST_KEY_CHECK.name,
                InputProblem::NotAChoice {
                    choices: ["accept-new", "strict", "off"].map(String::from).to_vec(),
                    given: Some(value.to_owned()),
                },
            )),
        }
    }
}

/// Which address families to connect over (`inet4_only`, `inet6_only`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// Every address the name resolves to, in the resolver's order.
    #[default]
    Any,
    /// IPv4 addresses only.
    V4,
    /// IPv6 addresses only.
    V6,
}

/// The SSH rows of a fence-agents SSH agent, as fence-ssh serves them: connection and login
/// (`ip`, `ipport` 22, `username`, `password`, `password_script`, `identity_file`,
/// `inet4_only`, `inet6_only`), the compatibility-only rows of an agent that drove OpenSSH
/// through an interactive shell (`command_prompt`, `ssh`, `ssh_options` with `ssh_options`'s
/// default as given, `ssh_path`; all marked unused), fence-rs' host key rows, and sudo
/// (`use_sudo`, `sudo_path`). A backend adds `plug` and its own rows.
pub fn params(ssh_options_default: &'static str) -> Vec<fence_core::params::ParamSpec> {
    vec![
        common::IP,
        common::IPPORT.default_value("22"),
        common::USERNAME,
        common::PASSWORD,
        common::PASSWORD_SCRIPT,
        common::COMMAND_PROMPT,
        common::IDENTITY_FILE,
        common::INET4_ONLY,
        common::INET6_ONLY,
        common::SSH.unused("the agent always uses SSH"),
        common::SSH_OPTIONS.default_value(ssh_options_default).unused(
            "SSH is spoken by the built-in client (libssh2), not by the ssh program, and no interactive shell is started",
        ),
        common::SSH_PATH
            .unused("SSH is spoken by the built-in client (libssh2); no ssh program is run"),
        common::SSH_KNOWN_HOSTS_FILE,
        common::SSH_HOST_KEY_CHECK,
        common::USE_SUDO,
        common::SUDO_PATH,
    ]
}

/// The path of `sudo` on the host when the host tool runs through sudo (`use_sudo`, with
/// `sudo_path`, default `/usr/bin/sudo`); `None` without `use_sudo`.
pub fn sudo_path(options: &Options) -> Option<String> {
    options.flag(common::USE_SUDO.name).then(|| {
        options
            .non_empty(common::SUDO_PATH.name)
            .unwrap_or("/usr/bin/sudo")
            .to_owned()
    })
}

/// How to reach one SSH host and log in.
///
/// Build it from fence-agents options with [`SshTarget::from_options`], or with
/// [`SshTarget::new`] and the builder methods. `Debug` never shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct SshTarget {
    /// Host name or address (`ip`), without brackets.
    pub host: String,
    /// SSH port (`ipport`, 22).
    pub port: u16,
    /// Login name (`username`).
    pub username: String,
    /// Password, or the passphrase of `identity_file` (`password`).
    pub password: Option<Secret>,
    /// Private key for key login (`identity_file`).
    pub identity_file: Option<PathBuf>,
    /// Address families to use (`inet4_only`, `inet6_only`).
    pub ip_family: IpFamily,
    /// Bound on name resolution, TCP connect, SSH handshake and authentication together
    /// (`login_timeout`, 5 s).
    pub login_timeout: Duration,
    /// Bound on each remote command (`shell_timeout`, 3 s).
    pub shell_timeout: Duration,
    /// The host key policy (`ssh_host_key_check`).
    pub host_key_check: HostKeyCheck,
    /// The known_hosts file (`ssh_known_hosts_file`); `None` means
    /// `~/.ssh/known_hosts` of the user running the agent.
    pub known_hosts_file: Option<PathBuf>,
}

impl fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("identity_file", &self.identity_file)
            .field("ip_family", &self.ip_family)
            .field("login_timeout", &self.login_timeout)
            .field("shell_timeout", &self.shell_timeout)
            .field("host_key_check", &self.host_key_check)
            .field("known_hosts_file", &self.known_hosts_file)
            .finish()
    }
}

impl SshTarget {
    /// `host` on port 22 as `username`, with fence-agents' default bounds (5 s to log in,
    /// 3 s per command) and `accept-new` host keys. Add a password or key with
    /// [`SshTarget::password`] / [`SshTarget::identity_file`].
    pub fn new(host: impl Into<String>, username: impl Into<String>) -> Self {
        SshTarget {
            host: strip_brackets(&host.into()).to_owned(),
            port: 22,
            username: username.into(),
            password: None,
            identity_file: None,
            ip_family: IpFamily::Any,
            login_timeout: Duration::from_secs(5),
            shell_timeout: Duration::from_secs(3),
            host_key_check: HostKeyCheck::AcceptNew,
            known_hosts_file: None,
        }
    }

    /// Sets the SSH port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the password (or the passphrase of the identity file).
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Logs in with this private key (its passphrase is the password, if any).
    pub fn identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity_file = Some(path.into());
        self
    }

    /// Sets the login and command timeouts.
    pub fn timeouts(mut self, login: Duration, shell: Duration) -> Self {
        self.login_timeout = login;
        self.shell_timeout = shell;
        self
    }

    /// Sets the host key policy.
    pub fn host_key_check(mut self, check: HostKeyCheck) -> Self {
        self.host_key_check = check;
        self
    }

    /// Uses this known_hosts file instead of `~/.ssh/known_hosts`.
    pub fn known_hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts_file = Some(path.into());
        self
    }

    /// Builds the target from fence-agents options (`ip`, `ipport`, `username`, `password`,
    /// `identity_file`, `inet4_only`, `inet6_only`, `login_timeout`, `shell_timeout`,
    /// `ssh_host_key_check`, `ssh_known_hosts_file`). Fails with [`Error::InvalidInput`]
    /// naming the option and what is wrong with it. The only I/O is a check that
    /// `identity_file` exists.
    pub fn from_options(options: &Options) -> Result<SshTarget> {
        let host = options
            .non_empty(common::IP.name)
            .map(|h| strip_brackets(h.trim()).to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::missing(common::IP.name))?;
        let port = match options.integer(common::IPPORT.name)? {
            None => 22,
            Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::invalid_input(format!(
                    "The value you have entered for --ipport is not a valid port number: {p}"
                ))
            })?,
        };
        let username = options
            .non_empty(common::USERNAME.name)
            .ok_or_else(|| Error::missing(common::USERNAME.name))?
            .to_owned();
        let password = options
            .secret(common::PASSWORD.name)
            .filter(|s| !s.is_empty());
        let identity_file = options
            .non_empty(common::IDENTITY_FILE.name)
            .map(expand_tilde);
        if let Some(key) = &identity_file {
            if !key.is_file() {
                return Err(Error::invalid_input(format!(
                    "Identity file {} does not exist or is not a file",
                    key.display()
                )));
            }
        } else if password.is_none() {
            return Err(Error::missing(common::PASSWORD.name));
        }
        let ip_family = match (
            options.flag(common::INET4_ONLY.name),
            options.flag(common::INET6_ONLY.name),
        ) {
            (true, true) => {
                return Err(Error::invalid_input(
                    "--inet4-only and --inet6-only exclude each other",
                ));
            }
            (true, false) => IpFamily::V4,
            (false, true) => IpFamily::V6,
            (false, false) => IpFamily::Any,
        };
        let login_timeout = bounded(options.seconds(common::LOGIN_TIMEOUT.name)?, 5);
        let shell_timeout = bounded(options.seconds(common::SHELL_TIMEOUT.name)?, 3);
        let host_key_check = HostKeyCheck::parse(
            options
                .get(common::SSH_HOST_KEY_CHECK.name)
                .unwrap_or("accept-new"),
        )?;
        let known_hosts_file = options
            .non_empty(common::SSH_KNOWN_HOSTS_FILE.name)
            .map(expand_tilde);
        Ok(SshTarget {
            host,
            port,
            username,
            password,
            identity_file,
            ip_family,
            login_timeout,
            shell_timeout,
            host_key_check,
            known_hosts_file,
        })
    }

    /// `host:port` (`[v6]:port`) for messages and logs.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The known_hosts file to use: the configured one, or `~/.ssh/known_hosts` of the user
    /// running the agent (`$HOME`, else the home directory in `/etc/passwd`).
    pub fn known_hosts_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.known_hosts_file {
            return Ok(p.clone());
        }
        home_dir()
            .map(|h| h.join(".ssh").join("known_hosts"))
            .ok_or_else(|| {
                Error::invalid_input(
                    "cannot find the home directory for ~/.ssh/known_hosts; set ssh_known_hosts_file",
                )
            })
    }
}

/// A timeout option: its value, the default when unset, [`ZERO_TIMEOUT_CAP`] for 0.
fn bounded(value: Option<Duration>, default_secs: u64) -> Duration {
    match value {
        None => Duration::from_secs(default_secs),
        Some(d) if d.is_zero() => ZERO_TIMEOUT_CAP,
        Some(d) => d,
    }
}

/// `~/x` as the home directory's `x` (OpenSSH expands `-i ~/.ssh/id_rsa` this way, so
/// fence_vbox configurations may use it); other paths as they are.
fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The running user's home: `$HOME`, else the passwd entry of the process's real uid.
fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string(Path::new("/etc/passwd")).ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2] == uid).then(|| PathBuf::from(fields[5]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::params::{ParamTable, common};

    fn target(pairs: &[(&str, &str)]) -> Result<SshTarget> {
        let rows = [
            common::IP,
            common::IPPORT,
            common::USERNAME,
            common::PASSWORD,
            common::IDENTITY_FILE,
            common::INET4_ONLY,
            common::INET6_ONLY,
            common::SSH_KNOWN_HOSTS_FILE,
            common::SSH_HOST_KEY_CHECK,
        ];
        let options = ParamTable::new()
            .with(&common::every_agent())
            .with(&rows)
            .parse(pairs.iter().copied())
            .unwrap();
        SshTarget::from_options(&options)
    }

    #[test]
    fn defaults_follow_fence_agents() {
        let t = target(&[("ip", "h.example"), ("username", "u"), ("password", "p")]).unwrap();
        assert_eq!(t.port, 22);
        assert_eq!(t.login_timeout, Duration::from_secs(5));
        assert_eq!(t.shell_timeout, Duration::from_secs(3));
        assert_eq!(t.host_key_check, HostKeyCheck::AcceptNew);
        assert_eq!(t.address(), "h.example:22");
        let v6 = target(&[
            ("ip", "[::1]"),
            ("ipport", "2222"),
            ("inet6_only", "1"),
            ("username", "u"),
            ("password", "p"),
            ("login_timeout", "0"),
        ])
        .unwrap();
        assert_eq!(v6.address(), "[::1]:2222");
        assert_eq!(v6.ip_family, IpFamily::V6);
        assert_eq!(v6.login_timeout, ZERO_TIMEOUT_CAP);
    }

    #[test]
    fn missing_values_are_refused_with_fence_agents_messages() {
        let err = |pairs: &[(&str, &str)]| target(pairs).unwrap_err().to_string();
        assert_eq!(
            err(&[("username", "u"), ("password", "p")]),
            "ip is required"
        );
        assert_eq!(
            err(&[("ip", "h"), ("username", "u")]),
            "password is required"
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let shown = format!("{:?}", SshTarget::new("h", "u").password("hunter2"));
        assert!(
            !shown.contains("hunter2") && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}
