//! fence-vbox against Debian's OpenSSH sshd and the fake VBoxManage (tests/peers/VBoxManage.fake),
//! as `tests/scripts/start-peers.sh` (or the reference kit) starts them.
//!
//! The fake keeps one file per VM (`<uuid> <state> <since>`) in `$FAKEVBOX_DIR` (the
//! project's scripts) or `~fenceuser/.fakevbox` (the reference kit). That directory may be
//! shared with other test runs on the machine, so every test creates its own uniquely named
//! VMs by writing those files directly (as root, owned by fenceuser), reads their state
//! back from the files (independently of SSH and of the code under test), and removes them
//! at the end. Tests run in parallel threads; none touches another's VMs.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{Action, Answer, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Request};
use fence_tests::{peer_path, peer_port, peers_dir, run_tool};
use fence_vbox::{HostKeyCheck, VboxConfig, VboxDevice};

// ---------------------------------------------------------------------------------------
// Helpers

/// A name no other test (or test run) uses.
fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("fvt-{tag}-{}-{n}-{nanos}", std::process::id())
}

fn new_uuid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_owned()
}

fn fenceuser_home() -> PathBuf {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"fenceuser")).then(|| PathBuf::from(f[5]))
        })
        .expect("user fenceuser missing: run tests/scripts/install-deps.sh")
}

/// The sshd peer.
struct Peer {
    port: u16,
    key: PathBuf,
    dir: PathBuf,
    vbox_dir: PathBuf,
}

