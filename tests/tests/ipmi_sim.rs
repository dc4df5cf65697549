//! fence-ipmi against OpenIPMI's `ipmi_sim` (Debian's openipmi), started by
//! `tests/scripts/start-peers.sh`: users admin/password (administrator) and oper/password
//! (operator limit), privilege enforced, 63 session slots, no Get Channel Cipher Suites,
//! no SHA-256 suites, IPMI v1.5 with MD5/password/none.
//!
//! Peer settings: `IPMISIM_PORT`. Every state is read back independently with `ipmitool`
//! (`-I lanplus -C 3`, or `-I lan` for the v1.5 tests). The tests share one simulator, so
//! they run one at a time (the `SIM` lock).
#![allow(clippy::unwrap_used)]

mod ipmitool;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{
    Action, Answer, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Request, Secret,
};
use fence_ipmi::{CipherSuite, IpmiConfig, IpmiDevice, Privilege, RetryPolicy, V15AuthType};
use fence_test_support::relay::{Counts, UdpFault, UdpRelay, UdpTap, Verdict};
use fence_tests::peer_port;
use ipmitool::Ipmitool;

static SIM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn port() -> u16 {
    peer_port("IPMISIM_PORT")
}

fn lanplus(suite: CipherSuite) -> IpmiConfig {
    IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
        .with_port(port())
        .with_cipher(suite)
}

fn lan(auth: Option<V15AuthType>) -> IpmiConfig {
    IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
        .with_port(port())
        .with_lan(auth)
}

/// ipmitool against the simulator, as admin: v1.5 with MD5, or lanplus with suite 3.
fn ipmitool(v15: bool) -> Ipmitool {
    if v15 {
        Ipmitool::lan_md5(port())
    } else {
        Ipmitool::lanplus(port())
    }
}

/// The power state as ipmitool (not our code) reads it.
fn sim_state(v15: bool) -> PowerState {
    ipmitool(v15).power_state()
}

/// Puts the simulator into `state` with ipmitool and waits (bounded) until ipmitool reads it.
fn force_state(state: PowerState) {
    ipmitool(false).force(state);
}

async fn run(device: &IpmiDevice, action: Action) -> Outcome {
    let report = Engine::new(fast_timing())
        .run(device, &Request::plugless(action))
        .await;
    report
        .result
        .unwrap_or_else(|e| panic!("{action} failed: {e}"))
}

#[tokio::test]
async fn conformance_lanplus_suite_3() {
    let _g = SIM.lock().await;
    let device = IpmiDevice::new(lanplus(CipherSuite::SUITE_3)).unwrap();
    conformance::run_all(&device, "", fast_timing()).await;
    device.close().await.unwrap();
    assert_eq!(
        sim_state(false),
        PowerState::On,
        "run_all leaves the node on"
    );
    let stats = device.stats();
    assert_eq!(
        stats.sessions_opened, 1,
        "one session for the whole suite: {stats:?}"
    );
    assert_eq!(stats.sessions_closed, 1, "{stats:?}");
}

#[tokio::test]
async fn conformance_lan_md5() {
    let _g = SIM.lock().await;
    let device = IpmiDevice::new(lan(Some(V15AuthType::Md5))).unwrap();
    conformance::run_all(&device, "", fast_timing()).await;
    device.close().await.unwrap();
    assert_eq!(sim_state(true), PowerState::On);
    assert_eq!(device.stats().sessions_closed, 1);
}

/// Suites 1, 2, 3 and the automatic choice (17 refused by ipmi_sim, then 3) switch the power,
/// and ipmitool sees each change.
#[tokio::test]
async fn lanplus_suites_1_2_3_and_auto_switch_power() {
    let _g = SIM.lock().await;
    let configs = [
        lanplus(CipherSuite::SUITE_1),
        lanplus(CipherSuite::SUITE_2),
        lanplus(CipherSuite::SUITE_3),
        IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password")).with_port(port()),
    ];
    for config in configs {
        let what = format!("{:?}", config.interface);
        force_state(PowerState::On);
        let device = IpmiDevice::new(config).unwrap();
        assert_eq!(
            device.power_state("").await.unwrap(),
            PowerState::On,
            "{what}"
        );
        assert_eq!(
            run(&device, Action::Off).await,
            Outcome::PoweredOff,
            "{what}"
        );
        assert_eq!(
            sim_state(false),
            PowerState::Off,
            "{what}: ipmitool disagrees"
        );
        assert_eq!(run(&device, Action::On).await, Outcome::PoweredOn, "{what}");
        assert_eq!(
            sim_state(false),
            PowerState::On,
            "{what}: ipmitool disagrees"
        );
        device.close().await.unwrap();
    }
}

