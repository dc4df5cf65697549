//! fence-rs's own backends against the simulators: the conformance suite, fencing many
//! machines at once, and what the engine makes of each fault mode. (Interoperability with
//! clients nobody here wrote is in ipmi_clients.rs and redfish_curl.rs.)

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fence_core::many::{Limits, Many, Target};
use fence_core::testkit::conformance::{fast_timing, run_all, usable_after_close};
use fence_core::{Action, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Secret, Timing};
use fence_ipmi::{CipherSuite, IpmiDevice, RetryPolicy};
use fence_redfish::{AuthMethod, RedfishDevice, TlsVerify};
use fence_sim::Faults;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};

fn ipmi_device(port: u16) -> Arc<IpmiDevice> {
    let retry = RetryPolicy {
        first: Duration::from_millis(50),
        interval: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
    };
    let config = fence_ipmi::IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
        .with_port(port)
        .with_cipher(CipherSuite::SUITE_3)
        .with_retry(retry);
    Arc::new(IpmiDevice::new(config).unwrap())
}

/// An off of every BMC of `sim`, one target each.
fn ipmi_off_targets(sim: &IpmiSim) -> Vec<Target> {
    sim.bmcs()
        .iter()
        .map(|b| {
            Target::plugless(
                ipmi_device(b.addr.port()) as Arc<dyn FenceDevice>,
                Action::Off,
            )
        })
        .collect()
}

struct CaFile(std::path::PathBuf);

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn ca_file(sim: &RedfishSim) -> CaFile {
    let path = std::env::temp_dir().join(format!(
        "fence-sim-backends-{}-{}.pem",
        std::process::id(),
        sim.services()[0].addr.port()
    ));
    std::fs::write(&path, sim.ca_pem()).unwrap();
    CaFile(path)
}

fn redfish_device(
    sim: &RedfishSim,
    service: usize,
    system: usize,
    ca: &CaFile,
    auth: AuthMethod,
) -> Arc<RedfishDevice> {
    let s = &sim.services()[service];
    let config = fence_redfish::RedfishConfig::new("127.0.0.1", "admin", Secret::new("password"))
        .with_port(s.addr.port())
        .with_systems_uri(s.system_uri(system))
        .with_tls(TlsVerify::Verify {
            ca_file: Some(ca.0.clone()),
        })
        .with_auth(auth);
    Arc::new(RedfishDevice::new(config).unwrap())
}

