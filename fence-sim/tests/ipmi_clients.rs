//! The IPMI simulator, spoken to by ipmitool and FreeIPMI's ipmipower (clients nobody here
//! wrote), and by fence-ipmi through fence-core's conformance suite. A missing client is a
//! failure, not a skip: tests/scripts/install-deps.sh installs them.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fence_core::{FenceDevice, PowerState, Secret};
use fence_sim::Faults;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};

/// Runs a client program; returns (exit success, stdout + stderr).
async fn run(program: &str, args: Vec<String>) -> (bool, String) {
    let mut cmd = Command::new(program);
    cmd.args(&args);
    let program = program.to_owned();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("{program} is a test peer and must be installed (tests/scripts/install-deps.sh): {e}")
        });
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn ipmitool(port: u16, extra: &[&str], command: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "admin",
        "-N",
        "1",
        "-R",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(command.iter().map(|s| s.to_string()));
    a
}

async fn sim(config: IpmiConfig) -> IpmiSim {
    IpmiSim::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmitool_cipher_3_reads_and_switches_with_the_delay() {
    let sim = sim(IpmiConfig {
        count: 2,
        delay: Duration::from_millis(300),
        ..IpmiConfig::default()
    })
    .await;
    let bmc = &sim.bmcs()[1];
    let port = bmc.addr.port();
    let pw = ["-C", "3", "-P", "password"];

    let (ok, out) = run(
        "ipmitool",
        ipmitool(port, &pw, &["chassis", "power", "status"]),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "Chassis Power is on");

    let (ok, out) = run(
        "ipmitool",
        ipmitool(port, &pw, &["chassis", "power", "off"]),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "Chassis Power Control: Down/Off");
    let (_, out) = run(
        "ipmitool",
        ipmitool(port, &pw, &["chassis", "power", "status"]),
    )
    .await;
    assert_eq!(
        out.trim(),
        "Chassis Power is on",
        "the delay is not over yet"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, out) = run(
            "ipmitool",
            ipmitool(port, &pw, &["chassis", "power", "status"]),
        )
        .await;
        if out.trim() == "Chassis Power is off" {
            break;
        }
        assert!(Instant::now() < deadline, "never went off: {out}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bmc.machine.power(), PowerState::Off);
    assert_eq!(
        sim.bmcs()[0].machine.power(),
        PowerState::On,
        "only BMC 1 changed"
    );
    let c = &bmc.counters;
    assert!(c.sessions_opened.load(Ordering::SeqCst) >= 4);
    assert_eq!(
        c.sessions_opened.load(Ordering::SeqCst),
        c.sessions_closed.load(Ordering::SeqCst),
        "ipmitool closed every session it opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmitool_picks_a_suite_from_the_cipher_suite_list_and_wrong_passwords_fail() {
    let sim = sim(IpmiConfig::default()).await;
    let port = sim.bmcs()[0].addr.port();
    let (ok, out) = run(
        "ipmitool",
        ipmitool(port, &["-P", "password"], &["chassis", "power", "status"]),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "Chassis Power is on");

    let started = Instant::now();
    let (ok, out) = run(
        "ipmitool",
        ipmitool(
            port,
            &["-C", "3", "-P", "wrong"],
            &["chassis", "power", "off"],
        ),
    )
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("Unable to establish IPMI v2 / RMCP+ session"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    assert_eq!(sim.bmcs()[0].machine.power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmipower_fences_a_hostrange_of_simulated_bmcs() {
    let sim = IpmiSim::start_consecutive(IpmiConfig {
        count: 8,
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let hostrange = sim.describe()["hostrange"].as_str().unwrap().to_owned();
    let args = |op: &str| -> Vec<String> {
        [
            "-D", "LAN_2_0", "-h", &hostrange, "-u", "admin", "-p", "password", "-I", "3", op,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let (ok, out) = run("ipmipower", args("--stat")).await;
    assert!(ok, "{out}");
    assert_eq!(out.matches(": on").count(), 8, "{out}");

    let mut off = args("--off");
    off.push("--wait-until-off".into());
    let (ok, out) = run("ipmipower", off).await;
    assert!(ok, "{out}");
    assert_eq!(out.matches(": ok").count(), 8, "{out}");
    for b in sim.bmcs() {
        assert_eq!(b.machine.power(), PowerState::Off);
    }
    let (_, out) = run("ipmipower", args("--stat")).await;
    assert_eq!(out.matches(": off").count(), 8, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmitool_sees_the_fault_modes() {
    let mut faults_of = std::collections::HashMap::new();
    faults_of.insert(0, Faults::NONE.with("lie").unwrap());
    faults_of.insert(1, Faults::NONE.with("refuse").unwrap());
    faults_of.insert(2, Faults::NONE.with("silent").unwrap());
    let sim = sim(IpmiConfig {
        count: 3,
        faults_of,
        ..IpmiConfig::default()
    })
    .await;
    let pw = ["-C", "3", "-P", "password"];
    let port = |i: usize| sim.bmcs()[i].addr.port();

    // lie: the command is acknowledged, the machine stays on.
    let (ok, out) = run(
        "ipmitool",
        ipmitool(port(0), &pw, &["chassis", "power", "off"]),
    )
    .await;
    assert!(ok, "{out}");
    let (_, out) = run(
        "ipmitool",
        ipmitool(port(0), &pw, &["chassis", "power", "status"]),
    )
    .await;
    assert_eq!(out.trim(), "Chassis Power is on");

    // refuse: a completion code, the machine stays on.
    let (ok, out) = run(
        "ipmitool",
        ipmitool(port(1), &pw, &["chassis", "power", "off"]),
    )
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("Command not supported in present state"),
        "{out}"
    );
    assert_eq!(sim.bmcs()[1].machine.power(), PowerState::On);

    // silent: nothing comes back.
    let (ok, out) = run(
        "ipmitool",
        ipmitool(port(2), &pw, &["chassis", "power", "status"]),
    )
    .await;
    assert!(!ok, "{out}");
    assert!(sim.bmcs()[2].counters.received.load(Ordering::SeqCst) > 0);
    assert_eq!(sim.bmcs()[2].counters.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_of_datagrams_is_dropped() {
    let sim = sim(IpmiConfig {
        faults: Faults::NONE.with("drop=0.5").unwrap(),
        ..IpmiConfig::default()
    })
    .await;
    let bmc = &sim.bmcs()[0];
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // RMCP/ASF presence pings: 200 sent, each answered unless the ping or the pong is lost.
    let ping = [
        0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x01, 0x00, 0x00,
    ];
    for _ in 0..200 {
        socket.send_to(&ping, bmc.addr).await.unwrap();
    }
    let mut answers = 0;
    let mut buf = [0u8; 64];
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
    {
        answers += 1;
    }
    // Each answer survives two coin flips: expect about 50 of 200.
    assert!((20..=90).contains(&answers), "{answers} answers");
    assert_eq!(bmc.counters.received.load(Ordering::SeqCst), 200);
    assert_eq!(bmc.counters.sent.load(Ordering::SeqCst), answers);
    assert_eq!(bmc.counters.dropped.load(Ordering::SeqCst), 200 - answers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_ipmi_passes_the_conformance_suite_against_the_simulator() {
    let sim = sim(IpmiConfig {
        delay: Duration::from_millis(100),
        ..IpmiConfig::default()
    })
    .await;
    let config = fence_ipmi::IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
        .with_port(sim.bmcs()[0].addr.port())
        .with_cipher(fence_ipmi::CipherSuite::SUITE_3);
    let device: Arc<dyn FenceDevice> = Arc::new(fence_ipmi::IpmiDevice::new(config).unwrap());
    fence_core::testkit::conformance::run_all(
        device.as_ref(),
        "",
        fence_core::testkit::conformance::fast_timing(),
    )
    .await;
    device.close().await.unwrap();
    let c = &sim.bmcs()[0].counters;
    assert_eq!(
        c.sessions_opened.load(Ordering::SeqCst),
        c.sessions_closed.load(Ordering::SeqCst)
    );
}

/// ipmitool's arguments for IPMI v1.5 (`-I lan`) with authentication type `auth` (`MD5`,
/// `PASSWORD`, or none given: ipmitool picks from the capabilities).
fn ipmitool_lan(port: u16, auth: Option<&str>, password: &str, command: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-I",
        "lan",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "admin",
        "-P",
        password,
        "-L",
        "OPERATOR",
        "-N",
        "1",
        "-R",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(auth) = auth {
        a.extend(["-A".to_owned(), auth.to_owned()]);
    }
    a.extend(command.iter().map(|s| s.to_string()));
    a
}

/// Issue 16: fence-sim's IPMI v1.5 sessions, judged by ipmitool `-I lan` (which shares no
/// code with fence-sim): MD5, the straight password, and ipmitool's own pick read and switch
/// the machine; a wrong password gets no session; every session opened is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmitool_lan_opens_v15_sessions_with_md5_and_the_password() {
    let sim = sim(IpmiConfig::default()).await;
    let bmc = &sim.bmcs()[0];
    let port = bmc.addr.port();
    for auth in [Some("MD5"), Some("PASSWORD"), None] {
        let (ok, out) = run(
            "ipmitool",
            ipmitool_lan(port, auth, "password", &["chassis", "power", "status"]),
        )
        .await;
        assert!(ok, "{auth:?}: {out}");
        assert_eq!(out.trim(), "Chassis Power is on", "{auth:?}");
    }
    let (ok, out) = run(
        "ipmitool",
        ipmitool_lan(port, Some("MD5"), "password", &["chassis", "power", "off"]),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "Chassis Power Control: Down/Off");
    assert_eq!(bmc.machine.power(), PowerState::Off);
    let (ok, out) = run(
        "ipmitool",
        ipmitool_lan(port, Some("MD5"), "wrong", &["chassis", "power", "on"]),
    )
    .await;
    assert!(!ok, "a wrong password opened a session: {out}");
    assert_eq!(bmc.machine.power(), PowerState::Off, "nothing switched");
    let c = &bmc.counters;
    assert_eq!(c.sessions_opened.load(Ordering::SeqCst), 4);
    assert_eq!(c.sessions_closed.load(Ordering::SeqCst), 4);
}

/// The same with FreeIPMI (the `LAN` driver, IPMI v1.5), which also checks the
/// authentication codes and sequence numbers of the BMC's answers: ipmi-chassis reads with
/// MD5 and the straight password, ipmipower switches and reads with MD5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeipmi_lan_driver_reads_and_switches_over_v15() {
    let sim = sim(IpmiConfig::default()).await;
    let bmc = &sim.bmcs()[0];
    let host = format!("127.0.0.1:{}", bmc.addr.port());
    let common = |auth: &str| -> Vec<String> {
        [
            "-D", "LAN", "-h", &host, "-u", "admin", "-p", "password", "-a", auth, "-l", "OPERATOR",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for auth in ["MD5", "STRAIGHT_PASSWORD_KEY"] {
        let mut args = common(auth);
        args.push("--get-status".into());
        let (ok, out) = run("ipmi-chassis", args).await;
        assert!(ok, "{auth}: {out}");
        assert!(
            out.contains("System Power") && out.contains(": on"),
            "{auth}: {out}"
        );
    }
    let mut off = common("MD5");
    off.extend(["--off".to_owned(), "--wait-until-off".to_owned()]);
    let (ok, out) = run("ipmipower", off).await;
    assert!(ok, "{out}");
    assert!(out.contains(": ok"), "{out}");
    assert_eq!(bmc.machine.power(), PowerState::Off);
    // ipmipower (its own packet code, not libfreeipmi's) with STRAIGHT_PASSWORD_KEY
    // refuses the Activate Session answer's authentication code ("password verification
    // timeout") although it is the padded password, which ipmi-chassis and ipmitool accept;
    // not understood yet, so ipmipower is judged with MD5 here.
    let mut stat = common("MD5");
    stat.push("--stat".into());
    let (ok, out) = run("ipmipower", stat).await;
    assert!(ok, "{out}");
    assert!(out.contains(": off"), "{out}");
}

/// fence_ipmilan's default path (`lan`, IPMI v1.5) through fence-core's conformance suite
/// against the simulator, MD5 picked from the capabilities and the password named; both
/// clients above judge the same simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_ipmi_lan_passes_the_conformance_suite_against_the_simulator() {
    for auth in [None, Some(fence_ipmi::V15AuthType::Password)] {
        let sim = sim(IpmiConfig {
            delay: Duration::from_millis(100),
            ..IpmiConfig::default()
        })
        .await;
        let config = fence_ipmi::IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"))
            .with_port(sim.bmcs()[0].addr.port())
            .with_lan(auth);
        let device: Arc<dyn FenceDevice> = Arc::new(fence_ipmi::IpmiDevice::new(config).unwrap());
        fence_core::testkit::conformance::run_all(
            device.as_ref(),
            "",
            fence_core::testkit::conformance::fast_timing(),
        )
        .await;
        device.close().await.unwrap();
        let c = &sim.bmcs()[0].counters;
        assert!(c.sessions_opened.load(Ordering::SeqCst) >= 1, "{auth:?}");
        assert_eq!(
            c.sessions_opened.load(Ordering::SeqCst),
            c.sessions_closed.load(Ordering::SeqCst),
            "{auth:?}"
        );
    }
}

/// python-ipmi's native `rmcp` interface (IPMI v1.5 over LAN, its own Python code: ASF ping,
/// Get Channel Authentication Capabilities, the strongest authentication type offered,
/// Activate Session, Set Session Privilege Level): reads the chassis status and powers the
/// machine off; a wrong password opens nothing (no answer, as from OpenIPMI's lanserv).
/// python-ipmi has no RMCP+ (lanplus) of its own; ipmitool and FreeIPMI judge that above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ipmi_rmcp_reads_and_powers_off_over_v15() {
    const SCRIPT: &str = r#"
import sys, pyipmi, pyipmi.interfaces
port, password, action = int(sys.argv[1]), sys.argv[2], sys.argv[3]
interface = pyipmi.interfaces.create_interface(
    'rmcp', slave_address=0x81, host_target_address=0x20, keep_alive_interval=0)
ipmi = pyipmi.create_connection(interface)
ipmi.session.set_session_type_rmcp('127.0.0.1', port)
ipmi.session.set_auth_type_user('admin', password)
ipmi.target = pyipmi.Target(ipmb_address=0x20)
with ipmi:
    print("auth", ipmi.session.auth_type)
    print("on", ipmi.get_chassis_status().power_on)
    if action == "off":
        ipmi.chassis_control_power_down()
"#;
    let venv = std::env::var("PEERS_VENV")
        .expect("PEERS_VENV is not set: source the peers' peers.env (python-ipmi is a test peer)");
    let python = format!("{venv}/bin/python");
    let sim = sim(IpmiConfig::default()).await;
    let bmc = &sim.bmcs()[0];
    let port = bmc.addr.port().to_string();
    let args = |password: &str, action: &str| -> Vec<String> {
        ["-c", SCRIPT, &port, password, action]
            .map(str::to_owned)
            .to_vec()
    };
    // python-ipmi ends a run without an answer by its own retries; the bound is ours.
    let run = |args: Vec<String>| {
        let python = python.clone();
        async move {
            let r = tokio::task::spawn_blocking(move || {
                fence_test_support::agent::Program::new(&python).run_within(
                    &args,
                    b"",
                    Duration::from_secs(60),
                )
            })
            .await
            .unwrap()
            .expect("python-ipmi ran past 60 s");
            (r.code == 0, format!("{}{}", r.stdout, r.stderr))
        }
    };
    let (ok, out) = run(args("password", "off")).await;
    assert!(ok, "{out}");
    // Authentication type 2 is MD5 (IPMI 2.0 table 22-15), the strongest fence-sim offers.
    assert_eq!(out.trim(), "auth 2\non True", "{out}");
    assert_eq!(bmc.machine.power(), PowerState::Off);
    let (ok, out) = run(args("password", "status")).await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "auth 2\non False");
    let (ok, out) = run(args("wrong", "status")).await;
    assert!(!ok, "a wrong password opened a session: {out}");
    let c = &bmc.counters;
    assert_eq!(c.sessions_opened.load(Ordering::SeqCst), 2);
    assert_eq!(c.sessions_closed.load(Ordering::SeqCst), 2);
}
