//! fence_ipmilan (the fence-agent binary) against misbehaving BMCs: fence-sim's fault modes
//! (silent, lie, refuse) and a UDP relay in front of fence-sim and of OpenIPMI's ipmi_sim
//! (peer `IPMISIM_PORT`) that loses 30 % of the datagrams (with the default options, which
//! must survive that), duplicates every datagram, or goes silent in the middle of a
//! session. Every failure is exit 1 with a `Failed:` line within a stated bound; nothing
//! but a read Off is ever reported as success.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fault_kit::{PASSWORD, assert_failed, cli, ipmi_args, ipmi_bmc, with};
use fence_core::PowerState;
use fence_test_support::relay::{UdpFault, UdpRelay};
use fence_tests::peer_port;

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
    // Default login_timeout: 5 s per request, sent at 0, 0.3, 0.9, 1.5, ... 4.5 s.
    let run = cli("fence_ipmilan", ipmi_args("off", relay.port(), PASSWORD)).await;
    assert_failed(
        &run,
        "no answer to RMCP+ Open Session within 5.0 s (9 transmissions)",
        Duration::from_secs(5) + SLACK,
    );
    assert_eq!(relay.counts().up, 9, "9 transmissions of Open Session");
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

/// ipmi_sim's arguments, without the power_wait of its default.
fn ipmi_sim_args(action: &str, port: u16) -> Vec<String> {
    with(fault_kit::ipmi_sim_args(action, port), &["--power-wait=0"])
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

/// Issue 9: 30 % of the datagrams lost both ways, and the DEFAULT options (`ipmitool_timeout`
/// 2, `login_timeout` 5) still fence ipmi_sim, for every seed.
#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_of_datagrams_lost_still_fences_ipmi_sim_through_retransmission() {
    let _g = IPMI_SIM.lock().await;
    let target: SocketAddr = ([127, 0, 0, 1], peer_port("IPMISIM_PORT")).into();
    let on = cli("fence_ipmilan", ipmi_sim_args("on", target.port())).await;
    assert_eq!(on.code, 0, "{}", on.all());
    let mut lost = 0;
    for seed in 1..=4 {
        let relay = UdpRelay::start(target, UdpFault::Drop { share: 0.3, seed })
            .await
            .unwrap();
        for (action, line, code) in [
            ("off", "Success: Powered OFF\n", 2),
            ("on", "Success: Powered ON\n", 0),
        ] {
            let run = cli("fence_ipmilan", ipmi_sim_args(action, relay.port())).await;
            assert_eq!(
                (run.code, run.stdout.as_str()),
                (0, line),
                "seed {seed}, relay {:?}:\n{}",
                relay.counts(),
                run.all()
            );
            assert_eq!(
                ipmi_sim_status().await,
                code,
                "seed {seed}: read back after {action}"
            );
        }
        lost += relay.counts().dropped;
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

/// Every datagram duplicated both ways, in front of ipmi_sim. (pyghmi's fake BMC answers a
/// duplicated RAKP 1 or Open Session with new random values and refuses the login that
/// follows; ipmi_sim, fence-sim and real BMCs do not.)
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

/// Issue 9 against fence-sim: 10 seeds, each a `status` and an `off` through its own relay
/// that loses 30 % of the datagrams both ways, with the DEFAULT options; every run succeeds
/// and the machine is off. The seeds run side by side, one simulated BMC each.
#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_of_datagrams_lost_still_fences_fence_sim_with_the_default_options() {
    const SEEDS: u64 = 10;
    let sim = fence_sim::ipmi::IpmiSim::start(fence_sim::ipmi::IpmiConfig {
        count: SEEDS as usize,
        ..fence_sim::ipmi::IpmiConfig::default()
    })
    .await
    .unwrap();
    let mut runs = Vec::new();
    for (seed, bmc) in (1..=SEEDS).zip(sim.bmcs()) {
        let target = bmc.addr;
        runs.push(tokio::spawn(async move {
            let relay = UdpRelay::start(target, UdpFault::Drop { share: 0.3, seed })
                .await
                .unwrap();
            let mut outcomes = Vec::new();
            for (action, line) in [
                ("status", "Status: ON\n"),
                ("off", "Success: Powered OFF\n"),
            ] {
                let mut args = ipmi_args(action, relay.port(), PASSWORD);
                args.push("--power-wait=0".into());
                let run = cli("fence_ipmilan", args).await;
                outcomes.push((seed, action, run.code, run.stdout == line, run.all()));
            }
            (outcomes, relay.counts().dropped)
        }));
    }
    let mut lost = 0;
    for run in runs {
        let (outcomes, dropped) = run.await.unwrap();
        lost += dropped;
        for (seed, action, code, printed, all) in outcomes {
            assert!(code == 0 && printed, "seed {seed}, {action}:\n{all}");
        }
    }
    for bmc in sim.bmcs() {
        assert_eq!(bmc.machine.power(), PowerState::Off);
    }
    assert!(lost > 0, "the relays lost nothing");
}

/// Every datagram duplicated both ways, in front of fence-sim: each copy of Open Session,
/// RAKP 1 and RAKP 3 gets the same answer, so fence_ipmilan logs in and fences, and the
/// BMC holds exactly one session per run (no orphan from a copy).
#[tokio::test(flavor = "multi_thread")]
async fn every_datagram_duplicated_still_fences_fence_sim() {
    let sim = ipmi_bmc(&[]).await;
    let bmc = &sim.bmcs()[0];
    let relay = UdpRelay::start(bmc.addr, UdpFault::Duplicate)
        .await
        .unwrap();
    for (action, line, power) in [
        ("off", "Success: Powered OFF\n", PowerState::Off),
        ("status", "Status: OFF\n", PowerState::Off),
        ("on", "Success: Powered ON\n", PowerState::On),
    ] {
        let mut args = ipmi_args(action, relay.port(), PASSWORD);
        args.push("--power-wait=0".into());
        let run = cli("fence_ipmilan", args).await;
        let code = if action == "status" { 2 } else { 0 };
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (code, line),
            "{}",
            run.all()
        );
        assert_eq!(bmc.machine.power(), power, "after {action}");
    }
    let opened = bmc.counters.sessions_opened.load(Ordering::Relaxed);
    let closed = bmc.counters.sessions_closed.load(Ordering::Relaxed);
    assert_eq!((opened, closed), (3, 3), "sessions opened and closed");
    assert!(relay.counts().down >= 2 * 5 * 3, "{:?}", relay.counts());
}