fn peer() -> Peer {
    let port = peer_port("SSH_PORT");
    let key = peer_path("SSH_KEY");
    let dir = peers_dir();
    let vbox_dir = std::env::var("FAKEVBOX_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| fenceuser_home().join(".fakevbox"));
    assert!(
        vbox_dir.is_dir(),
        "fake VM directory {} missing: start the peers with tests/scripts/start-peers.sh",
        vbox_dir.display()
    );
    Peer {
        port,
        key,
        dir,
        vbox_dir,
    }
}

impl Peer {
    /// The sshd's host public key (type and base64), from the peer's own files.
    fn host_key(&self) -> (String, String) {
        let text = std::fs::read_to_string(self.dir.join("ssh/host_ed25519.pub")).unwrap();
        let mut f = text.split_whitespace();
        (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
    }

    fn config(&self, known_hosts: &Path) -> VboxConfig {
        VboxConfig::new("127.0.0.1", "fenceuser")
            .port(self.port)
            .password("password")
            .known_hosts_file(known_hosts)
    }

    fn device(&self, known_hosts: &Path) -> VboxDevice {
        VboxDevice::new(self.config(known_hosts)).unwrap()
    }

    /// Makes sure the peer's authorized_keys file holds `pubkey` (the reference kit shares
    /// ~fenceuser/.ssh/authorized_keys between runs, so another run may have replaced it).
    /// A key added here is removed again when the guard is dropped.
    fn authorize(&self, pubkey: &str) -> AuthorizedKey {
        let config = std::fs::read_to_string(self.dir.join("ssh/sshd_config")).unwrap();
        let file = config
            .lines()
            .find_map(|l| l.trim().strip_prefix("AuthorizedKeysFile"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| ".ssh/authorized_keys".into());
        let path = if file.starts_with('/') {
            PathBuf::from(file)
        } else {
            fenceuser_home().join(file)
        };
        let _guard = AUTHORIZED_KEYS_LOCK.lock().unwrap();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        let line = pubkey.trim().to_owned();
        let added = !have.lines().any(|l| l.trim() == line);
        if added {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            writeln!(f, "{line}").unwrap();
        }
        AuthorizedKey { path, line, added }
    }
}

static AUTHORIZED_KEYS_LOCK: Mutex<()> = Mutex::new(());

/// A key in the peer's authorized_keys; removed on drop if this test added it.
struct AuthorizedKey {
    path: PathBuf,
    line: String,
    added: bool,
}

impl Drop for AuthorizedKey {
    fn drop(&mut self) {
        if !self.added {
            return;
        }
        let _guard = AUTHORIZED_KEYS_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(text) = std::fs::read_to_string(&self.path) {
            let kept: String = text
                .lines()
                .filter(|l| l.trim() != self.line)
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(&self.path, kept);
        }
    }
}

/// A fake VM of this test, removed at the end.
struct TestVm {
    name: String,
    uuid: String,
    file: PathBuf,
}

impl TestVm {
    fn create(peer: &Peer, name: &str, state: PowerState) -> TestVm {
        let vm = TestVm {
            name: name.to_owned(),
            uuid: new_uuid(),
            file: peer.vbox_dir.join(name),
        };
        vm.set(state);
        let meta = std::fs::metadata(&peer.vbox_dir).unwrap();
        std::os::unix::fs::chown(&vm.file, Some(meta.uid()), Some(meta.gid())).unwrap();
        vm
    }

    /// Sets the state behind the device's back (as the fake stores it).
    fn set(&self, state: PowerState) {
        let word = match state {
            PowerState::On => "running",
            PowerState::Off => "poweroff",
        };
        std::fs::write(
            &self.file,
            format!("{} {word} 2026-01-01T00:00:00.000000000\n", self.uuid),
        )
        .unwrap();
    }

    /// Sets a VirtualBox state by its `VMState` name, behind the device's back.
    fn set_vmstate(&self, vmstate: &str) {
        std::fs::write(
            &self.file,
            format!("{} {vmstate} 2026-01-01T00:00:00.000000000Z\n", self.uuid),
        )
        .unwrap();
    }

    /// The `VMState` name the fake's file holds.
    fn vmstate(&self) -> String {
        let text = std::fs::read_to_string(&self.file).unwrap();
        text.split_whitespace().nth(1).unwrap().to_owned()
    }

    /// The state as the fake's file says, read independently of SSH.
    fn state(&self) -> PowerState {
        let text = std::fs::read_to_string(&self.file)
            .unwrap_or_else(|e| panic!("VM file {} gone: {e}", self.file.display()));
        match text.split_whitespace().nth(1) {
            Some("running") => PowerState::On,
            Some("poweroff") => PowerState::Off,
            other => panic!("VM file {} says {other:?}", self.file.display()),
        }
    }
}

impl Drop for TestVm {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// A private temporary directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn known_hosts(&self) -> PathBuf {
        self.0.join("known_hosts")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(device: &VboxDevice, action: Action, plug: &str) -> fence_core::Result<Outcome> {
    Engine::new(fast_timing())
        .run(device, &Request::new(action, [plug]))
        .await
        .result
}

/// Everything logged (at TRACE) by this test binary, for the "no secret in logs" checks.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(Arc::clone(&logs));
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(move || sink.clone())
            .try_init()
            .expect("a global subscriber was already set");
        logs
    })
    .clone()
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_through_the_library_with_one_session() {
    let peer = peer();
    let tmp = TempDir::new("conf");
    let vm = TestVm::create(&peer, &unique("conf"), PowerState::On);
    let device = peer.device(&tmp.known_hosts());

    conformance::run_all(&device, &vm.name, fast_timing()).await;

    assert_eq!(vm.state(), PowerState::On, "run_all leaves the VM on");
    // The fake's own view, through su (not through our SSH code).
    let out = run_tool(
        "su",
        &[
            "-",
            "fenceuser",
            "-c",
            &format!(
                "FAKEVBOX_DIR={} ~/bin/VBoxManage list runningvms",
                peer.vbox_dir.display()
            ),
        ],
    );
    let running = String::from_utf8_lossy(&out.stdout);
    assert!(
        running.contains(&format!("\"{}\" {{{}}}", vm.name, vm.uuid)),
        "{running}"
    );
    assert_eq!(device.logins(), 1, "one SSH session for the whole suite");
    device.close().await.unwrap();
    // close leaves a usable device (FenceDevice::close): the next call logs in again.
    let listed = device.list().await.unwrap();
    assert!(listed.iter().any(|o| o.id == vm.name), "{listed:?}");
    assert_eq!(device.logins(), 2, "a new SSH session after close");
    device.close().await.unwrap();
}

#[tokio::test]
async fn off_and_on_change_the_state_read_back_from_the_files() {
    let peer = peer();
    let tmp = TempDir::new("offon");
    let vm = TestVm::create(&peer, &unique("offon"), PowerState::On);
    let device = peer.device(&tmp.known_hosts());
    assert_eq!(
        run(&device, Action::Off, &vm.name).await.unwrap(),
        Outcome::PoweredOff
    );
    assert_eq!(vm.state(), PowerState::Off);
    // By UUID as plug, as fence_vbox allows.
    assert_eq!(
        run(&device, Action::On, &vm.uuid).await.unwrap(),
        Outcome::PoweredOn
    );
    assert_eq!(vm.state(), PowerState::On);
    // Changed behind the device's back: a new read sees it.
    vm.set(PowerState::Off);
    assert_eq!(
        run(&device, Action::Status, &vm.name).await.unwrap(),
        Outcome::Status {
            state: PowerState::Off
        }
    );
    device.close().await.unwrap();
}

/// Measured remote command counts (SSH channels) per action, each on a fresh device.
#[tokio::test]
async fn command_counts_per_action() {
    let peer = peer();
    let tmp = TempDir::new("count");
    let vm = TestVm::create(&peer, &unique("count"), PowerState::On);
    let cases: &[(&str, PowerState, Action, u64, PowerState)] = &[
        (
            "status (running)",
            PowerState::On,
            Action::Status,
            1,
            PowerState::On,
        ),
        (
            "status (stopped)",
            PowerState::Off,
            Action::Status,
            2,
            PowerState::Off,
        ),
        (
            "off (from on)",
            PowerState::On,
            Action::Off,
            3,
            PowerState::Off,
        ),
        (
            "off (already off)",
            PowerState::Off,
            Action::Off,
            2,
            PowerState::Off,
        ),
        (
            "on (from off)",
            PowerState::Off,
            Action::On,
            4,
            PowerState::On,
        ),
        (
            "reboot (from on)",
            PowerState::On,
            Action::Reboot,
            5,
            PowerState::On,
        ),
        ("list", PowerState::On, Action::List, 2, PowerState::On),
        (
            "monitor",
            PowerState::On,
            Action::Monitor,
            2,
            PowerState::On,
        ),
    ];
    for (what, before, action, commands, after) in cases {
        vm.set(*before);
        let device = peer.device(&tmp.known_hosts());
        let started = Instant::now();
        let outcome = run(&device, *action, &vm.name).await;
        let took = started.elapsed();
        device.close().await.unwrap();
        assert!(outcome.is_ok(), "{what}: {outcome:?}");
        eprintln!(
            "{what:>18}: {} remote command(s), {} login(s), {took:?}",
            device.remote_commands(),
            device.logins()
        );
        assert_eq!(device.remote_commands(), *commands, "{what}");
        assert_eq!(device.logins(), 1, "{what}");
        assert_eq!(vm.state(), *after, "{what}");
    }
}

#[tokio::test]
async fn password_key_and_ipv6_logins() {
    let peer = peer();
    let tmp = TempDir::new("login");
    let vm = TestVm::create(&peer, &unique("login"), PowerState::Off);

    let pubkey = std::fs::read_to_string(peer.key.with_extension("pub")).unwrap();
    let _authorized = peer.authorize(&pubkey);
    let key_device = VboxDevice::new(
        VboxConfig::new("127.0.0.1", "fenceuser")
            .port(peer.port)
            .identity_file(&peer.key)
            .known_hosts_file(tmp.known_hosts()),
    )
    .unwrap();
    assert_eq!(
        key_device.power_state(&vm.name).await.unwrap(),
        PowerState::Off
    );
    assert_eq!(key_device.logins(), 1);
    key_device.close().await.unwrap();

    let pw_device = peer.device(&tmp.known_hosts());
    assert_eq!(
        pw_device.power_state(&vm.name).await.unwrap(),
        PowerState::Off
    );
    pw_device.close().await.unwrap();

    let mut v6 = peer.config(&tmp.known_hosts());
    v6.ssh.host = "::1".into();
    v6.ssh.ip_family = fence_vbox::IpFamily::V6;
    let v6_device = VboxDevice::new(v6).unwrap();
    assert_eq!(v6_device.address(), format!("[::1]:{}", peer.port));
    assert_eq!(
        v6_device.power_state(&vm.name).await.unwrap(),
        PowerState::Off
    );
    v6_device.close().await.unwrap();
    // A name goes through the resolver (within login_timeout) and is recorded as given.
    let mut by_name = peer.config(&tmp.known_hosts());
    by_name.ssh.host = "localhost".into();
    let named = VboxDevice::new(by_name).unwrap();
    assert_eq!(named.power_state(&vm.name).await.unwrap(), PowerState::Off);
    named.close().await.unwrap();
    let recorded = std::fs::read_to_string(tmp.known_hosts()).unwrap();
    assert!(
        recorded.contains(&format!("[localhost]:{} ", peer.port)),
        "{recorded}"
    );
    assert!(
        recorded.contains(&format!("[::1]:{} ", peer.port)),
        "{recorded}"
    );
}

#[tokio::test]
async fn encrypted_key_takes_the_password_as_passphrase() {
    let peer = peer();
    let tmp = TempDir::new("enckey");
    let key = tmp.path().join("id_ed25519");
    let passphrase = "S3cret-Passphrase-7f3a";
    let out = run_tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "fvt",
            "-f",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _authorized = peer.authorize(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
    let vm = TestVm::create(&peer, &unique("enckey"), PowerState::On);
    let logs = captured_logs();

    let config = VboxConfig::new("127.0.0.1", "fenceuser")
        .port(peer.port)
        .identity_file(&key)
        .known_hosts_file(tmp.known_hosts());
    let good = VboxDevice::new(config.clone().password(passphrase)).unwrap();
    assert_eq!(good.power_state(&vm.name).await.unwrap(), PowerState::On);
    good.close().await.unwrap();

    let wrong = VboxDevice::new(config.clone().password("Wr0ng-Passphrase-9c1d")).unwrap();
    let err = wrong.power_state(&vm.name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(!err.to_string().contains("Wr0ng-Passphrase-9c1d"), "{err}");
    let missing = VboxDevice::new(config).unwrap();
    let err = missing.power_state(&vm.name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");

    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.contains("SSH login done"),
        "TRACE logs were captured"
    );
    for secret in [passphrase, "Wr0ng-Passphrase-9c1d"] {
        assert!(!logged.contains(secret), "secret {secret} logged");
    }
}

#[tokio::test]
async fn wrong_password_is_refused_fast_and_not_logged() {
    let peer = peer();
    let tmp = TempDir::new("badpw");
    let logs = captured_logs();
    let device = VboxDevice::new(
        peer.config(&tmp.known_hosts())
            .password("Wr0ng-Password-4b2e"),
    )
    .unwrap();
    let started = Instant::now();
    let err = device.power_state("vm1").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(!err.is_retryable());
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} (fence_vbox: 5.3 s)"
    );
    assert_eq!(device.remote_commands(), 0);
    assert!(!err.to_string().contains("Wr0ng-Password-4b2e"), "{err}");
    assert!(!format!("{err:?} {device:?}").contains("Wr0ng-Password-4b2e"));
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.contains("Wr0ng-Password-4b2e"), "password logged");
    eprintln!("wrong password refused in {took:?}: {err}");
}

#[tokio::test]
async fn changed_host_key_is_refused() {
    let peer = peer();
    let tmp = TempDir::new("changed");
    // A different ed25519 key (the client's) recorded for [127.0.0.1]:port.
    let other = std::fs::read_to_string(peer.key.with_extension("pub")).unwrap();
    let other_b64 = other.split_whitespace().nth(1).unwrap();
    let line = format!("[127.0.0.1]:{} ssh-ed25519 {other_b64}\n", peer.port);
    std::fs::write(tmp.known_hosts(), &line).unwrap();

    let device = peer.device(&tmp.known_hosts());
    let err = device.power_state("vm1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("host key changed"), "{err}");
    assert_eq!(device.remote_commands(), 0, "nothing ran on an impostor");
    assert_eq!(device.logins(), 0);
    assert_eq!(
        std::fs::read_to_string(tmp.known_hosts()).unwrap(),
        line,
        "known_hosts untouched"
    );

    // A revoked key is refused even though nothing else is recorded for the host.
    let (key_type, key_b64) = peer.host_key();
    let revoked = tmp.path().join("known_hosts_revoked");
    std::fs::write(&revoked, format!("@revoked * {key_type} {key_b64}\n")).unwrap();
    let device = peer.device(&revoked);
    let err = device.power_state("vm1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("@revoked"), "{err}");
    assert_eq!(device.remote_commands(), 0);

    // A host recorded only with another key type (RSA) must not get in by offering its
    // ed25519 key as a "new" one.
    let rsa = tmp.path().join("rsa");
    let out = run_tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "rsa",
            "-b",
            "2048",
            "-N",
            "",
            "-f",
            rsa.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let rsa_pub = std::fs::read_to_string(rsa.with_extension("pub")).unwrap();
    let rsa_b64 = rsa_pub.split_whitespace().nth(1).unwrap();
    let kh2 = tmp.path().join("known_hosts_rsa");
    std::fs::write(
        &kh2,
        format!("[127.0.0.1]:{} ssh-rsa {rsa_b64}\n", peer.port),
    )
    .unwrap();
    let device = peer.device(&kh2);
    let err = device.power_state("vm1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("host key changed"), "{err}");
    assert_eq!(device.remote_commands(), 0);
}

#[tokio::test]
async fn unknown_host_key_is_recorded_then_checked() {
    let peer = peer();
    let tmp = TempDir::new("newkey");
    let vm = TestVm::create(&peer, &unique("newkey"), PowerState::On);
    let kh = tmp.path().join("sub/dir/known_hosts");
    let (key_type, key_b64) = peer.host_key();

    // strict: an unknown key is refused and nothing is written.
    let strict = VboxDevice::new(peer.config(&kh).host_key_check(HostKeyCheck::Strict)).unwrap();
    let err = strict.power_state(&vm.name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("unknown host key"), "{err}");
    assert!(!kh.exists());

    // accept-new (the default): accepted and recorded.
    let device = peer.device(&kh);
    assert_eq!(device.power_state(&vm.name).await.unwrap(), PowerState::On);
    device.close().await.unwrap();
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(
        recorded,
        format!("[127.0.0.1]:{} {key_type} {key_b64}\n", peer.port)
    );
    // OpenSSH's ssh-keygen finds it under the same name.
    let out = run_tool(
        "ssh-keygen",
        &[
            "-F",
            &format!("[127.0.0.1]:{}", peer.port),
            "-f",
            kh.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "ssh-keygen -F did not find the entry");

    // Now strict accepts it, and nothing more is appended.
    let strict = VboxDevice::new(peer.config(&kh).host_key_check(HostKeyCheck::Strict)).unwrap();
    assert_eq!(strict.power_state(&vm.name).await.unwrap(), PowerState::On);
    strict.close().await.unwrap();
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded);

    // The same entry hashed by OpenSSH (ssh-keygen -H) is still recognised.
    let hashed = tmp.path().join("hashed");
    std::fs::copy(&kh, &hashed).unwrap();
    let out = run_tool("ssh-keygen", &["-H", "-f", hashed.to_str().unwrap()]);
    assert!(out.status.success());
    let hashed_text = std::fs::read_to_string(&hashed).unwrap();
    assert!(hashed_text.starts_with("|1|"), "{hashed_text}");
    let strict =
        VboxDevice::new(peer.config(&hashed).host_key_check(HostKeyCheck::Strict)).unwrap();
    assert_eq!(strict.power_state(&vm.name).await.unwrap(), PowerState::On);
    strict.close().await.unwrap();

    // Lines libssh2 cannot parse are skipped, not fatal; the new key is appended after them.
    let odd = tmp.path().join("odd");
    let odd_lines = format!(
        "# comment\n@cert-authority *.example {key_type} {key_b64}\nnot a known_hosts line\nother.example sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t"
    );
    std::fs::write(&odd, &odd_lines).unwrap();
    let device = peer.device(&odd);
    assert_eq!(device.power_state(&vm.name).await.unwrap(), PowerState::On);
    device.close().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&odd).unwrap(),
        format!(
            "{odd_lines}\n[127.0.0.1]:{} {key_type} {key_b64}\n",
            peer.port
        )
    );

    // off: no file is read or written.
    let none = tmp.path().join("never");
    let off = VboxDevice::new(peer.config(&none).host_key_check(HostKeyCheck::Off)).unwrap();
    assert_eq!(off.power_state(&vm.name).await.unwrap(), PowerState::On);
    off.close().await.unwrap();
    assert!(!none.exists());
}

#[tokio::test]
async fn list_matches_debian_fence_vbox() {
    let peer = peer();
    let tmp = TempDir::new("list");
    let prefix = unique("list");
    let vms = [
        TestVm::create(&peer, &format!("{prefix}-a"), PowerState::On),
        TestVm::create(&peer, &format!("{prefix}-b with space"), PowerState::Off),
        TestVm::create(&peer, &format!("{prefix}-c"), PowerState::Off),
    ];
    let device = peer.device(&tmp.known_hosts());
    let outlets = device.list().await.unwrap();
    device.close().await.unwrap();
    let ours: Vec<String> = outlets
        .iter()
        .filter(|o| o.id.starts_with(&prefix))
        .map(|o| format!("{},{},{}", o.id, o.alias, o.state.unwrap().as_str()))
        .collect();
    let expected: Vec<String> = vms
        .iter()
        .map(|vm| format!("{},{},{}", vm.name, vm.uuid, vm.state().as_str()))
        .collect();
    assert_eq!(ours, expected, "list vs the VM files");

    let wrapper = peer_path("SSH_WRAPPER");
    let port = peer.port.to_string();
    let python = run_tool(
        "fence_vbox",
        &[
            "--ip=127.0.0.1",
            &format!("--ipport={port}"),
            "--username=fenceuser",
            "--password=password",
            &format!("--ssh-path={}", wrapper.display()),
            "--action=list-status",
        ],
    );
    assert!(
        python.status.success(),
        "fence_vbox failed: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&python.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, theirs, "list-status vs Debian's fence_vbox");
}

#[tokio::test]
async fn hostile_plug_names_run_nothing() {
    let peer = peer();
    let tmp = TempDir::new("hostile");
    let marker = std::env::temp_dir().join(unique("pwned"));
    let m = marker.display().to_string();
    let plugs = [
        format!("x$(touch {m})"),
        format!("a';touch {m};'"),
        format!("`touch {m}`"),
        format!("a;touch {m}"),
        format!("a & touch {m} | touch {m}"),
        format!("a\ntouch {m}"),
        format!("a\" ; touch {m}; \""),
        format!("--help; touch {m}"),
    ];
    let device = peer.device(&tmp.known_hosts());
    for plug in &plugs {
        let err = device.power_state(plug).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{plug:?}: {err}");
        for state in [PowerState::On, PowerState::Off] {
            let err = device.set_power(plug, state).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{plug:?}: {err}");
        }
        let err = run(&device, Action::Reboot, plug).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{plug:?}: {err}");
    }
    device.close().await.unwrap();
    assert!(!marker.exists(), "a plug name ran a command on the host");
}

#[tokio::test]
async fn vm_with_a_hostile_name_is_fenced_by_name() {
    let peer = peer();
    let tmp = TempDir::new("evil");
    let marker_name = unique("pwned");
    let marker = fenceuser_home().join(&marker_name);
    let name = format!(
        "{} it's $(touch {marker_name}) `touch {marker_name}` & \"q\" ; | {{x}}",
        unique("evil")
    );
    let vm = TestVm::create(&peer, &name, PowerState::On);
    let device = peer.device(&tmp.known_hosts());
    conformance::run_all(&device, &vm.name, fast_timing()).await;
    assert_eq!(
        run(&device, Action::Off, &vm.name).await.unwrap(),
        Outcome::PoweredOff
    );
    assert_eq!(vm.state(), PowerState::Off);
    let listed = device.list().await.unwrap();
    assert!(listed.iter().any(|o| o.id == vm.name && o.alias == vm.uuid));
    device.close().await.unwrap();
    assert!(!marker.exists(), "a VM name ran a command on the host");
}

#[tokio::test]
async fn hostile_vboxmanage_path_is_passed_as_data() {
    let peer = peer();
    let tmp = TempDir::new("path");
    let marker = std::env::temp_dir().join(unique("pwned"));
    // Directories whose names hold quotes, $(...), ; & | and spaces.
    let dir = tmp
        .path()
        .join(format!("it's $(touch {}) ;&| \"x\"", marker.display()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut p = dir.as_path();
    while p != Path::new("/tmp") && p != Path::new("/") {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p = p.parent().unwrap();
    }
    let program = dir.join("VBox Manage");
    std::os::unix::fs::symlink(fenceuser_home().join("bin/VBoxManage"), &program).unwrap();
    let vm = TestVm::create(&peer, &unique("path"), PowerState::On);
    let device = VboxDevice::new(
        peer.config(&tmp.known_hosts())
            .vboxmanage_path(program.to_str().unwrap()),
    )
    .unwrap();
    assert_eq!(device.power_state(&vm.name).await.unwrap(), PowerState::On);
    assert_eq!(
        run(&device, Action::Off, &vm.name).await.unwrap(),
        Outcome::PoweredOff
    );
    assert_eq!(vm.state(), PowerState::Off);
    device.close().await.unwrap();
    assert!(
        !marker.exists(),
        "the VBoxManage path ran a command on the host"
    );
}

#[tokio::test]
async fn use_sudo_runs_vboxmanage_through_sudo_path() {
    use std::os::unix::fs::PermissionsExt;
    let peer = peer();
    let tmp = TempDir::new("sudo");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = tmp.path().join("sudo.log");
    let sudo = tmp.path().join("sudo");
    std::fs::write(
        &sudo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n[ \"$1\" = -n ] && shift\nexec \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let vm = TestVm::create(&peer, &unique("sudo"), PowerState::On);
    let mut options = fence_core::params::ParamTable::new()
        .with(&fence_core::params::common::every_agent())
        .with(&fence_vbox::params())
        .parse([
            ("ip", "127.0.0.1"),
            ("username", "fenceuser"),
            ("password", "password"),
            ("sudo", "1"),
        ])
        .unwrap();
    options.set("ipport", &peer.port.to_string()).unwrap();
    options.set("sudo_path", sudo.to_str().unwrap()).unwrap();
    options
        .set("ssh_known_hosts_file", tmp.known_hosts().to_str().unwrap())
        .unwrap();
    let device = VboxDevice::new(VboxConfig::from_options(&options).unwrap()).unwrap();
    assert_eq!(
        run(&device, Action::Off, &vm.name).await.unwrap(),
        Outcome::PoweredOff
    );
    assert_eq!(vm.state(), PowerState::Off);
    device.close().await.unwrap();
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls,
        format!(
            "-n VBoxManage list vms\n-n VBoxManage list runningvms\n-n VBoxManage controlvm {0} poweroff\n-n VBoxManage showvminfo {0} --machinereadable\n",
            vm.uuid
        )
    );
}

#[tokio::test]
async fn missing_vm_and_refused_commands() {
    let peer = peer();
    let tmp = TempDir::new("missing");
    let absent = unique("absent");
    let device = peer.device(&tmp.known_hosts());
    let err = device.power_state(&absent).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{err}");
    device.close().await.unwrap();

    let lenient = VboxDevice::new(peer.config(&tmp.known_hosts()).missing_as_off(true)).unwrap();
    assert_eq!(lenient.power_state(&absent).await.unwrap(), PowerState::Off);
    assert_eq!(
        run(&lenient, Action::Off, &absent).await.unwrap(),
        Outcome::AlreadyOff
    );
    lenient.close().await.unwrap();

    // VirtualBox's own refusals come back with its message: a VM that is starting takes
    // no poweroff, which is Busy (the engine sends it again), never done.
    let vm = TestVm::create(&peer, &unique("refuse"), PowerState::On);
    vm.set_vmstate("starting");
    let device = peer.device(&tmp.known_hosts());
    let err = device
        .set_power(&vm.name, PowerState::Off)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    assert!(
        err.to_string()
            .contains("Invalid machine state: Starting (must be Running, Paused or Stuck)"),
        "{err}"
    );
    let c = err
        .context()
        .expect("a refused command carries its exchange");
    assert!(
        c.request.as_deref().is_some_and(|r| r.contains("poweroff")),
        "{c:?}"
    );
    match &c.answer {
        Some(Answer::Exit { status, stderr }) => {
            assert_eq!(*status, Some(1), "VBoxManage's RTEXITCODE_FAILURE");
            assert!(stderr.contains("Invalid machine state"), "{stderr}");
        }
        other => panic!("not an exit status: {other:?}"),
    }
    assert_eq!(vm.vmstate(), "starting");
    // The state read before a set decides the command; a stale one meets VirtualBox's
    // refusal: the VM stopped behind our back after it was read running.
    vm.set(PowerState::On);
    assert_eq!(device.power_state(&vm.name).await.unwrap(), PowerState::On);
    vm.set(PowerState::Off);
    let err = device
        .set_power(&vm.name, PowerState::Off)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    assert!(
        err.to_string().contains("is not currently running"),
        "{err}"
    );
    // The engine settles a refused set by reading the state: off of a stopped VM.
    assert_eq!(
        run(&device, Action::Off, &vm.name).await.unwrap(),
        Outcome::AlreadyOff
    );
    assert_eq!(device.logins(), 1, "a refused command keeps the session");
    device.close().await.unwrap();
}

#[tokio::test]
async fn shell_timeout_bounds_a_hanging_command() {
    use std::os::unix::fs::PermissionsExt;
    let peer = peer();
    let tmp = TempDir::new("slow");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let slow = tmp.path().join("VBoxManage");
    std::fs::write(&slow, "#!/bin/sh\nsleep 5\n").unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let device = VboxDevice::new(
        peer.config(&tmp.known_hosts())
            .vboxmanage_path(slow.to_str().unwrap())
            .timeouts(Duration::from_secs(5), Duration::from_millis(500)),
    )
    .unwrap();
    let started = Instant::now();
    let err = device.power_state("vm1").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.to_string().contains("shell_timeout"), "{err}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The broken session was dropped; the next call logs in again.
    let _ = device.power_state("vm1").await.unwrap_err();
    assert_eq!(device.logins(), 2);
    device.close().await.unwrap();
}

#[tokio::test]
async fn host_text_that_echoes_the_password_is_scrubbed_in_messages() {
    use std::os::unix::fs::PermissionsExt;
    let peer = peer();
    let tmp = TempDir::new("echo-pw");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let echo = tmp.path().join("VBoxManage");
    // A wrapper on the host that echoes the login password (peer's: "password").
    std::fs::write(
        &echo,
        "#!/bin/sh\necho 'VBoxManage: error: wrapper says the secret is password' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&echo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let device = VboxDevice::new(
        peer.config(&tmp.known_hosts())
            .vboxmanage_path(echo.to_str().unwrap()),
    )
    .unwrap();
    let err = device.power_state("vm1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    let text = err.to_string();
    assert!(text.contains("the secret is [redacted]"), "{text}");
    assert!(!text.contains("is password"), "{text}");
    device.close().await.unwrap();
}

/// The conformance suite's error paths against OpenSSH and the VBoxManage stand-in: a wrong
/// password is one login refusal, not retried; a VM the host does not know is
/// plug-not-found; `close` twice is safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_error_paths() {
    let peer = peer();
    let tmp = TempDir::new("conf-errors");
    let vm = TestVm::create(&peer, &unique("conferr"), PowerState::On);
    let wrong = VboxDevice::new(
        peer.config(&tmp.known_hosts())
            .password("Wr0ng-Password-7f3e"),
    )
    .unwrap();
    conformance::wrong_password_is_refused_once(
        &wrong,
        &vm.name,
        fast_timing(),
        Duration::from_secs(15),
    )
    .await;
    conformance::close_twice_is_safe(&wrong).await;
    let device = peer.device(&tmp.known_hosts());
    conformance::unknown_plug_is_not_found(&device, &unique("no-such-vm")).await;
    conformance::close_twice_is_safe(&device).await;
    assert_eq!(vm.state(), PowerState::On, "the error paths touched no VM");
}
