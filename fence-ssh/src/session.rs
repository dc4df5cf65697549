//! The blocking SSH client (libssh2 through `ssh2`): login with bounded time, host key
//! check against known_hosts, one exec channel per command.
//!
//! Everything here blocks; the device calls it from tokio's blocking pool only.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fence_core::error::seconds_text;
use fence_core::{Error, Result};
use ssh2::{CheckResult, ErrorCode, HashType, KnownHostFileKind, KnownHosts, MethodType, Session};

use crate::base64;
use crate::target::{HostKeyCheck, IpFamily, SshTarget};

/// The most output kept from one command; the rest is read and dropped.
const MAX_OUTPUT: usize = 4 << 20;

// libssh2 error codes (libssh2.h).
const LIBSSH2_ERROR_SOCKET_SEND: i32 = -7;
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const LIBSSH2_ERROR_SOCKET_DISCONNECT: i32 = -13;
const LIBSSH2_ERROR_PASSWORD_EXPIRED: i32 = -15;
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
const LIBSSH2_ERROR_SOCKET_TIMEOUT: i32 = -30;
const LIBSSH2_ERROR_SOCKET_RECV: i32 = -43;
const LIBSSH2_ERROR_KEYFILE_AUTH_FAILED: i32 = -48;
const LIBSSH2_ERROR_KEX_FAILURE: i32 = -5;
const LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE: i32 = -8;

/// What one remote command did.
#[derive(Debug)]
pub struct Output {
    /// The exit status (`-1` when the command was killed by a signal).
    pub status: i32,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

/// One logged-in SSH session.
pub struct SshSession {
    sess: Session,
    address: String,
    shell_timeout: Duration,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession")
            .field("address", &self.address)
            .field("shell_timeout", &self.shell_timeout)
            .finish_non_exhaustive()
    }
}

/// libssh2's timeout for the close of a channel or session given up after a failure.
const ABANDON_TIMEOUT_MS: u32 = 200;

/// The longest wait libssh2 can be given (its timeout is a `u32` of milliseconds, about
/// 49 days); longer timeouts are cut to it.
const LONGEST_WAIT: Duration = Duration::from_millis(u32::MAX as u64);

/// The instant `timeout` from now, for any timeout: one beyond the clock's range
/// (`login_timeout=10000000000000000000`) is cut to [`LONGEST_WAIT`] instead of
/// overflowing (a panic).
fn deadline_after(timeout: Duration) -> Instant {
    Instant::now() + timeout.min(LONGEST_WAIT)
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

fn code(e: &ssh2::Error) -> Option<i32> {
    match e.code() {
        ErrorCode::Session(c) => Some(c),
        ErrorCode::SFTP(_) => None,
    }
}

fn is_transport(c: Option<i32>) -> bool {
    matches!(
        c,
        Some(
            LIBSSH2_ERROR_SOCKET_SEND
                | LIBSSH2_ERROR_SOCKET_DISCONNECT
                | LIBSSH2_ERROR_SOCKET_TIMEOUT
                | LIBSSH2_ERROR_SOCKET_RECV
        )
    )
}

/// Resolves the host within the time left, honouring `inet4_only` / `inet6_only`.
fn resolve(cfg: &SshTarget, address: &str, deadline: Instant) -> Result<Vec<SocketAddr>> {
    let all = if let Ok(ip) = cfg.host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, cfg.port)]
    } else {
        let (tx, rx) = mpsc::channel();
        let host = cfg.host.clone();
        let port = cfg.port;
        std::thread::Builder::new()
            .name("fence-ssh-resolve".into())
            .spawn(move || {
                let r = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<_>>());
                let _ = tx.send(r);
            })
            .map_err(|e| Error::unreachable_with(format!("{address}: cannot resolve"), e))?;
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(e)) => {
                return Err(Error::unreachable_with(
                    format!("{address}: cannot resolve {}: {e}", cfg.host),
                    e,
                ));
            }
            Err(_) => {
                return Err(Error::unreachable(format!(
                    "{address}: name not resolved within {} (login_timeout)",
                    seconds_text(cfg.login_timeout)
                )));
            }
        }
    };
    let wanted: Vec<SocketAddr> = all
        .into_iter()
        .filter(|a| match cfg.ip_family {
            IpFamily::Any => true,
            IpFamily::V4 => a.is_ipv4(),
            IpFamily::V6 => a.is_ipv6(),
        })
        .collect();
    if wanted.is_empty() {
        return Err(Error::unreachable(format!(
            "{address}: no address of the wanted family ({:?})",
            cfg.ip_family
        )));
    }
    Ok(wanted)
}