/// A measurement, not a check (`--ignored`): the share of `status` reads with fence-ipmi's
/// DEFAULT retransmission options (`ipmitool_timeout` 2, `login_timeout` 5) that fail when
/// 30 % of the datagrams are lost each way, one seeded relay per read.
/// `LOSS_RUNS` reads (200), `LOSS_TARGET` `fence-sim` (default, 8 reads at a time) or
/// `ipmi_sim` (the peer, one read at a time). Prints the failures and the rate.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement (minutes); see fence-ipmi/README.md, Retransmission"]
async fn measure_status_failures_at_thirty_percent_loss() {
    use fence_core::{FenceDevice, Secret};
    let runs: u64 = std::env::var("LOSS_RUNS").map_or(200, |v| v.parse().unwrap());
    let ipmi_sim = std::env::var("LOSS_TARGET").is_ok_and(|t| t == "ipmi_sim");
    let parallel: u64 = if ipmi_sim { 1 } else { 8 };
    let mut failures = Vec::new();
    let mut seed = 1;
    while seed <= runs {
        let batch: Vec<u64> = (seed..(seed + parallel).min(runs + 1)).collect();
        seed += parallel;
        let sim = if ipmi_sim {
            None
        } else {
            Some(
                fence_sim::ipmi::IpmiSim::start(fence_sim::ipmi::IpmiConfig {
                    count: batch.len(),
                    ..fence_sim::ipmi::IpmiConfig::default()
                })
                .await
                .unwrap(),
            )
        };
        let mut tasks = Vec::new();
        for (i, s) in batch.iter().enumerate() {
            let target: SocketAddr = match &sim {
                Some(sim) => sim.bmcs()[i].addr,
                None => ([127, 0, 0, 1], peer_port("IPMISIM_PORT")).into(),
            };
            let s = *s;
            tasks.push(tokio::spawn(async move {
                let relay = UdpRelay::start(
                    target,
                    UdpFault::Drop {
                        share: 0.3,
                        seed: s,
                    },
                )
                .await
                .unwrap();
                let mut config =
                    fence_ipmi::IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
                        .with_port(relay.port());
                if ipmi_sim {
                    config = config.with_cipher(fence_ipmi::CipherSuite::SUITE_3);
                }
                let device = fence_ipmi::IpmiDevice::new(config).unwrap();
                let result = device.power_state("").await;
                let _ = device.close().await;
                (s, result)
            }));
        }
        for t in tasks {
            let (s, result) = t.await.unwrap();
            if let Err(e) = result {
                println!("seed {s}: {e}");
                failures.push(s);
            }
        }
    }
    println!(
        "{} of {runs} status reads failed ({:.1} %) against {}: seeds {failures:?}",
        failures.len(),
        100.0 * failures.len() as f64 / runs as f64,
        if ipmi_sim { "ipmi_sim" } else { "fence-sim" }
    );
}
