//! ClusterLabs' Python fence agents (Debian's fence-agents: fence_redfish, fence_ipmilan over
//! ipmitool) fence machines of the simulators: the simulators speak the protocols as the
//! reference agents expect them. A missing agent is a failure, not a skip
//! (tests/scripts/install-deps.sh installs them).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::process::Command;
use std::time::Duration;

use fence_core::PowerState;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};

/// Runs a fence agent with the arguments `base` and `-o action`; returns (exit code, stdout).
async fn agent(
    program: &str,
    base: &[&str],
    action: &str,
    env: &[(&str, String)],
) -> (i32, String) {
    let path = format!("/usr/sbin/{program}");
    let mut cmd = Command::new(&path);
    cmd.args(base)
        .args(["-o", action])
        .envs(env.iter().cloned());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("{path} (Debian fence-agents) is a test peer and must be installed: {e}")
        });
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fence_redfish_fences_a_system_over_verified_tls() {
    let sim = RedfishSim::start(RedfishConfig {
        systems: 3,
        delay: Duration::from_millis(300),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = std::env::temp_dir().join(format!("fence-sim-py-{}.pem", std::process::id()));
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let s = &sim.services()[0];
    let port = s.addr.port().to_string();
    let base = [
        "--ip",
        "127.0.0.1",
        "--ipport",
        &port,
        "--username",
        "admin",
        "--password",
        "password",
        "--ssl-secure",
        "--systems-uri",
        "/redfish/v1/Systems/2",
    ];
    // requests verifies the certificate against this bundle.
    let env = [("REQUESTS_CA_BUNDLE", ca.display().to_string())];

    let (rc, out) = agent("fence_redfish", &base, "status", &env).await;
    assert_eq!((rc, out.as_str()), (0, "Status: ON"));
    let (rc, out) = agent("fence_redfish", &base, "off", &env).await;
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"));
    assert_eq!(s.systems[1].power(), PowerState::Off);
    assert_eq!(s.systems[0].power(), PowerState::On);
    let (rc, out) = agent("fence_redfish", &base, "status", &env).await;
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
    let _ = std::fs::remove_file(&ca);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fence_ipmilan_fences_a_bmc() {
    let sim = IpmiSim::start(IpmiConfig {
        delay: Duration::from_millis(300),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let bmc = &sim.bmcs()[0];
    let port = bmc.addr.port().to_string();
    let base = [
        "--ip",
        "127.0.0.1",
        "--ipport",
        &port,
        "--username",
        "admin",
        "--password",
        "password",
        "--lanplus",
        "--cipher",
        "3",
    ];
    let (rc, out) = agent("fence_ipmilan", &base, "off", &[]).await;
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"));
    assert_eq!(bmc.machine.power(), PowerState::Off);
    let (rc, out) = agent("fence_ipmilan", &base, "status", &[]).await;
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
}

/// Issue 16: Debian's Python fence_ipmilan with its DEFAULT interface (`lan`, IPMI v1.5:
/// ipmitool -I lan underneath) fences a simulated BMC, and reads the state back; the
/// Rust agent's `lan` path meets the same simulator in tests/ipmi_clients.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fence_ipmilan_fences_a_bmc_over_ipmi_v15() {
    let sim = IpmiSim::start(IpmiConfig::default()).await.unwrap();
    let bmc = &sim.bmcs()[0];
    let port = bmc.addr.port().to_string();
    let base = [
        "--ip",
        "127.0.0.1",
        "--ipport",
        &port,
        "--username",
        "admin",
        "--password",
        "password",
    ];
    let (rc, out) = agent("fence_ipmilan", &base, "off", &[]).await;
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"));
    assert_eq!(bmc.machine.power(), PowerState::Off);
    let (rc, out) = agent("fence_ipmilan", &base, "status", &[]).await;
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
    let c = &bmc.counters;
    assert!(c.sessions_opened.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}
