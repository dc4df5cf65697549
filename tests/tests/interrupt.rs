//! SIGTERM and SIGINT in the middle of an operation: the agent closes what it opened at
//! the device (the IPMI session, the Redfish session) on a best-effort basis, says
//! "Failed: Interrupted by a signal" and exits 1, promptly. The devices are fence-sim BMCs
//! that accept off and stay On, so the agent is polling when the signal comes; fence-sim
//! counts the sessions opened and closed.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_kit::{
    PASSWORD, Run, faults, finish, ipmi_args, ipmi_sim_args, redfish_args, signal, spawn, temp_dir,
    wait_until, with,
};
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};
use fence_sim::{Event, Observer};

/// How long after the signal the agent may take to exit: closing is bounded by 2 s, and
/// fence-sim answers at once.
const EXIT_BOUND: Duration = Duration::from_millis(2500);

/// The events a simulator reports, kept for polling.
fn recorder() -> (Observer, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let observer: Observer = Arc::new(move |e: &Event| s.lock().unwrap().push(e.what.clone()));
    (observer, seen)
}

fn saw(seen: &Mutex<Vec<String>>, needle: &str) -> bool {
    seen.lock().unwrap().iter().any(|w| w.contains(needle))
}

/// Waits for the child's exit within `bound` (killing it otherwise) and returns exit code,
/// stderr and the time taken.
async fn exit_of(child: Child, bound: Duration) -> (i32, String, Duration) {
    let Run {
        code,
        stderr,
        elapsed: took,
        ..
    } = finish(child, bound)
        .await
        .unwrap_or_else(|| panic!("still running {bound:?} after the signal"));
    (code, stderr, took)
}

/// Sends `sig` to the child and asserts that it exits 1 within [`EXIT_BOUND`] saying it
/// was interrupted; `what` names the run in the messages. Returns stderr.
async fn interrupt(child: Child, sig: &str, what: &str) -> String {
    signal(&child, sig);
    let (code, stderr, took) = exit_of(child, EXIT_BOUND).await;
    assert_eq!(code, 1, "{what} SIG{sig}: {stderr}");
    assert!(
        stderr.contains("Failed: Interrupted by a signal"),
        "{what} SIG{sig}: {stderr}"
    );
    assert!(took <= EXIT_BOUND, "{what} SIG{sig}: {took:?}");
    stderr
}

/// Runs `agent` on a fence-sim device that accepts off and stays On, waits until the
/// simulator reports the lie (the agent is polling the state then) and interrupts it.
async fn interrupt_while_polling(
    agent: &str,
    args: &[String],
    seen: &Mutex<Vec<String>>,
    sig: &str,
) {
    let child = spawn(agent, args);
    assert!(
        wait_until(Duration::from_secs(10), || saw(seen, "(lied)")),
        "{agent}: no power command seen: {:?}",
        seen.lock().unwrap()
    );
    interrupt(child, sig, agent).await;
}

