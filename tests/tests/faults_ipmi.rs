//! fence_ipmilan (the fence-agent binary) against misbehaving BMCs: fence-sim's fault modes
//! (silent, lie, refuse) and a UDP relay in front of fence-sim and of OpenIPMI's ipmi_sim
//! (peer `IPMISIM_PORT`) that loses 30 % of the datagrams or goes silent in the middle of
//! a session. Every failure is exit 1 with a `Failed:` line within a stated bound; nothing
//! but a read Off is ever reported as success.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::net::SocketAddr;
use std::time::Duration;

use fault_kit::{PASSWORD, assert_failed, cli, ipmi_args, ipmi_bmc};
use fence_core::PowerState;
use fence_tests::peer_port;
use fence_tests::relay::{UdpFault, UdpRelay};

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread")]
async fn a_bmc_that_never_answers_is_unreachable_within_login_timeout() {
    let sim = ipmi_bmc(&["silent"]).await;
    let mut args = ipmi_args("status", sim.bmcs()[0].addr.port(), PASSWORD);
    args.push("--login-timeout=2".into());
    let run = cli("fence_ipmilan", args).await;
    assert_failed(
        &run,
        "no answer to RMCP+ Open Session within 2.0 s",
        Duration::from_secs(2) + SLACK,
    );
    assert!(
        run.elapsed >= Duration::from_millis(1900),
        "gave up early: {:?}",
        run.elapsed
    );
    assert!(
        run.stderr.contains("Unable to connect/login"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bmc_behind_a_black_hole_is_unreachable_with_the_default_bound() {
    let sim = ipmi_bmc(&[]).await;
    let relay = UdpRelay::start(sim.bmcs()[0].addr, UdpFault::BlackHole)
        .await
        .unwrap();
    // Default login_timeout: 5 s per request, retransmitted at 0, 0.5, 1.5 and 3.5 s.
    let run = cli("fence_ipmilan", ipmi_args("off", relay.port(), PASSWORD)).await;
    assert_failed(
        &run,
        "no answer to RMCP+ Open Session within 5.0 s (4 transmissions)",
        Duration::from_secs(5) + SLACK,
    );
    assert_eq!(relay.counts().get().0, 4, "4 transmissions of Open Session");
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bmc_that_goes_silent_in_the_middle_of_a_session_fails_within_the_request_bound() {
    let sim = ipmi_bmc(&[]).await;
    // Open Session, RAKP 1 and RAKP 3 pass; Get Chassis Status is never answered.
    let relay = UdpRelay::start(sim.bmcs()[0].addr, UdpFault::StopAfter(3))
        .await
        .unwrap();
    let mut args = ipmi_args("off", relay.port(), PASSWORD);
    args.push("--login-timeout=2".into());
    let run = cli("fence_ipmilan", args).await;
    assert_failed(&run, "within 2.0 s", Duration::from_secs(2) + SLACK);
    assert!(run.stderr.contains("Get Chassis Status"), "{}", run.all());
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
}

/// fence_ipmilan's arguments for ipmi_sim behind `port`, with the retransmission settings
/// for a lossy network: a transmission at 0, 0.5, 1.5, 2.5, ... 9.5 s (11 per request).
fn lossy_args(action: &str, port: u16) -> Vec<String> {
    let mut args = ipmi_sim_args(action, port);
    args.extend(fault_kit::strings(&[
        "--ipmitool-timeout=1",
        "--login-timeout=10",
    ]));
    args
}

fn ipmi_sim_args(action: &str, port: u16) -> Vec<String> {
    fault_kit::strings(&[
        "-o",
        action,
        "-P",
        "-C",
        "3",
        "-a",
        "127.0.0.1",
        "-u",
        &port.to_string(),
        "-l",
        "admin",
        "-p",
        "password",
        "--power-wait=0",
    ])
}

/// The exit code of a status of ipmi_sim's chassis read without loss (0 on, 2 off).
async fn ipmi_sim_status() -> i32 {
    let port = peer_port("IPMISIM_PORT");
    cli("fence_ipmilan", ipmi_sim_args("status", port))
        .await
        .code
}

/// The tests that switch ipmi_sim's chassis take turns.
static IPMI_SIM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_of_datagrams_lost_still_fences_ipmi_sim_through_retransmission() {
    let _g = IPMI_SIM.lock().await;
    let target: SocketAddr = ([127, 0, 0, 1], peer_port("IPMISIM_PORT")).into();
    let on = cli("fence_ipmilan", ipmi_sim_args("on", target.port())).await;
    assert_eq!(on.code, 0, "{}", on.all());
    let mut lost = 0;
    for seed in [1, 2] {
        let relay = UdpRelay::start(target, UdpFault::Drop { share: 0.3, seed })
            .await
            .unwrap();
        for (action, line, code) in [
            ("off", "Success: Powered OFF\n", 2),
            ("on", "Success: Powered ON\n", 0),
        ] {
            let run = cli("fence_ipmilan", lossy_args(action, relay.port())).await;
            assert_eq!(
                (run.code, run.stdout.as_str()),
                (0, line),
                "seed {seed}, relay {:?}:\n{}",
                relay.counts().get(),
                run.all()
            );
            assert_eq!(
                ipmi_sim_status().await,
                code,
                "seed {seed}: read back after {action}"
            );
        }
        lost += relay.counts().get().2;
    }
    assert!(lost > 0, "the relay lost nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bmc_that_accepts_off_and_stays_on_times_out_and_never_succeeds() {
    let sim = ipmi_bmc(&["lie"]).await;
    let mut args = ipmi_args("off", sim.bmcs()[0].addr.port(), PASSWORD);
    args.push("--power-timeout=3".into());
    args.push("--power-wait=0".into());
    let run = cli("fence_ipmilan", args).await;
    assert_failed(
        &run,
        "Failed: Timed out waiting to power OFF",
        Duration::from_secs(3) + SLACK,
    );
    assert!(run.elapsed >= Duration::from_secs(3), "{:?}", run.elapsed);
    // reboot too: the off phase is never verified, so no success.
    let mut args = ipmi_args("reboot", sim.bmcs()[0].addr.port(), PASSWORD);
    args.push("--power-timeout=2".into());
    let run = cli("fence_ipmilan", args).await;
    // fence_ipmilan's default power_wait is 2 s; the bound is power_wait + power_timeout.
    assert_failed(
        &run,
        "Failed: Timed out waiting to power OFF",
        Duration::from_secs(4) + SLACK,
    );
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_power_off_fails_at_once_with_the_completion_code() {
    let sim = ipmi_bmc(&["refuse"]).await;
    let run = cli(
        "fence_ipmilan",
        ipmi_args("off", sim.bmcs()[0].addr.port(), PASSWORD),
    )
    .await;
    assert_failed(&run, "power off refused by the BMC", SLACK);
    assert!(run.stderr.contains("cc 0xd5"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_fail_fast_as_a_login_failure() {
    let sim = ipmi_bmc(&[]).await;
    let port = sim.bmcs()[0].addr.port();
    let run = cli("fence_ipmilan", ipmi_args("off", port, "not-the-password")).await;
    assert_failed(&run, "Unable to connect/login to fencing device", SLACK);
    assert!(run.stderr.contains("RAKP"), "{}", run.all());
    let mut args = ipmi_args("status", port, PASSWORD);
    args[8] = "nobody".into();
    let run = cli("fence_ipmilan", args).await;
    assert_failed(&run, "Unable to connect/login to fencing device", SLACK);
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
}

/// Every datagram duplicated both ways, in front of ipmi_sim. (fence-sim and pyghmi's
/// fake BMC answer a duplicated RAKP 1 or Open Session with new random values and refuse
/// the login that follows; ipmi_sim and real BMCs do not.)
#[tokio::test(flavor = "multi_thread")]
async fn every_datagram_duplicated_still_fences_ipmi_sim_with_the_right_state() {
    let _g = IPMI_SIM.lock().await;
    let target: SocketAddr = ([127, 0, 0, 1], peer_port("IPMISIM_PORT")).into();
    let relay = UdpRelay::start(target, UdpFault::Duplicate).await.unwrap();
    let on = cli("fence_ipmilan", ipmi_sim_args("on", target.port())).await;
    assert_eq!(on.code, 0, "{}", on.all());
    for (action, line, code) in [
        ("off", "Success: Powered OFF\n", 2),
        ("on", "Success: Powered ON\n", 0),
    ] {
        let run = cli("fence_ipmilan", ipmi_sim_args(action, relay.port())).await;
        assert_eq!((run.code, run.stdout.as_str()), (0, line), "{}", run.all());
        assert_eq!(ipmi_sim_status().await, code, "read back after {action}");
    }
    let run = cli("fence_ipmilan", ipmi_sim_args("status", relay.port())).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Status: ON\n"),
        "{}",
        run.all()
    );
}