/// IPMI v1.5 with MD5, straight password and (asked for by name) none.
#[tokio::test]
async fn lan_md5_password_and_none_switch_power() {
    let _g = SIM.lock().await;
    for auth in [
        None,
        Some(V15AuthType::Md5),
        Some(V15AuthType::Password),
        Some(V15AuthType::None),
    ] {
        force_state(PowerState::On);
        let device = IpmiDevice::new(lan(auth)).unwrap();
        assert_eq!(
            run(&device, Action::Off).await,
            Outcome::PoweredOff,
            "{auth:?}"
        );
        assert_eq!(
            sim_state(true),
            PowerState::Off,
            "{auth:?}: ipmitool -I lan disagrees"
        );
        assert_eq!(
            run(&device, Action::On).await,
            Outcome::PoweredOn,
            "{auth:?}"
        );
        assert_eq!(
            sim_state(true),
            PowerState::On,
            "{auth:?}: ipmitool -I lan disagrees"
        );
        device.close().await.unwrap();
    }
}

#[tokio::test]
async fn power_cycle_ends_on_and_diag_is_refused_as_unsupported() {
    let _g = SIM.lock().await;
    force_state(PowerState::On);
    let device = IpmiDevice::new(lanplus(CipherSuite::SUITE_3)).unwrap();
    device.power_cycle("").await.unwrap();
    // ipmi_sim switches off, then on again from a 1 s timer.
    ipmitool(false).wait_for(PowerState::On, Duration::from_secs(10));
    // ipmi_sim answers Chassis Control 4 (NMI) with cc 0xCC.
    let err = device.diag("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("0xcc"), "{err}");
    // The session survives a refused command.
    assert_eq!(device.power_state("").await.unwrap(), PowerState::On);
    device.close().await.unwrap();
    assert_eq!(device.stats().sessions_opened, 1);
}

async fn expect_login_refused(config: IpmiConfig, bound: Duration) -> String {
    let device = IpmiDevice::new(config).unwrap();
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    let took = started.elapsed();
    device.close().await.unwrap();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(took < bound, "took {took:?}: {err}");
    assert!(!err.to_string().contains("password\""), "{err}");
    err.to_string()
}

#[tokio::test]
async fn wrong_password_and_wrong_user_fail_fast() {
    let _g = SIM.lock().await;
    let fast = Duration::from_secs(1);
    let mut c = lanplus(CipherSuite::SUITE_3);
    c.password = Secret::new("wrong-pw");
    let msg = expect_login_refused(c, fast).await;
    assert!(msg.contains("wrong password"), "{msg}");
    assert!(!msg.contains("wrong-pw"), "the password leaked: {msg}");

    let mut c = lanplus(CipherSuite::SUITE_3);
    c.username = "nobody".into();
    let msg = expect_login_refused(c, fast).await;
    assert!(msg.contains("unauthorized name"), "{msg}");

    // Automatic suite choice too (one more round trip).
    let mut c =
        IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("wrong-pw")).with_port(port());
    c.username = "admin".into();
    expect_login_refused(c, fast).await;

    // IPMI v1.5: an unknown user is refused at once (Get Session Challenge, cc 0x81).
    let mut c = lan(Some(V15AuthType::Md5));
    c.username = "nobody".into();
    let msg = expect_login_refused(c, fast).await;
    assert!(msg.contains("invalid user name"), "{msg}");
}

/// ipmi_sim has no BMC key: a Kg given by us makes RAKP 4 mismatch. The BMC already counts
/// the session as open, so it is closed with the password-derived keys (no session left).
#[tokio::test]
async fn a_kg_the_bmc_does_not_use_is_refused_and_closed() {
    let _g = SIM.lock().await;
    let before = active_sessions();
    let mut c = lanplus(CipherSuite::SUITE_3);
    c.kg = Some(Secret::new("0102030405"));
    let msg = expect_login_refused(c, Duration::from_secs(1)).await;
    assert!(msg.contains("RAKP message 4"), "{msg}");
    assert!(!msg.contains("0102030405"), "the key leaked: {msg}");
    assert_eq!(
        active_sessions(),
        before,
        "the half-made session was not closed"
    );
}