fn tcp_connect(cfg: &SshTarget, address: &str, deadline: Instant) -> Result<TcpStream> {
    let addrs = resolve(cfg, address, deadline)?;
    let mut last: Option<std::io::Error> = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last = Some(e);
            }
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Error::unreachable_with(format!("{address}: connection refused"), e)
        }
        Some(e) if e.kind() != std::io::ErrorKind::TimedOut => {
            Error::unreachable_with(format!("{address}: cannot connect: {e}"), e)
        }
        _ => Error::unreachable(format!(
            "{address}: no answer within {} (login_timeout)",
            seconds_text(cfg.login_timeout)
        )),
    })
}

impl SshSession {
    /// Connects, checks the host key and logs in, all within `login_timeout`.
    pub fn connect(cfg: &SshTarget) -> Result<SshSession> {
        let address = cfg.address();
        let started = Instant::now();
        let deadline = deadline_after(cfg.login_timeout);
        let tcp = tcp_connect(cfg, &address, deadline)?;
        let mut sess = Session::new()
            .map_err(|e| Error::misbehaved(format!("{address}: cannot start libssh2: {e}")))?;
        sess.set_tcp_stream(tcp);
        sess.set_timeout(millis(deadline.saturating_duration_since(Instant::now())));

        let known = match cfg.host_key_check {
            HostKeyCheck::Off => None,
            _ => Some(KnownHostsFile::load(&sess, cfg)?),
        };
        let restricted = match &known {
            Some(k) => k.prefer_recorded_types(&sess, cfg),
            None => None,
        };
        if let Err(e) = sess.handshake() {
            return Err(match code(&e) {
                Some(LIBSSH2_ERROR_TIMEOUT) => Error::unreachable(format!(
                    "{address}: no SSH handshake within {} (login_timeout)",
                    seconds_text(cfg.login_timeout)
                )),
                Some(LIBSSH2_ERROR_KEX_FAILURE | LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE)
                    if restricted.is_some() =>
                {
                    Error::login_refused(format!(
                        "{address}: host key changed: the host offers none of the key types recorded for it ({}) in {}",
                        restricted.unwrap_or_default(),
                        known
                            .as_ref()
                            .map(|k| k.path.display().to_string())
                            .unwrap_or_default()
                    ))
                }
                c if is_transport(c) => Error::unreachable_with(
                    format!("{address}: connection lost during the SSH handshake"),
                    e,
                ),
                _ => Error::misbehaved(format!("{address}: SSH handshake failed: {e}")),
            });
        }
        match &known {
            Some(k) => k.check(&sess, cfg, &address)?,
            None => tracing::warn!(%address, "SSH host key not checked (ssh_host_key_check=off)"),
        }
        sess.set_timeout(millis(deadline.saturating_duration_since(Instant::now())));
        authenticate(&sess, cfg, &address)?;
        tracing::debug!(%address, user = %cfg.username, elapsed = ?started.elapsed(), "SSH login done");
        Ok(SshSession {
            sess,
            address,
            shell_timeout: cfg.shell_timeout,
        })
    }

