//! fence_redfish against every vendor profile of fence-sim, for every action, with both
//! authentication methods, and Debian's Python fence_redfish side by side on the same
//! services: the simulated machine's state and the fence-agents output are the judges.
//!
//! Then what only some vendors do: a reset into the state the system is already in (iLO's
//! 400, iDRAC's 409) is done, not a failure; a session limit (iDRAC's 8) is never reached by
//! repeated fencing, and when other clients fill it, the refusal is shown as iDRAC words it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fence_core::{FenceDevice, PowerState, Secret};
use fence_redfish::{AuthMethod, RedfishDevice, TlsVerify};
use fence_sim::Observer;
use fence_sim::redfish::profile::{IDRAC9, ILO5, PROFILES};
use fence_sim::redfish::{Profile, RedfishConfig, RedfishSim};
use fence_test_support::agent::{Program, Run, temp_dir};

/// A power change takes this long on every profile here (the profiles' typical delays are
/// seconds; the behaviour under test does not depend on the length).
const DELAY: Duration = Duration::from_millis(300);

async fn service(
    profile: &'static Profile,
    dir: &Path,
    observer: Option<Observer>,
) -> (RedfishSim, PathBuf) {
    let sim = RedfishSim::start(RedfishConfig {
        profile,
        delay: DELAY,
        observer,
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    (sim, ca)
}

/// Who fences.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Agent {
    /// fence-rs with basic authentication.
    Basic,
    /// fence-rs with `--auth-method session`.
    Session,
    /// Debian's Python fence_redfish (basic authentication; it has no sessions).
    Python,
}

async fn fence(agent: Agent, port: u16, ca: &Path, action: &str) -> Run {
    let port = port.to_string();
    let mut args: Vec<String> = [
        "--ip",
        "127.0.0.1",
        "--ipport",
        &port,
        "-l",
        "admin",
        "-p",
        "password",
    ]
    .map(str::to_owned)
    .to_vec();
    let program = match agent {
        Agent::Basic | Agent::Session => {
            args.extend(["--ssl-ca-file".into(), ca.display().to_string()]);
            if agent == Agent::Session {
                args.extend(["--auth-method".into(), "session".into()]);
            }
            Program::agent("fence_redfish")
        }
        Agent::Python => {
            args.push("--ssl-secure".into());
            Program::new("/usr/sbin/fence_redfish").env("REQUESTS_CA_BUNDLE", ca)
        }
    };
    args.extend(["-o".into(), action.into()]);
    tokio::task::spawn_blocking(move || program.run(&args, b""))
        .await
        .unwrap()
}

/// One step of the matrix: the action, the state before, the exit code and stdout due, the
/// state after.
struct Step {
    action: &'static str,
    before: PowerState,
    code: i32,
    stdout: &'static str,
    after: PowerState,
}

const STEPS: [Step; 8] = [
    Step {
        action: "status",
        before: PowerState::On,
        code: 0,
        stdout: "Status: ON\n",
        after: PowerState::On,
    },
    Step {
        action: "off",
        before: PowerState::On,
        code: 0,
        stdout: "Success: Powered OFF\n",
        after: PowerState::Off,
    },
    Step {
        action: "status",
        before: PowerState::Off,
        code: 2,
        stdout: "Status: OFF\n",
        after: PowerState::Off,
    },
    Step {
        action: "off",
        before: PowerState::Off,
        code: 0,
        stdout: "Success: Already OFF\n",
        after: PowerState::Off,
    },
    Step {
        action: "on",
        before: PowerState::Off,
        code: 0,
        stdout: "Success: Powered ON\n",
        after: PowerState::On,
    },
    Step {
        action: "on",
        before: PowerState::On,
        code: 0,
        stdout: "Success: Already ON\n",
        after: PowerState::On,
    },
    Step {
        action: "reboot",
        before: PowerState::On,
        code: 0,
        stdout: "Success: Rebooted\n",
        after: PowerState::On,
    },
    Step {
        action: "monitor",
        before: PowerState::On,
        code: 0,
        stdout: "",
        after: PowerState::On,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fence_redfish_fences_every_profile_for_every_action_as_the_python_agent_does() {
    let mut python_differs = Vec::new();
    for profile in &PROFILES {
        let dir = temp_dir(&format!("matrix-{}", profile.name));
        let (sim, ca) = service(profile, &dir, None).await;
        let s = &sim.services()[0];
        let machine = &s.systems[0];
        for agent in [Agent::Basic, Agent::Session, Agent::Python] {
            for step in &STEPS {
                machine.force(step.before);
                let changes = machine.changes();
                let r = fence(agent, s.addr.port(), &ca, step.action).await;
                // "on" is done once PowerState is not "Off" (PoweringOn counts, as in
                // fence-agents): the machine is on a delay later. "off" waits for "Off".
                assert!(
                    fence_test_support::agent::wait_until(DELAY * 3, || !machine.in_transition()),
                    "{agent:?} on {}: the machine still changing after {:?}",
                    profile.name,
                    DELAY * 3
                );
                let got = (r.code, r.stdout.as_str(), machine.power());
                let due = (step.code, step.stdout, step.after);
                if agent == Agent::Python {
                    if got != due {
                        python_differs.push(format!(
                            "{} {}: {}",
                            profile.name,
                            step.action,
                            r.all()
                        ));
                    }
                    continue;
                }
                assert_eq!(
                    got,
                    due,
                    "{agent:?} on {} {}:\n{}",
                    profile.name,
                    step.action,
                    r.all()
                );
                // A reboot switches twice (off, on); off and on once; the rest never.
                let switched = machine.changes() - changes;
                let expected = match (step.action, step.before == step.after) {
                    ("reboot", _) => 2,
                    ("off" | "on", false) => 1,
                    _ => 0,
                };
                assert_eq!(
                    switched, expected,
                    "{agent:?} on {} {}",
                    profile.name, step.action
                );
            }
        }
        // Every session the runs opened was closed (one per session run).
        let c = &s.counters;
        assert_eq!(
            c.sessions_created.load(Ordering::SeqCst),
            8,
            "{}",
            profile.name
        );
        assert_eq!(
            c.sessions_deleted.load(Ordering::SeqCst),
            8,
            "{}",
            profile.name
        );
    }
    // The Python agent meets every profile the same way (it ignores the reset's status and
    // polls PowerState, and reads the status before switching).
    assert!(
        python_differs.is_empty(),
        "the Python agent differs:\n{}",
        python_differs.join("\n")
    );
}

fn device(port: u16, ca: &Path, auth: AuthMethod, systems_uri: Option<String>) -> RedfishDevice {
    let mut config =
        fence_redfish::RedfishConfig::new("127.0.0.1", "admin", Secret::new("password"))
            .with_port(port)
            .with_tls(TlsVerify::Verify {
                ca_file: Some(ca.to_owned()),
            })
            .with_auth(auth)
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(3));
    if let Some(uri) = systems_uri {
        config = config.with_systems_uri(uri);
    }
    RedfishDevice::new(config).unwrap()
}

/// A device whose machine changes state right after the first status read: another node
/// fenced it, or someone pressed its power button, between the engine's read and its reset.
#[derive(Debug)]
struct Racing {
    inner: RedfishDevice,
    machine: Arc<fence_sim::Machine>,
    to: PowerState,
    raced: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl FenceDevice for Racing {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn address(&self) -> String {
        self.inner.address()
    }
    fn capabilities(&self) -> fence_core::Capabilities {
        self.inner.capabilities()
    }
    async fn power_state(&self, plug: &str) -> fence_core::Result<PowerState> {
        let state = self.inner.power_state(plug).await;
        if !self.raced.swap(true, Ordering::SeqCst) {
            self.machine.force(self.to);
        }
        state
    }
    async fn set_power(&self, plug: &str, state: PowerState) -> fence_core::Result<()> {
        self.inner.set_power(plug, state).await
    }
}

/// iLO answers a reset into the present state 400 `InvalidOperationForSystemState`, iDRAC
/// 409 `PSU501`/`PSU502`. A node that went off between the status read and the reset meets
/// it: the engine reads the state after the refusal and the fence is done, verified off; the
/// same for on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_refused_because_the_state_changed_first_is_settled_by_a_read() {
    use fence_core::testkit::conformance::fast_timing;
    use fence_core::{Action, Engine, Outcome, Request};
    for profile in [&ILO5, &IDRAC9] {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let log = Arc::clone(&seen);
        let observer: Observer = Arc::new(move |e| log.lock().unwrap().push(e.what.clone()));
        let dir = temp_dir(&format!("already-{}", profile.name));
        let (sim, ca) = service(profile, &dir, Some(observer)).await;
        let s = &sim.services()[0];
        for (action, from, to, outcome) in [
            (
                Action::Off,
                PowerState::On,
                PowerState::Off,
                Outcome::PoweredOff,
            ),
            (
                Action::On,
                PowerState::Off,
                PowerState::On,
                Outcome::PoweredOn,
            ),
        ] {
            s.systems[0].force(from);
            let dev = Racing {
                inner: device(s.addr.port(), &ca, AuthMethod::Basic, None),
                machine: Arc::clone(&s.systems[0]),
                to,
                raced: Default::default(),
            };
            let report = Engine::new(fast_timing())
                .run(&dev, &Request::plugless(action))
                .await;
            assert_eq!(
                report.result.as_ref().ok(),
                Some(&outcome),
                "{}: {report:?}",
                profile.name
            );
            assert!(
                !report.commands[0].accepted,
                "{}: the reset was refused",
                profile.name
            );
            assert_eq!(s.systems[0].power(), to);
        }
        let lines = seen.lock().unwrap().clone();
        let refusals = lines.iter().filter(|l| l.contains("(already ")).count();
        assert_eq!(
            refusals, 2,
            "{}: the service refused both resets: {lines:?}",
            profile.name
        );
    }
}

/// iDRAC 9 allows 8 sessions. Fencing again and again never fills them (every run closes its
/// session); when other clients have filled them, the refusal is reported as iDRAC words it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_limit_is_never_reached_by_fencing_and_is_reported_when_full() {
    let dir = temp_dir("session-limit");
    let (sim, ca) = service(&IDRAC9, &dir, None).await;
    let s = &sim.services()[0];
    let (limit, _) = IDRAC9.session_limit.unwrap();
    assert_eq!(limit, 8, "iDRAC 9's documented default");
    for _ in 0..limit + 2 {
        let r = fence(Agent::Session, s.addr.port(), &ca, "status").await;
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (0, "Status: ON\n"),
            "{}",
            r.all()
        );
    }
    let deleted = s.counters.sessions_deleted.load(Ordering::SeqCst);
    assert_eq!(deleted, limit as u64 + 2);
    // Eight clients that never log out.
    let mut holders = Vec::new();
    for _ in 0..limit {
        let d = device(
            s.addr.port(),
            &ca,
            AuthMethod::Session,
            Some(s.system_uri(0)),
        );
        d.power_state("").await.unwrap();
        holders.push(d);
    }
    let r = fence(Agent::Session, s.addr.port(), &ca, "status").await;
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("HTTP 503"), "{}", r.all());
    assert!(
        r.stderr.contains("maximum number of user sessions"),
        "{}",
        r.all()
    );
    // Basic authentication still fences.
    let r = fence(Agent::Basic, s.addr.port(), &ca, "status").await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Status: ON\n"),
        "{}",
        r.all()
    );
    for d in holders {
        d.close().await.unwrap();
    }
}
