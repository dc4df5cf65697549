//! The Redfish simulator, spoken to by curl (a client nobody here wrote): TLS verified
//! against the CA the simulator made, basic and session authentication, resets with a
//! delay, keep-alive, and the fault modes. curl missing is a failure, not a skip.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fence_core::PowerState;
use fence_sim::Faults;
use fence_sim::redfish::{RedfishConfig, RedfishSim};

struct Curl {
    ca: tempfile_path::Path,
}

mod tempfile_path {
    /// A file removed on drop.
    pub struct Path(pub std::path::PathBuf);
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl Curl {
    fn new(sim: &RedfishSim) -> Curl {
        let path = std::env::temp_dir().join(format!(
            "fence-sim-test-{}-{}.pem",
            std::process::id(),
            sim.services()[0].addr.port()
        ));
        std::fs::write(&path, sim.ca_pem()).unwrap();
        Curl {
            ca: tempfile_path::Path(path),
        }
    }

    /// Runs curl with the CA and `args`; returns (status line codes, body).
    async fn run(&self, args: &[&str]) -> (String, String) {
        let mut cmd = Command::new("curl");
        cmd.arg("-sS")
            .arg("--max-time")
            .arg("10")
            .arg("--cacert")
            .arg(&self.ca.0)
            .args(args);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("curl is a test peer and must be installed (apt-get install curl)");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn state_word(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["PowerState"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_basic_auth_reset_with_delay_over_one_kept_alive_connection() {
    let sim = RedfishSim::start(RedfishConfig {
        systems: 3,
        delay: Duration::from_millis(300),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let curl = Curl::new(&sim);
    let s = &sim.services()[0];
    let base = s.url();

    let (body, err) = curl
        .run(&[
            "-u",
            "admin:password",
            &format!("{base}/redfish/v1/Systems"),
        ])
        .await;
    assert!(err.is_empty(), "curl: {err}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Members@odata.count"], 3);
    assert_eq!(v["Members"][2]["@odata.id"], "/redfish/v1/Systems/3");

    // Reset and two reads in one curl run: one TLS connection, kept alive.
    let before = s.counters.connections.load(Ordering::SeqCst);
    let sys = format!("{base}/redfish/v1/Systems/2");
    let (body, err) = curl
        .run(&[
            "-u",
            "admin:password",
            "-w",
            "%{http_code}\n",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"ResetType":"ForceOff"}"#,
            &format!("{sys}/Actions/ComputerSystem.Reset"),
            "--next",
            "--cacert",
            &curl.ca.0.display().to_string(),
            "-u",
            "admin:password",
            &sys,
        ])
        .await;
    assert!(err.is_empty(), "curl: {err}");
    let (code, doc) = body.split_once('\n').unwrap();
    assert_eq!(code, "204");
    assert_eq!(state_word(doc), "PoweringOff", "the delay is not over yet");
    assert_eq!(s.counters.connections.load(Ordering::SeqCst) - before, 1);
    assert_eq!(
        s.systems[0].power(),
        PowerState::On,
        "only system 2 changed"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (body, _) = curl.run(&["-u", "admin:password", &sys]).await;
        if state_word(&body) == "Off" {
            break;
        }
        assert!(Instant::now() < deadline, "system 2 never went Off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.systems[1].power(), PowerState::Off);

    let (code, _) = curl
        .run(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "admin:wrong",
            &sys,
        ])
        .await;
    assert_eq!(code, "401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_session_login_use_and_logout() {
    let sim = RedfishSim::start(RedfishConfig::default()).await.unwrap();
    let curl = Curl::new(&sim);
    let s = &sim.services()[0];
    let base = s.url();
    let (head, err) = curl
        .run(&[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"UserName":"admin","Password":"password"}"#,
            &format!("{base}/redfish/v1/SessionService/Sessions"),
        ])
        .await;
    assert!(err.is_empty(), "curl: {err}");
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap()
    };
    let token = header("x-auth-token");
    let location = header("location");
    assert_eq!(token.len(), 32);
    assert!(location.starts_with("/redfish/v1/SessionService/Sessions/"));

    let auth = format!("X-Auth-Token: {token}");
    let (body, _) = curl
        .run(&["-H", &auth, &format!("{base}/redfish/v1/Systems/1")])
        .await;
    assert_eq!(state_word(&body), "On");

    let (code, _) = curl
        .run(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
            "-H",
            &auth,
            &format!("{base}{location}"),
        ])
        .await;
    assert_eq!(code, "204");
    assert_eq!(s.counters.sessions_deleted.load(Ordering::SeqCst), 1);
    let (code, _) = curl
        .run(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &auth,
            &format!("{base}/redfish/v1/Systems/1"),
        ])
        .await;
    assert_eq!(code, "401", "the token is gone with its session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_the_fault_modes() {
    let mut faults_of = std::collections::HashMap::new();
    faults_of.insert(0, Faults::NONE.with("lie").unwrap());
    faults_of.insert(1, Faults::NONE.with("refuse").unwrap());
    faults_of.insert(2, Faults::NONE.with("silent").unwrap());
    let sim = RedfishSim::start(RedfishConfig {
        services: 3,
        faults_of,
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let curl = Curl::new(&sim);
    let off = |base: String| {
        vec![
            "-o".to_owned(),
            "/dev/null".to_owned(),
            "-w".to_owned(),
            "%{http_code}".to_owned(),
            "-u".to_owned(),
            "admin:password".to_owned(),
            "-H".to_owned(),
            "Content-Type: application/json".to_owned(),
            "-d".to_owned(),
            r#"{"ResetType":"ForceOff"}"#.to_owned(),
            format!("{base}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"),
        ]
    };
    let run = |args: Vec<String>| {
        let curl = &curl;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            curl.run(&refs).await
        }
    };
    let services = sim.services();

    // lie: accepted, and the system stays On.
    let (code, _) = run(off(services[0].url())).await;
    assert_eq!(code, "204");
    let (body, _) = curl
        .run(&[
            "-u",
            "admin:password",
            &format!("{}/redfish/v1/Systems/1", services[0].url()),
        ])
        .await;
    assert_eq!(state_word(&body), "On");

    // refuse: an HTTP error, the system stays On.
    let (code, _) = run(off(services[1].url())).await;
    assert_eq!(code, "500");
    assert_eq!(services[1].systems[0].power(), PowerState::On);

    // silent: the connection is accepted and never answered.
    let started = Instant::now();
    let (_, err) = curl
        .run(&[
            "--max-time",
            "1",
            &format!("{}/redfish/v1", services[2].url()),
        ])
        .await;
    assert!(err.contains("timed out"), "curl said: {err}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_dropped_requests() {
    let sim = RedfishSim::start(RedfishConfig {
        faults: Faults::NONE.with("drop=1").unwrap(),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let curl = Curl::new(&sim);
    let s = &sim.services()[0];
    let (out, err) = curl
        .run(&[
            "-u",
            "admin:password",
            &format!("{}/redfish/v1/Systems/1", s.url()),
        ])
        .await;
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("Empty reply from server"), "curl said: {err}");
    assert_eq!(s.counters.requests.load(Ordering::SeqCst), 1);
}