/// IPMI v1.5 has no way to say "wrong password": ipmi_sim ignores the Activate Session
/// (ipmitool -I lan waits 8 s for the same reason). The silence after an answered Get
/// Session Challenge is reported as a login refusal when the request bound passes.
#[tokio::test]
async fn lan_wrong_password_is_a_login_refusal_after_the_bound() {
    let _g = SIM.lock().await;
    let mut c = lan(Some(V15AuthType::Md5)).with_retry(RetryPolicy {
        first: Duration::from_millis(200),
        interval: Duration::from_millis(400),
        request_timeout: Duration::from_millis(1500),
    });
    c.password = Secret::new("wrong-pw");
    let msg = expect_login_refused(c, Duration::from_millis(2500)).await;
    assert!(msg.contains("Activate Session"), "{msg}");
}

/// The operator account works at privlvl operator. A user-level session may read but not
/// switch (the BMC answers 0xD4). Over IPMI v1.5, ipmi_sim refuses the operator account an
/// administrator session (cc 0x86); over RMCP+ it grants it (not checked here).
#[tokio::test]
async fn operator_account_and_privilege_levels() {
    let _g = SIM.lock().await;
    force_state(PowerState::On);
    let mut c = lanplus(CipherSuite::SUITE_3).with_privilege(Privilege::Operator);
    c.username = "oper".into();
    let device = IpmiDevice::new(c.clone()).unwrap();
    assert_eq!(run(&device, Action::Off).await, Outcome::PoweredOff);
    assert_eq!(sim_state(false), PowerState::Off);
    device.close().await.unwrap();

    let user = IpmiDevice::new(c.with_privilege(Privilege::User)).unwrap();
    assert_eq!(user.power_state("").await.unwrap(), PowerState::Off);
    let err = user.set_power("", PowerState::On).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("0xd4"), "{err}");
    let c = err
        .context()
        .expect("a refused command carries its exchange");
    assert_eq!(c.answer, Some(Answer::Ipmi { code: 0xd4 }), "{err}");
    assert_eq!(
        c.request.as_deref(),
        Some("Chassis Control (power on)"),
        "{err}"
    );
    user.close().await.unwrap();
    assert_eq!(
        user.stats().sessions_closed,
        1,
        "the refusal kept the session usable"
    );

    let mut v15 = lan(Some(V15AuthType::Md5)).with_privilege(Privilege::Administrator);
    v15.username = "oper".into();
    let msg = expect_login_refused(v15, Duration::from_secs(1)).await;
    assert!(msg.contains("0x86"), "{msg}");
    assert_eq!(sim_state(false), PowerState::Off, "nothing switched it on");
}