async fn interrupted_ipmi_off(sig: &str) {
    let (observer, seen) = recorder();
    let sim = IpmiSim::start(IpmiConfig {
        faults: faults(&["lie"]),
        observer: Some(observer),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let bmc = &sim.bmcs()[0];
    let args = with(
        ipmi_args("off", bmc.addr.port(), PASSWORD),
        &["--power-timeout=60", "--power-wait=0"],
    );
    interrupt_while_polling("fence_ipmilan", &args, &seen, sig).await;
    let counters = &bmc.counters;
    use std::sync::atomic::Ordering::Relaxed;
    assert!(
        wait_until(Duration::from_secs(1), || {
            counters.sessions_closed.load(Relaxed) == counters.sessions_opened.load(Relaxed)
        }),
        "SIG{sig}: {} sessions opened, {} closed",
        counters.sessions_opened.load(Relaxed),
        counters.sessions_closed.load(Relaxed)
    );
    assert_eq!(counters.sessions_opened.load(Relaxed), 1);
    assert_eq!(bmc.machine.power(), fence_core::PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_polling_closes_the_ipmi_session_and_exits_1() {
    interrupted_ipmi_off("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_while_polling_closes_the_ipmi_session_and_exits_1() {
    interrupted_ipmi_off("INT").await;
}

async fn interrupted_redfish_off(sig: &str) {
    let (observer, seen) = recorder();
    let sim = RedfishSim::start(RedfishConfig {
        faults: faults(&["lie"]),
        observer: Some(observer),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("interrupt-rf");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let service = &sim.services()[0];
    let args = with(
        redfish_args(
            "off",
            service.addr.port(),
            PASSWORD,
            &ca.display().to_string(),
        ),
        &["--power-timeout=60", "--auth-method=session"],
    );
    interrupt_while_polling("fence_redfish", &args, &seen, sig).await;
    use std::sync::atomic::Ordering::Relaxed;
    let c = &service.counters;
    assert!(
        wait_until(Duration::from_secs(1), || c.sessions_deleted.load(Relaxed)
            == 1),
        "SIG{sig}: {} sessions created, {} deleted",
        c.sessions_created.load(Relaxed),
        c.sessions_deleted.load(Relaxed)
    );
    assert_eq!(c.sessions_created.load(Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_polling_deletes_the_redfish_session_and_exits_1() {
    interrupted_redfish_off("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_while_polling_deletes_the_redfish_session_and_exits_1() {
    interrupted_redfish_off("INT").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_remote_command_that_hangs_exits_1_promptly() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("interrupt-vbox");
    // The script runs as the SSH user: let it leave its marker here.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let marker = dir.join("started");
    let script = dir.join("VBoxManage-hangs");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {}\nsleep 30\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = fault_kit::strings(&[
        "-o",
        "off",
        "-a",
        "127.0.0.1",
        "-u",
        &fence_tests::peer_var("SSH_PORT"),
        "-l",
        "fenceuser",
        "-p",
        "password",
        "-n",
        "vm1",
        "--ssh-known-hosts-file",
        &dir.join("kh").display().to_string(),
        "--vboxmanage-path",
        &script.display().to_string(),
        "--shell-timeout=30",
    ]);
    let child = spawn("fence_vbox", &args);
    assert!(
        wait_until(Duration::from_secs(10), || marker.exists()),
        "the remote command did not start"
    );
    interrupt(child, "TERM", "fence_vbox").await;
}

/// OpenIPMI's ipmi_sim (peer `IPMISIM_PORT`) has about 60 session slots: 70 runs killed
/// with SIGKILL in the middle of an off (nothing can be closed then) leave it refusing new
/// sessions; 70 runs interrupted with SIGTERM at the same point must all get through,
/// because each closes its session. The off is caught in its `power_wait`, with the
/// session open; the machine is switched on again behind the BMC's back before each run
/// (its state file, `IPMISIM_STATE`).
#[tokio::test(flavor = "multi_thread")]
async fn seventy_interrupted_offs_leave_no_session_behind_on_ipmi_sim() {
    let port = fence_tests::peer_port("IPMISIM_PORT");
    let power = fence_tests::peer_path("IPMISIM_STATE").join("power");
    let args = with(ipmi_sim_args("off", port), &["--power-wait=30"]);
    let started = Instant::now();
    for run in 1..=70 {
        std::fs::write(&power, "1\n").unwrap();
        let child = spawn("fence_ipmilan", &args);
        let switched = wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&power).is_ok_and(|s| s.trim() == "0")
        });
        let stderr = interrupt(child, "TERM", &format!("run {run}")).await;
        assert!(
            switched,
            "run {run}: the off never reached ipmi_sim (sessions exhausted?): {stderr}"
        );
    }
    let status = fault_kit::cli("fence_ipmilan", ipmi_sim_args("status", port)).await;
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{}",
        status.all()
    );
    eprintln!("70 interrupted offs in {:?}", started.elapsed());
}
