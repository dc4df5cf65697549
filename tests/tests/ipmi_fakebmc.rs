//! fence-ipmi against pyghmi's fake BMC (`tests/peers/fakebmc_lo.py`, PyPI pyghmi), started
//! by `tests/scripts/start-peers.sh`: user admin/password, cipher suite 3 only (its Open
//! Session answer always names suite 3), no IPMI v1.5, no privilege enforcement, an unknown
//! user name is ignored silently, power cycle refused (0xD5) when off.
//!
//! Peer settings: `FAKEBMC_PORT`. Every state is read back independently with
//! `ipmitool -I lanplus -C 3`. The tests share one BMC, so they run one at a time.
#![allow(clippy::unwrap_used)]

mod ipmitool;

use std::time::{Duration, Instant};

use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{Action, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Request, Secret};
use fence_ipmi::{CipherSuite, IpmiConfig, IpmiDevice, RetryPolicy};
use fence_tests::peer_port;
use ipmitool::Ipmitool;

static BMC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn port() -> u16 {
    peer_port("FAKEBMC_PORT")
}

/// Cipher suite not given: suite 17 is proposed, and fakebmc's suite-3 answer accepted.
fn config() -> IpmiConfig {
    IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password")).with_port(port())
}

/// ipmitool with suite 3, the only one fakebmc speaks.
fn ipmitool() -> Ipmitool {
    Ipmitool::lanplus(port())
}

/// The power state as ipmitool (not our code) reads it.
fn bmc_state() -> PowerState {
    ipmitool().power_state()
}

#[tokio::test]
async fn conformance_through_the_library() {
    let _g = BMC.lock().await;
    let device = IpmiDevice::new(config()).unwrap();
    conformance::run_all(&device, "", fast_timing()).await;
    device.close().await.unwrap();
    assert_eq!(bmc_state(), PowerState::On, "run_all leaves the node on");
    let stats = device.stats();
    assert_eq!(
        (stats.sessions_opened, stats.sessions_closed),
        (1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn off_on_cycle_and_diag_seen_by_ipmitool() {
    let _g = BMC.lock().await;
    ipmitool().force(PowerState::On);
    let device = IpmiDevice::new(config().with_cipher(CipherSuite::SUITE_3)).unwrap();
    let timing = fast_timing();
    let off = Engine::new(timing.clone())
        .run(&device, &Request::plugless(Action::Off))
        .await;
    assert_eq!(off.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(bmc_state(), PowerState::Off);
    let on = Engine::new(timing.clone())
        .run(&device, &Request::plugless(Action::On))
        .await;
    assert_eq!(on.result.unwrap(), Outcome::PoweredOn);
    assert_eq!(bmc_state(), PowerState::On);
    device.power_cycle("").await.unwrap();
    assert_eq!(bmc_state(), PowerState::On, "fakebmc's cycle ends on");
    device.diag("").await.unwrap();
    device.close().await.unwrap();
    assert_eq!(device.stats().sessions_opened, 1);
}

/// fakebmc always answers suite 3; asking for 17 explicitly must not silently accept it.
#[tokio::test]
async fn a_suite_other_than_the_one_asked_for_is_refused() {
    let _g = BMC.lock().await;
    let device = IpmiDevice::new(config().with_cipher(CipherSuite::SUITE_17)).unwrap();
    let err = device.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    assert!(
        err.to_string().contains("instead of cipher suite 17"),
        "{err}"
    );
    device.close().await.unwrap();
}

#[tokio::test]
async fn status_costs_five_round_trips() {
    let _g = BMC.lock().await;
    let device = IpmiDevice::new(config()).unwrap();
    device.power_state("").await.unwrap();
    device.close().await.unwrap();
    let s = device.stats();
    // Open Session (17 proposed, 3 answered), RAKP 1, RAKP 3, Get Chassis Status, Close.
    assert_eq!(
        (s.round_trips, s.datagrams_sent, s.datagrams_received),
        (5, 5, 5),
        "{s:?}"
    );
}

#[tokio::test]
async fn wrong_password_fails_fast() {
    let _g = BMC.lock().await;
    let mut c = config();
    c.password = Secret::new("wrong-pw");
    let device = IpmiDevice::new(c).unwrap();
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(!err.to_string().contains("wrong-pw"), "{err}");
    device.close().await.unwrap();
}

/// fakebmc drops RAKP 1 for an unknown user without a word (ipmitool waits 14 s). The
/// silence after an answered Open Session is reported as a login refusal once the request
/// bound (here shortened to 1.5 s; `login_timeout`, 5 s by default) has passed.
#[tokio::test]
async fn unknown_user_is_refused_within_the_bound() {
    let _g = BMC.lock().await;
    let mut c = config().with_retry(RetryPolicy {
        first: Duration::from_millis(200),
        interval: Duration::from_millis(500),
        request_timeout: Duration::from_millis(1500),
    });
    c.username = "nobody".into();
    let device = IpmiDevice::new(c).unwrap();
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("RAKP message 1"), "{err}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // One Open Session, then RAKP 1 retransmitted until the bound: once the BMC has
    // answered, every 4 round trips (at least 0.2 s), so at least 0, 0.2, ... 1.4 s on
    // loopback; never fewer than the 4 of the schedule before any answer.
    let s = device.stats();
    assert_eq!(s.round_trips, 2, "{s:?}");
    assert!(s.datagrams_sent >= 5 && s.datagrams_sent <= 9, "{s:?}");
    device.close().await.unwrap();
}