/// `active sessions` as `ipmitool session info active` reports it (ipmitool's own session
/// included).
fn active_sessions() -> u32 {
    let out = ipmitool(false).run(&["session", "info", "active"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("active sessions"))
        .unwrap_or_else(|| panic!("no active sessions line in {out}"));
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// ipmi_sim has 63 session slots; a client that leaked one session per run would fail
/// from about the 64th run on. 100 closed runs, then 80 runs that only drop the device
/// (the best-effort Close Session of `Drop`), then ipmitool must still get a session.
#[tokio::test]
async fn hundred_runs_leave_no_session_open() {
    let _g = SIM.lock().await;
    // Half-open sessions of other tests (a duplicated or lost Open Session answer makes
    // ipmi_sim hold one) expire within about 30 s: wait for them, with a bound.
    let quiet = Instant::now() + Duration::from_secs(60);
    while active_sessions() > 1 && Instant::now() < quiet {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The check sees our sessions: one open session of ours, plus ipmitool's.
    let held = IpmiDevice::new(lanplus(CipherSuite::SUITE_3)).unwrap();
    held.power_state("").await.unwrap();
    assert_eq!(active_sessions(), 2, "our open session is visible");
    held.close().await.unwrap();
    assert_eq!(active_sessions(), 1, "and gone after close");
    let started = Instant::now();
    for i in 0..100 {
        let device = IpmiDevice::new(lanplus(CipherSuite::SUITE_3)).unwrap();
        let read = device.power_state("").await;
        let closed = device.close().await;
        assert!(read.is_ok(), "run {i}: {read:?}");
        assert!(closed.is_ok(), "run {i}: close: {closed:?}");
        assert_eq!(device.stats().sessions_closed, 1, "run {i}");
    }
    let closed_runs = started.elapsed();
    assert_eq!(
        active_sessions(),
        1,
        "only ipmitool's own session may be active"
    );
    for i in 0..80 {
        let device = IpmiDevice::new(lanplus(CipherSuite::SUITE_3)).unwrap();
        let read = device.power_state("").await;
        assert!(read.is_ok(), "drop run {i}: {read:?}");
        drop(device);
    }
    // The Close Session of Drop is not waited for: give the last one a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        active_sessions(),
        1,
        "sessions left open by dropped devices"
    );
    for i in 0..70 {
        let device = IpmiDevice::new(lan(Some(V15AuthType::Md5))).unwrap();
        let read = device.power_state("").await;
        device.close().await.unwrap();
        assert!(read.is_ok(), "lan run {i}: {read:?}");
    }
    assert_eq!(active_sessions(), 1, "sessions left open by v1.5 runs");
    sim_state(true);
    eprintln!("100 closed lanplus runs took {closed_runs:?}");
}

/// The round trips of one run, counted by a relay: status 5 (6 when the suite is not
/// given and the BMC refuses 17), off from on 8 (status, Set Session Privilege Level,
/// Chassis Control, status, besides the 3 of session setup and the Close Session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_run_counted_by_a_relay() {
    let _g = SIM.lock().await;
    let relay = UdpRelay::start(
        SocketAddr::from(([127, 0, 0, 1], port())),
        UdpFault::Forward,
    )
    .await
    .unwrap();
    let via_relay = |c: IpmiConfig| c.with_port(relay.port());
    let cases: [(&str, IpmiConfig, Action, PowerState, u64); 6] = [
        (
            "status, cipher 3",
            via_relay(lanplus(CipherSuite::SUITE_3)),
            Action::Status,
            PowerState::On,
            5,
        ),
        (
            "status, cipher not given",
            via_relay(IpmiConfig::lanplus(
                "127.0.0.1",
                "admin",
                Secret::new("password"),
            )),
            Action::Status,
            PowerState::On,
            6,
        ),
        (
            "off from on, cipher 3",
            via_relay(lanplus(CipherSuite::SUITE_3)),
            Action::Off,
            PowerState::On,
            8,
        ),
        (
            "off from on, cipher not given",
            via_relay(IpmiConfig::lanplus(
                "127.0.0.1",
                "admin",
                Secret::new("password"),
            )),
            Action::Off,
            PowerState::On,
            9,
        ),
        (
            "status, lan md5",
            via_relay(lan(Some(V15AuthType::Md5))),
            Action::Status,
            PowerState::On,
            4,
        ),
        (
            "status, lan auth not given",
            via_relay(lan(None)),
            Action::Status,
            PowerState::On,
            5,
        ),
    ];
    for (what, config, action, start, expected) in cases {
        force_state(start);
        relay.take();
        let device = IpmiDevice::new(config).unwrap();
        let started = Instant::now();
        run(&device, action).await;
        device.close().await.unwrap();
        let took = started.elapsed();
        // Let the relay forward the last answer before reading its counters.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Counts { up, down, .. } = relay.take();
        let stats = device.stats();
        eprintln!("{what}: {up} datagrams up, {down} down, {took:?}");
        assert_eq!(up, expected, "{what}: datagrams to the BMC");
        assert_eq!(down, expected, "{what}: datagrams from the BMC");
        assert_eq!(u64::from(stats.round_trips), expected, "{what}: {stats:?}");
    }
}

/// A tap in front of ipmi_sim that forges the (unauthenticated) v1.5 Get Channel
/// Authentication Capabilities answer: the MD2 and MD5 bits are cleared, so the BMC seems to
/// offer only the straight password and none. It keeps every datagram the client sends.
#[derive(Clone, Default)]
struct Forging {
    sent: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

/// Byte offsets in a sessionless v1.5 answer (IPMI 2.0 spec, table 13-8: RMCP header 4,
/// session header 9 without an authentication code, length 1, then the message).
const V15_CMD: usize = 19;
const V15_FIRST_DATA: usize = 21;

impl UdpTap for Forging {
    fn to_device(&self, _client: usize, d: &mut Vec<u8>) -> Verdict {
        self.sent.lock().unwrap().push(d.clone());
        Verdict::Forward
    }

    fn to_client(&self, _client: usize, d: &mut Vec<u8>) -> Verdict {
        let n = d.len();
        let sessionless_v15 = n > V15_FIRST_DATA + 2 && d[3] == 0x07 && d[4] == 0x00;
        if sessionless_v15 && d[V15_CMD] == 0x38 && d[V15_CMD + 1] == 0x00 {
            let types = V15_FIRST_DATA + 1;
            let before = d[types];
            d[types] &= !0x06;
            // The second checksum covers rsAddr .. data: keep the sum at zero.
            d[n - 1] = d[n - 1].wrapping_add(before.wrapping_sub(d[types]));
        }
        Verdict::Forward
    }
}

impl Forging {
    /// Whether any datagram from the client holds `needle`.
    fn client_sent(&self, needle: &[u8]) -> bool {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .any(|d| d.windows(needle.len()).any(|w| w == needle))
    }
}

/// A forged capabilities answer without MD5 never pushes us into the straight password:
/// without `auth=` the login fails with a message naming `auth=password`, and not one
/// datagram carries the password. ipmitool `-I lan` (no `-A`), judged through the same relay,
/// does fall back and sends it in clear: the downgrade is real, and the test can see it.
/// With `auth=password` given by name the straight password is used, as asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_answer_without_md5_never_downgrades_to_the_clear_password() {
    let _g = SIM.lock().await;
    force_state(PowerState::On);
    let forging = Forging::default();
    let relay = UdpRelay::start_tapped(
        SocketAddr::from(([127, 0, 0, 1], port())),
        UdpFault::Forward,
        forging.clone(),
    )
    .await
    .unwrap();

    let device = IpmiDevice::new(lan(None).with_port(relay.port())).unwrap();
    let err = device.power_state("").await.unwrap_err();
    device.close().await.unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("auth=password") && msg.contains("it offers: password, none"),
        "{msg}"
    );
    assert!(
        !forging.client_sent(b"password"),
        "the password went out in clear"
    );

    let peer = relay.port();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ipmitool")
            .args(["-I", "lan", "-H", "127.0.0.1", "-p", &peer.to_string()])
            .args(["-U", "admin", "-P", "password", "-N", "1", "-R", "1"])
            .args(["chassis", "power", "status"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        forging.client_sent(b"password"),
        "ipmitool without -A took MD5 or nothing; the forged answer did not reach it: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let by_name =
        IpmiDevice::new(lan(Some(V15AuthType::Password)).with_port(relay.port())).unwrap();
    assert_eq!(by_name.power_state("").await.unwrap(), PowerState::On);
    by_name.close().await.unwrap();
}

/// The conformance suite's error paths against ipmi_sim: a wrong password is one login
/// refusal, not retried; a BMC address that never answers is unreachable within the bound;
/// `close` twice is safe on both.
#[tokio::test]
async fn conformance_error_paths() {
    let _g = SIM.lock().await;
    let mut c = lanplus(CipherSuite::SUITE_3);
    c.password = Secret::new("not-the-password");
    let wrong = IpmiDevice::new(c).unwrap();
    conformance::wrong_password_is_refused_once(&wrong, "", fast_timing(), Duration::from_secs(5))
        .await;
    conformance::close_twice_is_safe(&wrong).await;

    // A UDP port that takes every packet and answers none.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let retry = RetryPolicy {
        first: Duration::from_millis(100),
        interval: Duration::from_millis(200),
        request_timeout: Duration::from_secs(1),
    };
    let dead = IpmiDevice::new(
        IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
            .with_port(silent.local_addr().unwrap().port())
            .with_cipher(CipherSuite::SUITE_3)
            .with_retry(retry),
    )
    .unwrap();
    conformance::unreachable_is_bounded(&dead, "", Duration::from_secs(5)).await;
    conformance::close_twice_is_safe(&dead).await;
}
