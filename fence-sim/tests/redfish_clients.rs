//! Redfish clients that nobody here wrote read and reset fence-sim's systems in every vendor
//! profile: OpenStack's sushy (what Ironic and Metal3 use), DMTF's python-redfish library
//! (with a session it opens and closes) and DMTF's redfishtool (the command line). Each
//! finds the system from the service root, reads PowerState, resets it, and the simulated
//! machine's own state is the judge.
//!
//! Peers: the clients in the peers' venv (`PEERS_VENV`, tests/scripts/install-deps.sh).
//! Missing is a failure.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use fence_core::PowerState;
use fence_sim::redfish::profile::PROFILES;
use fence_sim::redfish::{Profile, RedfishConfig, RedfishSim};
use fence_test_support::agent::{Program, Run, temp_dir};

fn venv_bin(program: &str) -> PathBuf {
    let venv = std::env::var_os("PEERS_VENV").map(PathBuf::from).expect(
        "PEERS_VENV is not set: start the peers (tests/scripts/start-peers.sh) and source \
         peers.env; sushy, python-redfish and redfishtool are test peers",
    );
    let bin = venv.join("bin").join(program);
    assert!(
        bin.is_file(),
        "{} is missing: run tests/scripts/install-deps.sh",
        bin.display()
    );
    bin
}

async fn service(profile: &'static Profile, dir: &Path) -> (RedfishSim, PathBuf) {
    let sim = RedfishSim::start(RedfishConfig {
        profile,
        delay: Duration::from_millis(100),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    (sim, ca)
}

/// Each profile's system URI as its vendor writes it (fence-sim/README.md), and the status of
/// an accepted reset: written out here, not taken from the simulator under test.
const DUE: [(&str, &str, u16); 6] = [
    ("generic", "/redfish/v1/Systems/1", 204),
    ("ilo5", "/redfish/v1/Systems/1/", 200),
    ("idrac9", "/redfish/v1/Systems/System.Embedded.1", 204),
    ("xcc", "/redfish/v1/Systems/1", 204),
    ("supermicro", "/redfish/v1/Systems/1", 200),
    ("openbmc", "/redfish/v1/Systems/system", 204),
];

fn due(profile: &Profile) -> (&'static str, u16) {
    DUE.iter()
        .find(|(name, _, _)| *name == profile.name)
        .map(|&(_, uri, status)| (uri, status))
        .unwrap_or_else(|| panic!("no expectation written for profile {}", profile.name))
}

async fn run(program: PathBuf, args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        Program::new(&program)
            .run_within(&args, b"", Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{} ran past 60 s", program.display()))
    })
    .await
    .unwrap()
}

/// sushy: the system from the collection, its allowed ResetTypes, ForceOff, PowerState until
/// off. The certificate is verified against the simulator's CA.
const SUSHY: &str = r#"
import sys, time, sushy
url, ca = sys.argv[1:3]
s = sushy.Sushy(url + "/redfish/v1", username="admin", password="password", verify=ca)
ids = list(s.get_system_collection().members_identities)
system = s.get_system(ids[0])
print("system", ids[0])
print("power", system.power_state.value)
system.reset_system(sushy.ResetType.FORCE_OFF)
for _ in range(100):
    system.refresh()
    if system.power_state == sushy.PowerState.OFF:
        break
    time.sleep(0.05)
print("power", system.power_state.value)
"#;

/// python-redfish: a session opened and closed, the reset target from the system document.
const PYTHON_REDFISH: &str = r##"
import sys, time, redfish
url, ca = sys.argv[1:3]
c = redfish.redfish_client(base_url=url, username="admin", password="password", cafile=ca,
                           timeout=10, max_retry=1)
c.login(auth="session")
uri = c.get("/redfish/v1/Systems").dict["Members"][0]["@odata.id"]
doc = c.get(uri).dict
print("system", uri)
print("power", doc["PowerState"])
r = c.post(doc["Actions"]["#ComputerSystem.Reset"]["target"], body={"ResetType": "ForceOff"})
print("reset", r.status)
for _ in range(100):
    if c.get(uri).dict["PowerState"] == "Off":
        break
    time.sleep(0.05)
print("power", c.get(uri).dict["PowerState"])
c.logout()
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sushy_reads_and_powers_off_a_system_in_every_profile() {
    for profile in &PROFILES {
        let dir = temp_dir(&format!("sushy-{}", profile.name));
        let (sim, ca) = service(profile, &dir).await;
        let s = &sim.services()[0];
        let args = vec!["-c".into(), SUSHY.into(), s.url(), ca.display().to_string()];
        let r = run(venv_bin("python"), args).await;
        assert_eq!(r.code, 0, "sushy ({}):\n{}", profile.name, r.all());
        // sushy strips iLO's trailing slash from member identities (sushy/utils.py).
        let (uri, _) = due(profile);
        let expected = format!(
            "system {}\npower On\npower Off\n",
            uri.trim_end_matches('/')
        );
        assert_eq!(r.stdout, expected, "sushy ({}):\n{}", profile.name, r.all());
        assert_eq!(s.systems[0].power(), PowerState::Off, "{}", profile.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_redfish_opens_a_session_and_powers_off_in_every_profile() {
    for profile in &PROFILES {
        let dir = temp_dir(&format!("pyrf-{}", profile.name));
        let (sim, ca) = service(profile, &dir).await;
        let s = &sim.services()[0];
        let args = vec![
            "-c".into(),
            PYTHON_REDFISH.into(),
            s.url(),
            ca.display().to_string(),
        ];
        let r = run(venv_bin("python"), args).await;
        assert_eq!(r.code, 0, "python-redfish ({}):\n{}", profile.name, r.all());
        let lines: Vec<&str> = r.stdout.lines().collect();
        let (uri, status) = due(profile);
        assert_eq!(lines[0], format!("system {uri}"), "{}", profile.name);
        assert_eq!(lines[1], "power On");
        assert_eq!(lines[2], format!("reset {status}"), "{}", profile.name);
        assert_eq!(lines[3], "power Off");
        assert_eq!(s.systems[0].power(), PowerState::Off, "{}", profile.name);
        assert_eq!(s.counters.sessions_created.load(Ordering::SeqCst), 1);
        assert_eq!(s.counters.sessions_deleted.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redfishtool_reads_and_resets_a_system_in_every_profile() {
    for profile in &PROFILES {
        let (sim, _ca) = service(profile, &temp_dir("rftool")).await;
        let s = &sim.services()[0];
        s.systems[0].force(PowerState::Off);
        let host = s.addr.to_string();
        // redfishtool does not verify certificates (it passes verify=False to requests).
        let base = ["-r", &host, "-u", "admin", "-p", "password", "-S", "Always"];
        let args = |extra: &[&str]| -> Vec<String> {
            base.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let r = run(venv_bin("redfishtool"), args(&["Systems", "-F", "get"])).await;
        assert_eq!(r.code, 0, "redfishtool ({}):\n{}", profile.name, r.all());
        assert!(
            r.stdout.contains("\"PowerState\": \"Off\""),
            "redfishtool ({}):\n{}",
            profile.name,
            r.all()
        );
        let r = run(
            venv_bin("redfishtool"),
            args(&["Systems", "-F", "reset", "On"]),
        )
        .await;
        assert_eq!(r.code, 0, "redfishtool ({}):\n{}", profile.name, r.all());
        assert!(
            fence_test_support::agent::wait_until(Duration::from_secs(5), || {
                s.systems[0].power() == PowerState::On
            }),
            "redfishtool's reset On did not power on the system ({})",
            profile.name
        );
    }
}