    /// Runs one command on its own channel, within `shell_timeout`. An `Err` means the
    /// session is no longer usable (timeout, connection lost); a command that fails on the
    /// host is an `Ok` with its exit status.
    ///
    /// The bound is `bounds` times `shell_timeout` (1 for every command line but a batch).
    /// `shown` is the command as messages name it.
    pub fn exec(&self, command: &str, bounds: usize, shown: &str) -> Result<Output> {
        let n = u32::try_from(bounds.max(1)).unwrap_or(u32::MAX);
        let timeout = self.shell_timeout.saturating_mul(n);
        let deadline = deadline_after(timeout);
        let timed_out = || {
            self.abandon();
            let per = if n == 1 {
                String::new()
            } else {
                format!(" for {n} commands")
            };
            Error::unreachable(format!(
                "{}: `{shown}` did not finish within {} (shell_timeout{per})",
                self.address,
                seconds_text(timeout)
            ))
        };
        let fail = |what: &str, e: ssh2::Error| {
            if code(&e) == Some(LIBSSH2_ERROR_TIMEOUT) {
                timed_out()
            } else {
                self.abandon();
                Error::unreachable_with(format!("{}: {what}: {e}", self.address), e)
            }
        };
        self.arm(deadline);
        let mut channel = self
            .sess
            .channel_session()
            .map_err(|e| fail("cannot open an SSH channel", e))?;
        channel
            .exec(command)
            .map_err(|e| fail("the host refused to run a command", e))?;
        let stdout = self.read_stream(&mut channel, deadline, &timed_out)?;
        let stderr = self.read_stream(&mut channel.stderr(), deadline, &timed_out)?;
        self.arm(deadline);
        channel
            .wait_close()
            .map_err(|e| fail("channel not closed", e))?;
        let mut status = channel
            .exit_status()
            .map_err(|e| fail("no exit status", e))?;
        if let Ok(sig) = channel.exit_signal() {
            if let Some(name) = sig.exit_signal {
                tracing::debug!(%command, signal = %name, "remote command killed by a signal");
                status = -1;
            }
        }
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// After a failed command the channel and then the session are dropped, and libssh2
    /// waits for their close with the last timeout set (the whole `shell_timeout` again,
    /// twice): keep those waits short (libssh2 counts whole seconds, so about 1 s each).
    fn abandon(&self) {
        self.sess.set_timeout(ABANDON_TIMEOUT_MS);
    }

    /// Sets libssh2's per-call timeout to the time left.
    fn arm(&self, deadline: Instant) {
        self.sess
            .set_timeout(millis(deadline.saturating_duration_since(Instant::now())));
    }

    fn read_stream(
        &self,
        stream: &mut impl Read,
        deadline: Instant,
        timed_out: &dyn Fn() -> Error,
    ) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            self.arm(deadline);
            match stream.read(&mut buf) {
                Ok(0) => return Ok(data),
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(data.len());
                    data.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(timed_out()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::unreachable_with(
                        format!("{}: reading command output failed: {e}", self.address),
                        e,
                    ));
                }
            }
        }
    }

    /// Says goodbye to the server (best effort, bounded by one second).
    pub fn disconnect(self) {
        self.sess.set_timeout(1000);
        let _ = self.sess.disconnect(None, "fence-rs: done", None);
    }
}

/// Answers every keyboard-interactive prompt with the password.
struct PasswordPrompt<'a>(&'a str);

impl ssh2::KeyboardInteractivePrompt for PasswordPrompt<'_> {
    fn prompt<'p>(
        &mut self,
        _username: &str,
        _instructions: &str,
        prompts: &[ssh2::Prompt<'p>],
    ) -> Vec<String> {
        prompts.iter().map(|_| self.0.to_owned()).collect()
    }
}