fn short_timing() -> Timing {
    Timing {
        power_timeout: Some(Duration::from_millis(800)),
        first_poll: Duration::from_millis(20),
        status_sleep: Duration::from_millis(100),
        call_timeout: Duration::from_secs(5),
        ..Timing::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_redfish_passes_the_conformance_suite_with_basic_and_session_auth() {
    let sim = RedfishSim::start(RedfishConfig {
        systems: 2,
        delay: Duration::from_millis(150),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = ca_file(&sim);
    for (system, auth) in [(0, AuthMethod::Basic), (1, AuthMethod::Session)] {
        let device = redfish_device(&sim, 0, system, &ca, auth);
        run_all(device.as_ref(), "", fast_timing()).await;
        device.close().await.unwrap();
        usable_after_close(device.as_ref(), "").await;
    }
    let c = &sim.services()[0].counters;
    assert!(c.sessions_created.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        c.sessions_created.load(Ordering::SeqCst),
        c.sessions_deleted.load(Ordering::SeqCst),
        "every session is deleted on close"
    );
}

/// `FenceDevice::close` leaves a usable device (fence-core's documented promise): after
/// each close the next run opens a new session, and every session opened is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_device_can_be_used_again() {
    let ipmi = IpmiSim::start(IpmiConfig::default()).await.unwrap();
    let bmc = &ipmi.bmcs()[0];
    let device = ipmi_device(bmc.addr.port());
    let redfish = RedfishSim::start(RedfishConfig::default()).await.unwrap();
    let ca = ca_file(&redfish);
    let rf = redfish_device(&redfish, 0, 0, &ca, AuthMethod::Session);
    let engine = Engine::new(short_timing());
    for round in 1..=3u64 {
        for d in [device.as_ref() as &dyn FenceDevice, rf.as_ref()] {
            assert_eq!(
                d.power_state("").await.unwrap(),
                PowerState::On,
                "round {round}"
            );
            d.close().await.unwrap();
        }
        let c = &bmc.counters;
        assert_eq!(c.sessions_opened.load(Ordering::SeqCst), round);
        assert_eq!(c.sessions_closed.load(Ordering::SeqCst), round);
        let c = &redfish.services()[0].counters;
        assert_eq!(c.sessions_created.load(Ordering::SeqCst), round);
        assert_eq!(c.sessions_deleted.load(Ordering::SeqCst), round);
    }
    // A whole fencing run after the closes works as on a new device.
    let report = engine
        .run(device.as_ref(), &fence_core::Request::plugless(Action::Off))
        .await;
    assert!(report.off_verified(), "{report:?}");
    device.close().await.unwrap();
    assert_eq!(bmc.counters.sessions_closed.load(Ordering::SeqCst), 4);
    // Closing twice is harmless and sends nothing more.
    device.close().await.unwrap();
    assert_eq!(bmc.counters.sessions_closed.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_fences_ipmi_and_redfish_machines_together() {
    let ipmi = IpmiSim::start(IpmiConfig {
        count: 20,
        delay: Duration::from_millis(100),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let redfish = RedfishSim::start(RedfishConfig {
        systems: 4,
        delay: Duration::from_millis(100),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = ca_file(&redfish);
    let mut targets = ipmi_off_targets(&ipmi);
    for system in 0..4 {
        let d = redfish_device(&redfish, 0, system, &ca, AuthMethod::Basic);
        targets.push(Target::plugless(d as Arc<dyn FenceDevice>, Action::Off));
    }
    let report = Many::new(Engine::new(fast_timing()))
        .limits(Limits::default().overall(8))
        .run(targets)
        .await;
    assert!(report.all_succeeded(), "{:?}", report.failed().next());
    assert!(report.peak_in_flight <= 8);
    assert!(report.targets.iter().all(|t| t.report.off_verified()));
    for b in ipmi.bmcs() {
        assert_eq!(b.machine.power(), PowerState::Off);
        assert_eq!(
            b.counters.sessions_opened.load(Ordering::SeqCst),
            1,
            "one session per run"
        );
        assert_eq!(
            b.counters.sessions_closed.load(Ordering::SeqCst),
            1,
            "closed after its target"
        );
    }
    for m in &redfish.services()[0].systems {
        assert_eq!(m.power(), PowerState::Off);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_bmc_never_counts_as_fenced() {
    let ipmi = IpmiSim::start(IpmiConfig {
        faults: Faults::NONE.with("lie").unwrap(),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let redfish = RedfishSim::start(RedfishConfig {
        faults: Faults::NONE.with("lie").unwrap(),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = ca_file(&redfish);
    let devices: Vec<Arc<dyn FenceDevice>> = vec![
        ipmi_device(ipmi.bmcs()[0].addr.port()),
        redfish_device(&redfish, 0, 0, &ca, AuthMethod::Basic),
    ];
    let targets = devices
        .iter()
        .map(|d| Target::plugless(Arc::clone(d), Action::Off))
        .collect();
    let report = Many::new(Engine::new(short_timing())).run(targets).await;
    for t in &report.targets {
        let err = t.report.result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PowerTimeout, "{}: {err}", t.backend);
        assert!(!t.report.off_verified());
        assert!(
            t.report.commands.iter().all(|c| c.accepted),
            "the BMC acknowledged"
        );
    }
    assert_eq!(ipmi.bmcs()[0].machine.power(), PowerState::On);
    assert_eq!(redfish.services()[0].systems[0].power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_silent_and_lossy_bmcs() {
    let mut faults_of = HashMap::new();
    faults_of.insert(0, Faults::NONE.with("refuse").unwrap());
    faults_of.insert(1, Faults::NONE.with("silent").unwrap());
    faults_of.insert(2, Faults::NONE.with("drop=0.2").unwrap());
    let sim = IpmiSim::start(IpmiConfig {
        count: 3,
        faults_of,
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let targets = ipmi_off_targets(&sim);
    let started = Instant::now();
    let report = Many::new(Engine::new(fast_timing())).run(targets).await;

    let refused = &report.targets[0].report;
    assert!(!refused.is_success());
    assert_eq!(refused.commands.len(), 1);
    assert!(!refused.commands[0].accepted);
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);

    let silent = report.targets[1].report.result.as_ref().unwrap_err();
    assert_eq!(silent.kind(), ErrorKind::Unreachable, "{silent}");

    let lossy = &report.targets[2].report;
    assert!(
        matches!(lossy.result, Ok(Outcome::PoweredOff)),
        "retransmission rides out 20% loss: {:?}",
        lossy.result
    );
    assert_eq!(sim.bmcs()[2].machine.power(), PowerState::Off);
    // The silent BMC is declared unreachable within the client's 2 s bound per request,
    // and the others did not wait for it.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_bmcs_are_fenced_through_retransmission() {
    let sim = IpmiSim::start(IpmiConfig {
        count: 10,
        faults: Faults::NONE.with("drop=0.25").unwrap(),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let targets = ipmi_off_targets(&sim);
    let report = Many::new(Engine::new(fast_timing())).run(targets).await;
    for (i, t) in report.targets.iter().enumerate() {
        assert!(
            matches!(t.report.result, Ok(Outcome::PoweredOff)),
            "BMC {i}: {:?}",
            t.report.result
        );
    }
    let dropped: u64 = sim
        .bmcs()
        .iter()
        .map(|b| b.counters.dropped.load(Ordering::SeqCst))
        .sum();
    assert!(dropped > 0, "the fault dropped datagrams");
}
