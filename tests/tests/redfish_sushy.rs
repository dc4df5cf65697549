//! fence-redfish against sushy-tools' Redfish emulator (fake driver, HTTPS with a CA + leaf
//! certificate, HTTP basic auth), started by `tests/scripts/start-peers.sh`.
//!
//! Peer settings: `REDFISH_URL`, `REDFISH_PORT`, `REDFISH_CA`, `REDFISH_SYSTEMS_URI` (node1,
//! starts On; node2 starts Off) and `PEERS_DIR` (the emulator's access log is
//! `$PEERS_DIR/logs/sushy.log`). The emulator's state is read back independently with curl.
//! The tests share one emulator, so they run one at a time (the `SUSHY` lock).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fence_core::params::{ParamTable, common};
use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{Action, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Request};
use fence_redfish::{AuthMethod, RedfishConfig, RedfishDevice, TlsVerify};
use fence_test_support::relay::{TcpFault, TcpRelay, Watch};
use fence_tests::{peer_path, peer_port, peer_var, peers_dir, run_tool};

static SUSHY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const USER: &str = "admin";
const PASSWORD: &str = "password";

fn config() -> RedfishConfig {
    RedfishConfig::new("127.0.0.1", USER, PASSWORD)
        .with_port(peer_port("REDFISH_PORT"))
        .with_tls(TlsVerify::Verify {
            ca_file: Some(peer_path("REDFISH_CA")),
        })
        .with_systems_uri(peer_var("REDFISH_SYSTEMS_URI"))
}

fn device() -> RedfishDevice {
    RedfishDevice::new(config()).unwrap()
}

/// A CA that the emulator does not use.
fn foreign_ca() -> PathBuf {
    fence_test_support::https::fixture("ca.pem")
}