fn authenticate(sess: &Session, cfg: &SshTarget, address: &str) -> Result<()> {
    let user = cfg.username.as_str();
    let timeout = || {
        Error::unreachable(format!(
            "{address}: login not finished within {} (login_timeout)",
            seconds_text(cfg.login_timeout)
        ))
    };
    let map = |e: ssh2::Error, how: &str| match code(&e) {
        Some(LIBSSH2_ERROR_TIMEOUT) => timeout(),
        Some(LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) => {
            Error::login_refused(format!("{address}: {how} login as {user} refused"))
        }
        Some(LIBSSH2_ERROR_PASSWORD_EXPIRED) => {
            Error::login_refused(format!("{address}: the password of {user} has expired"))
        }
        Some(LIBSSH2_ERROR_FILE | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED) => {
            Error::login_refused(format!(
                "{address}: cannot use identity file {}: {} (wrong or missing passphrase, or an unsupported key format)",
                cfg.identity_file
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                e.message()
            ))
        }
        c if is_transport(c) => {
            Error::unreachable_with(format!("{address}: connection lost during login"), e)
        }
        _ => Error::login_refused(format!("{address}: {how} login as {user} failed: {e}")),
    };
    if let Some(key) = &cfg.identity_file {
        let passphrase = cfg.password.as_ref().map(|p| p.expose());
        sess.userauth_pubkey_file(user, None, key, passphrase)
            .map_err(|e| map(e, "key"))?;
    } else {
        let password = cfg
            .password
            .as_ref()
            .ok_or_else(|| Error::missing(fence_core::params::common::PASSWORD.name))?;
        let methods = match sess.auth_methods(user) {
            Ok(m) => m.to_owned(),
            Err(_) if sess.authenticated() => return Ok(()),
            Err(e) => return Err(map(e, "password")),
        };
        let offered = |m: &str| methods.split(',').any(|x| x == m);
        if offered("password") {
            sess.userauth_password(user, password.expose())
                .map_err(|e| map(e, "password"))?;
        } else if offered("keyboard-interactive") {
            sess.userauth_keyboard_interactive(user, &mut PasswordPrompt(password.expose()))
                .map_err(|e| map(e, "keyboard-interactive"))?;
        } else {
            return Err(Error::login_refused(format!(
                "{address}: the server offers no password login (it offers: {methods})"
            )));
        }
    }
    if sess.authenticated() {
        Ok(())
    } else {
        Err(Error::login_refused(format!(
            "{address}: login as {user} refused"
        )))
    }
}

/// The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...).
fn blob_key_type(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

/// The host key algorithms that produce keys of this type.
fn algorithms_for(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "ssh-ed25519" => &["ssh-ed25519"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        "ssh-dss" => &["ssh-dss"],
        _ => &[],
    }
}

/// The known_hosts file of this run, read line by line (lines libssh2 cannot parse, such
/// as `@cert-authority` or security-key types, are skipped; `@revoked` keys are kept apart
/// and refused).
struct KnownHostsFile {
    path: std::path::PathBuf,
    hosts: KnownHosts,
    revoked: Vec<Vec<u8>>,
}

impl KnownHostsFile {
    fn load(sess: &Session, cfg: &SshTarget) -> Result<KnownHostsFile> {
        let path = cfg.known_hosts_path()?;
        let mut hosts = sess
            .known_hosts()
            .map_err(|e| Error::misbehaved(format!("cannot set up the known_hosts check: {e}")))?;
        let mut revoked = Vec::new();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(Error::invalid_input(format!(
                    "cannot read known_hosts file {}: {e}",
                    path.display()
                )));
            }
        };
        let mut skipped = 0usize;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("@revoked") {
                if let Some(blob) = rest.split_whitespace().nth(2).and_then(base64::decode) {
                    revoked.push(blob);
                }
                continue;
            }
            if line.starts_with('@') || hosts.read_str(line, KnownHostFileKind::OpenSSH).is_err() {
                skipped += 1;
            }
        }
        if skipped > 0 {
            tracing::debug!(file = %path.display(), skipped, "known_hosts lines not understood");
        }
        Ok(KnownHostsFile {
            path,
            hosts,
            revoked,
        })
    }

    /// The key types recorded for this host, as host key algorithms; when there are any,
    /// the handshake is limited to them (as OpenSSH does), so that a host cannot dodge its
    /// recorded key by offering another type. Returns the list when it was applied.
    fn prefer_recorded_types(&self, sess: &Session, cfg: &SshTarget) -> Option<String> {
        let entries = self.hosts.hosts().ok()?;
        let mut types: Vec<String> = Vec::new();
        for entry in entries {
            let Some(blob) = base64::decode(entry.key()) else {
                continue;
            };
            let Some(kt) = blob_key_type(&blob) else {
                continue;
            };
            if matches!(
                self.hosts.check_port(&cfg.host, cfg.port, &blob),
                CheckResult::Match
            ) && !types.contains(&kt)
            {
                types.push(kt);
            }
        }
        let supported = sess.supported_algs(MethodType::HostKey).ok()?;
        let algs: Vec<&str> = supported
            .into_iter()
            .filter(|alg| types.iter().any(|t| algorithms_for(t).contains(alg)))
            .collect();
        if algs.is_empty() {
            return None;
        }
        let prefs = algs.join(",");
        match sess.method_pref(MethodType::HostKey, &prefs) {
            Ok(()) => Some(prefs),
            Err(e) => {
                tracing::debug!(error = %e, "cannot restrict host key algorithms");
                None
            }
        }
    }

    fn check(&self, sess: &Session, cfg: &SshTarget, address: &str) -> Result<()> {
        let (key, _) = sess
            .host_key()
            .ok_or_else(|| Error::misbehaved(format!("{address}: the host sent no host key")))?;
        let key_type = blob_key_type(key).unwrap_or_else(|| "unknown".into());
        let fingerprint = sess
            .host_key_hash(HashType::Sha256)
            .map(|h| format!("SHA256:{}", base64::encode(h, false)))
            .unwrap_or_default();
        let file = self.path.display();
        let pattern = if cfg.port == 22 {
            cfg.host.clone()
        } else {
            format!("[{}]:{}", cfg.host, cfg.port)
        };
        if self.revoked.iter().any(|r| r == key) {
            return Err(Error::login_refused(format!(
                "{address}: host key {key_type} {fingerprint} is marked @revoked in {file}"
            )));
        }
        match self.hosts.check_port(&cfg.host, cfg.port, key) {
            CheckResult::Match => {
                tracing::debug!(%address, %fingerprint, "host key matches known_hosts");
                Ok(())
            }
            CheckResult::Mismatch => Err(Error::login_refused(format!(
                "{address}: host key changed: the {key_type} key the host offers ({fingerprint}) does not match the one recorded in {file}; if the host was reinstalled, remove the old entry with `ssh-keygen -R '{pattern}' -f {file}`"
            ))),
            CheckResult::NotFound if cfg.host_key_check == HostKeyCheck::Strict => {
                Err(Error::login_refused(format!(
                    "{address}: unknown host key {key_type} {fingerprint}: {pattern} is not in {file} (ssh_host_key_check=strict)"
                )))
            }
            CheckResult::NotFound => {
                let line = format!("{pattern} {key_type} {}\n", base64::encode(key, true));
                match append_line(&self.path, &line) {
                    Ok(()) => tracing::info!(
                        %address, %fingerprint, file = %file,
                        "new host key recorded (ssh_host_key_check=accept-new)"
                    ),
                    Err(e) => tracing::warn!(
                        %address, %fingerprint, file = %file, error = %e,
                        "new host key accepted but not recorded"
                    ),
                }
                Ok(())
            }
            CheckResult::Failure => Err(Error::misbehaved(format!(
                "{address}: the known_hosts check of {file} failed"
            ))),
        }
    }
}

/// Appends one line to a known_hosts file, creating it (0600) and its directory (0700).
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let needs_newline = std::fs::read(path)
        .map(|d| d.last().is_some_and(|b| *b != b'\n'))
        .unwrap_or(false);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    text.push_str(line);
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_from_blob() {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        assert_eq!(blob_key_type(&blob).as_deref(), Some("ssh-ed25519"));
        assert_eq!(blob_key_type(&[0, 0, 0, 99, b'x']), None);
        assert_eq!(algorithms_for("ssh-rsa")[0], "rsa-sha2-512");
    }

    /// Regression: `login_timeout=10000000000000000000` (a valid number of seconds)
    /// panicked with "overflow when adding duration to instant" before connecting.
    #[test]
    fn a_timeout_beyond_the_clock_range_is_no_panic() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let huge = Duration::from_secs(10_000_000_000_000_000_000);
        let cfg = SshTarget::new("127.0.0.1", "u")
            .port(port)
            .password("pw")
            .timeouts(huge, huge);
        let err = SshSession::connect(&cfg).err().unwrap();
        assert_eq!(err.kind(), fence_core::ErrorKind::Unreachable, "{err}");
        assert!(deadline_after(huge) > Instant::now());
    }

    #[test]
    fn append_adds_a_missing_newline_and_creates_directories() {
        let dir = std::env::temp_dir().join(format!("fence-ssh-kh-{}", std::process::id()));
        let path = dir.join("sub").join("known_hosts");
        append_line(&path, "a ssh-ed25519 AAAA\n").unwrap();
        std::fs::write(&path, "a ssh-ed25519 AAAA").unwrap();
        append_line(&path, "b ssh-ed25519 BBBB\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