/// GET with curl (not our client) and return the body.
fn curl_get(path: &str) -> String {
    let url = format!("{}{path}", peer_var("REDFISH_URL"));
    let ca = peer_var("REDFISH_CA");
    let out = run_tool(
        "curl",
        &[
            "-sS",
            "-L",
            "--max-time",
            "10",
            "--cacert",
            &ca,
            "-u",
            &format!("{USER}:{PASSWORD}"),
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// POST a reset with curl.
fn curl_reset(reset_type: &str) {
    let url = format!(
        "{}{}/Actions/ComputerSystem.Reset",
        peer_var("REDFISH_URL"),
        peer_var("REDFISH_SYSTEMS_URI")
    );
    let ca = peer_var("REDFISH_CA");
    let out = run_tool(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            &ca,
            "-u",
            &format!("{USER}:{PASSWORD}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!("{{\"ResetType\":\"{reset_type}\"}}"),
            &url,
        ],
    );
    let code = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        code.starts_with('2'),
        "curl reset {reset_type}: HTTP {code}"
    );
}

/// The value of `"PowerState"` in a JSON text, read without our code.
fn power_state_in(json: &str) -> String {
    let at = json
        .find("\"PowerState\"")
        .unwrap_or_else(|| panic!("no PowerState in {json}"));
    let rest = &json[at + "\"PowerState\"".len()..];
    let open = rest.find('"').unwrap();
    let rest = &rest[open + 1..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// node1's state as curl reads it.
fn emulator_state() -> String {
    power_state_in(&curl_get(&peer_var("REDFISH_SYSTEMS_URI")))
}

/// Puts node1 into `state` through curl and waits (bounded) until curl reads it.
fn force_state(state: &str) {
    if emulator_state() == state {
        return;
    }
    curl_reset(if state == "On" { "On" } else { "ForceOff" });
    let deadline = Instant::now() + Duration::from_secs(15);
    while emulator_state() != state {
        assert!(Instant::now() < deadline, "node1 never reached {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The request lines (`METHOD path`) Werkzeug has logged so far.
fn access_log() -> Vec<String> {
    let path = peers_dir().join("logs/sushy.log");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| l.contains(" HTTP/1."))
        .filter_map(|l| {
            let clean = strip_ansi(l);
            let start = clean.find("] \"")? + 3;
            let end = clean[start..].find(" HTTP/1.")? + start;
            Some(clean[start..end].to_owned())
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The log lines added since `before` lines were there; waits (bounded) for `at_least`.
fn log_since(before: usize, at_least: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let log = access_log();
        let new: Vec<String> = log
            .get(before..)
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        if new.len() >= at_least || Instant::now() >= deadline {
            return new;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The relay in front of the emulator, which counts connections, and a watch of each
/// connection that counts full TLS handshakes. TLS runs end to end through it; the watch
/// only reads the server's first flight: the emulator speaks TLS 1.2 only
/// (`ssl.PROTOCOL_TLSv1_2`), where a full handshake sends the server's Certificate in clear
/// and a resumed one goes straight to ChangeCipherSpec.
struct Relay {
    relay: TcpRelay,
    full_handshakes: Arc<AtomicU64>,
}

impl Relay {
    fn port(&self) -> u16 {
        self.relay.port()
    }

    /// (connections, full TLS handshakes).
    fn counts(&self) -> (u64, u64) {
        (
            self.relay.counts().clients,
            self.full_handshakes.load(Ordering::SeqCst),
        )
    }
}

async fn start_relay() -> Relay {
    let full_handshakes = Arc::new(AtomicU64::new(0));
    let fulls = full_handshakes.clone();
    let watch: Watch = Arc::new(move || {
        let fulls = fulls.clone();
        let mut flight = FirstFlight::default();
        Box::new(move |bytes: &[u8]| {
            if flight.feed(bytes) == Some(true) {
                fulls.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let upstream = SocketAddr::from(([127, 0, 0, 1], peer_port("REDFISH_PORT")));
    let relay = TcpRelay::start_watched(upstream, TcpFault::Forward, watch)
        .await
        .unwrap();
    Relay {
        relay,
        full_handshakes,
    }
}

/// Reads TLS records from the server until the handshake kind is known.
#[derive(Default)]
struct FirstFlight {
    records: Vec<u8>,
    handshake: Vec<u8>,
    decided: bool,
}

impl FirstFlight {
    /// `Some(true)` once, when a full handshake is seen; `Some(false)` once for a resumed
    /// one; `None` otherwise.
    fn feed(&mut self, bytes: &[u8]) -> Option<bool> {
        if self.decided {
            return None;
        }
        self.records.extend_from_slice(bytes);
        while self.records.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([self.records[3], self.records[4]]));
            if self.records.len() < 5 + len {
                break;
            }
            let kind = self.records[0];
            let payload: Vec<u8> = self.records.drain(..5 + len).skip(5).collect();
            match kind {
                22 => {
                    self.handshake.extend_from_slice(&payload);
                    while self.handshake.len() >= 4 {
                        let msg_len = (usize::from(self.handshake[1]) << 16)
                            | (usize::from(self.handshake[2]) << 8)
                            | usize::from(self.handshake[3]);
                        if self.handshake.len() < 4 + msg_len {
                            break;
                        }
                        let msg_type = self.handshake[0];
                        self.handshake.drain(..4 + msg_len);
                        if msg_type == 11 {
                            self.decided = true;
                            return Some(true);
                        }
                    }
                }
                _ => {
                    // ChangeCipherSpec, alert or data before any Certificate: resumed.
                    self.decided = true;
                    return Some(false);
                }
            }
        }
        None
    }
}

async fn run(dev: &RedfishDevice, action: Action) -> fence_core::Report {
    Engine::new(fast_timing())
        .run(dev, &Request::plugless(action))
        .await
}

#[tokio::test]
async fn conformance_suite_with_the_state_read_back_by_curl() {
    let _serial = SUSHY.lock().await;
    force_state("On");
    let dev = device();
    conformance::run_all(&dev, "", fast_timing()).await;
    assert_eq!(emulator_state(), "On");

    let report = run(&dev, Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(
        emulator_state(),
        "Off",
        "curl disagrees with a verified off"
    );
    let report = run(&dev, Action::Status).await;
    assert_eq!(
        report.result.unwrap(),
        Outcome::Status {
            state: PowerState::Off
        }
    );
    let report = run(&dev, Action::On).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOn);
    assert_eq!(emulator_state(), "On", "curl disagrees with a verified on");
    let report = run(&dev, Action::Reboot).await;
    assert!(report.off_verified(), "{:?}", report.reads);
    assert_eq!(emulator_state(), "On");
    dev.close().await.unwrap();
}

#[tokio::test]
async fn status_takes_one_request_and_a_verified_off_three_with_one_full_handshake() {
    let _serial = SUSHY.lock().await;
    force_state("On");
    let system = peer_var("REDFISH_SYSTEMS_URI");

    let relay = start_relay().await;
    let dev = RedfishDevice::new(config().with_port(relay.port())).unwrap();
    let before = access_log().len();
    let started = Instant::now();
    let report = run(&dev, Action::Status).await;
    let status_took = started.elapsed();
    assert_eq!(
        report.result.unwrap(),
        Outcome::Status {
            state: PowerState::On
        }
    );
    assert_eq!(log_since(before, 1), [format!("GET {system}")]);
    assert_eq!(dev.requests_sent(), 1);
    assert_eq!(relay.counts(), (1, 1), "(connections, full TLS handshakes)");

    let relay = start_relay().await;
    let dev = RedfishDevice::new(config().with_port(relay.port())).unwrap();
    let before = access_log().len();
    let started = Instant::now();
    let report = run(&dev, Action::Off).await;
    let off_took = started.elapsed();
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(
        log_since(before, 3),
        [
            format!("GET {system}"),
            format!("POST {system}/Actions/ComputerSystem.Reset"),
            format!("GET {system}"),
        ]
    );
    assert_eq!(dev.requests_sent(), 3);
    // Werkzeug (sushy's server) answers every request with `Connection: close`, so each
    // request needs a new TCP connection; the client resumes the TLS session instead of
    // a full handshake (no certificate, no key exchange).
    let (connections, full) = relay.counts();
    assert_eq!(full, 1, "one full TLS handshake per run");
    assert_eq!(
        connections, 3,
        "sushy closes the connection after each answer"
    );
    assert_eq!(emulator_state(), "Off");
    eprintln!(
        "measured: status 1 request, 1 connection, 1 full handshake in {status_took:?}; \
         verified off 3 requests, {connections} connections, {full} full handshake(s) in {off_took:?}"
    );
    force_state("On");
}

#[tokio::test]
async fn a_wrong_password_is_login_refused() {
    let _serial = SUSHY.lock().await;
    let mut c = config();
    c.password = "not-the-password".into();
    let dev = RedfishDevice::new(c).unwrap();
    let report = run(&dev, Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    // sushy-tools answers "Incorrect username or password"; a login refusal shows the status
    // only (its prose, scrubbed of a password `user`, would tell the password).
    assert!(err.to_string().contains("HTTP 401 Unauthorized"), "{err}");
    assert!(
        !err.to_string().contains("Incorrect username or password"),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-password"));
    assert!(report.commands.is_empty());
}

#[tokio::test]
async fn the_certificate_is_verified_unless_ssl_insecure() {
    let _serial = SUSHY.lock().await;
    let before = access_log().len();
    // System roots only: the emulator's test CA is not among them.
    let err = RedfishDevice::new(config().with_tls(TlsVerify::Verify { ca_file: None }))
        .unwrap()
        .power_state("")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // A CA the emulator does not use.
    let err = RedfishDevice::new(config().with_tls(TlsVerify::Verify {
        ca_file: Some(foreign_ca()),
    }))
    .unwrap()
    .power_state("")
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(
        log_since(before, 0).is_empty(),
        "a request went to an unverified peer"
    );

    // ssl_insecure=0 from options keeps verification on; ssl_insecure=1 turns it off;
    // ssl_ca_file with the emulator's CA verifies.
    let table = ParamTable::new()
        .with(&common::every_agent())
        .with(&fence_redfish::params());
    let port = peer_port("REDFISH_PORT").to_string();
    let ca = peer_var("REDFISH_CA");
    let system = peer_var("REDFISH_SYSTEMS_URI");
    let base = [
        ("ip", "127.0.0.1"),
        ("ipport", port.as_str()),
        ("username", USER),
        ("password", PASSWORD),
        ("systems_uri", system.as_str()),
    ];
    let from = |extra: &[(&'static str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = base.to_vec();
        pairs.extend_from_slice(extra);
        let options = table.parse(pairs).unwrap();
        RedfishDevice::new(RedfishConfig::from_options(&options).unwrap()).unwrap()
    };
    let err = from(&[("ssl_insecure", "0")])
        .power_state("")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    from(&[("ssl_insecure", "1")])
        .power_state("")
        .await
        .unwrap();
    from(&[("ssl_ca_file", ca.as_str())])
        .power_state("")
        .await
        .unwrap();
}

#[tokio::test]
async fn several_systems_without_systems_uri_fail_and_name_them() {
    let _serial = SUSHY.lock().await;
    let mut c = config();
    c.systems_uri = None;
    let dev = RedfishDevice::new(c).unwrap();
    let before = access_log().len();
    let report = run(&dev, Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094"),
        "{msg}"
    );
    assert!(
        msg.contains("/redfish/v1/Systems/48295b59-9e44-4fa7-8e91-f3527a1ef095"),
        "{msg}"
    );
    assert!(msg.contains("set systems_uri"), "{msg}");
    let log = log_since(before, 2);
    assert_eq!(log, ["GET /redfish/v1", "GET /redfish/v1/Systems"]);

    // A monitor of the same device succeeds: the service answers and accepts the
    // credentials, and one device fencing several systems through a host map is normal.
    let report = run(&dev, Action::Monitor).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert!(
        report.reads.is_empty(),
        "no system was picked: {:?}",
        report.reads
    );

    // With wrong credentials the same monitor fails: the Systems read needs them.
    let mut c = config();
    c.systems_uri = None;
    c.password = fence_core::Secret::new("wrong-password");
    let dev = RedfishDevice::new(c).unwrap();
    let report = run(&dev, Action::Monitor).await;
    assert_eq!(report.result.unwrap_err().kind(), ErrorKind::LoginRefused);
}

#[tokio::test]
async fn nmi_answered_501_fails_at_once_with_the_emulators_message() {
    let _serial = SUSHY.lock().await;
    let dev = device();
    let mut timing = fast_timing();
    timing.power_timeout = Some(Duration::from_secs(20));
    let started = Instant::now();
    let report = Engine::new(timing)
        .run(&dev, &Request::plugless(Action::Diag))
        .await;
    let took = started.elapsed();
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("HTTP 501"), "{err}");
    assert!(
        err.to_string().contains("Power state Nmi is not supported"),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn a_system_named_by_its_alias_is_followed_through_the_redirect() {
    let _serial = SUSHY.lock().await;
    force_state("On");
    // sushy answers /Systems/node1 with a 307 to the UUID URI.
    let dev = RedfishDevice::new(config().with_systems_uri("/redfish/v1/Systems/node1")).unwrap();
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::On);
}

#[tokio::test]
async fn session_auth_against_a_service_without_sessions_is_a_clear_error() {
    let _serial = SUSHY.lock().await;
    let dev = RedfishDevice::new(config().with_auth(AuthMethod::Session)).unwrap();
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("auth_method=basic"), "{err}");
    dev.close().await.unwrap();
}

/// The conformance suite's error paths against sushy-tools: a wrong password is one login
/// refusal (HTTP basic: sushy-tools has no SessionService), not retried; `close` twice is
/// safe.
#[tokio::test]
async fn conformance_error_paths() {
    let _serial = SUSHY.lock().await;
    let wrong = RedfishDevice::new(
        RedfishConfig::new("127.0.0.1", USER, "not-the-password")
            .with_port(peer_port("REDFISH_PORT"))
            .with_tls(TlsVerify::Verify {
                ca_file: Some(peer_path("REDFISH_CA")),
            })
            .with_systems_uri(peer_var("REDFISH_SYSTEMS_URI")),
    )
    .unwrap();
    conformance::wrong_password_is_refused_once(&wrong, "", fast_timing(), Duration::from_secs(5))
        .await;
    conformance::close_twice_is_safe(&wrong).await;
    force_state("On");
    let dev = device();
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::On);
    conformance::close_twice_is_safe(&dev).await;
    assert_eq!(emulator_state(), "On", "the error paths switched nothing");
}
