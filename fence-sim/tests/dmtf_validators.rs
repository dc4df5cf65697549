//! DMTF's own judges of a Redfish service, run against fence-sim in every vendor profile:
//! the Redfish Protocol Validator (DSP0266's assertions over HTTP), the Redfish Service
//! Validator (every resource reachable from the service root against the DSP8010 CSDL
//! schemas) and the Redfish Use Case Checkers (the PowerControl use case: reset types and
//! resets that change PowerState). None of them shares code with fence-sim or fence-redfish.
//!
//! Every validator must report no failure and must have passed a minimum of checks (a
//! validator that reached nothing would report no failure either). What fence-sim does not
//! implement is listed in fence-sim's README (section "DMTF's validators") and stays
//! NOT_TESTED here, within a bound: a check that stops being reached fails.
//!
//! Peers: the validators in the peers' venv (`PEERS_VENV`, tests/scripts/install-deps.sh) and
//! the DSP8010 CSDL schemas it unpacks into `$PEERS_VENV/share/dmtf-csdl`. Missing is a
//! failure.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::Duration;

use fence_sim::redfish::profile::PROFILES;
use fence_sim::redfish::{Profile, RedfishConfig, RedfishSim};
use fence_test_support::agent::{Program, Run, temp_dir};

/// The bound of one validator run (the Use Case Checkers wait for power changes).
const BOUND: Duration = Duration::from_secs(300);

/// One validator at a time (each runs against the six profiles at once): three times six
/// Python processes on two cores would make their 30 s request timeouts a matter of luck.
static ONE_VALIDATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn venv() -> PathBuf {
    let venv = std::env::var_os("PEERS_VENV").map(PathBuf::from).expect(
        "PEERS_VENV is not set: start the peers (tests/scripts/start-peers.sh) and source \
         peers.env; the DMTF validators are test peers",
    );
    assert!(
        venv.join("bin/rf_protocol_validator").is_file(),
        "{}/bin/rf_protocol_validator is missing: run tests/scripts/install-deps.sh",
        venv.display()
    );
    venv
}

/// A running service in `profile`, with a password nobody guesses (the Protocol Validator
/// reports its password found in any answer as leaked information, and "password" is a word
/// of the login refusal), and its CA written to `dir/ca.pem`.
async fn service(profile: &'static Profile, dir: &Path) -> (RedfishSim, String, PathBuf) {
    let password = format!("Fs-{}-{}", profile.name, std::process::id());
    let sim = RedfishSim::start(RedfishConfig {
        profile,
        password: password.clone(),
        delay: Duration::from_millis(200),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    (sim, password, ca)
}

/// Runs `program` of the venv with `args` for every profile at once (they mostly wait on
/// the network), each against its own service; returns (profile, run, report dir).
async fn for_every_profile(
    tag: &str,
    args: impl Fn(&Profile, &str, &str, &Path, &Path) -> Vec<String>,
    program: &str,
) -> Vec<(&'static str, Run, PathBuf)> {
    let _turn = ONE_VALIDATOR.lock().await;
    let venv = venv();
    let mut running = Vec::new();
    let mut sims = Vec::new();
    for profile in &PROFILES {
        let dir = temp_dir(&format!("{tag}-{}", profile.name));
        let (sim, password, ca) = service(profile, &dir).await;
        let url = sim.services()[0].url();
        let reports = dir.join("reports");
        let run_args = args(profile, &url, &password, &ca, &reports);
        let prog = Program::new(venv.join("bin").join(program))
            .env("REQUESTS_CA_BUNDLE", &ca)
            .env("HOME", &dir);
        let task = tokio::task::spawn_blocking(move || {
            let run = prog.run_within(&run_args, b"", BOUND);
            (run, reports)
        });
        running.push((profile.name, task));
        sims.push(sim);
    }
    let mut done = Vec::new();
    for (name, task) in running {
        let (run, reports) = task.await.unwrap();
        let run = run.unwrap_or_else(|| panic!("{program} ({name}) ran past {BOUND:?}"));
        done.push((name, run, reports));
    }
    drop(sims);
    done
}

/// The counts of the validators' summary table (`| PASS | WARN | FAIL | NOT TESTED |` then
/// a row of numbers), or of the Protocol Validator's `Summary - PASS: n, WARN: n, ...` line.
fn counts(output: &str) -> Option<[u64; 4]> {
    if let Some(line) = output.lines().find(|l| l.starts_with("Summary - PASS:")) {
        let n: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        return n.try_into().ok();
    }
    let lines: Vec<&str> = output.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.contains("PASS") && l.contains("NOT TESTED"))?;
    let n: Vec<u64> = lines
        .get(header + 2)?
        .split('|')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    n.try_into().ok()
}

/// Every line of the files under `dir` that contains one of `needles`, for the failure report.
fn lines_with(dir: &Path, needles: &[&str]) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&lines_with(&path, needles));
        } else if path.extension().is_some_and(|e| e == "tsv" || e == "log") {
            for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
                if needles.iter().any(|n| line.contains(n)) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// The Protocol Validator's one verdict that is chance, not behaviour: it runs two NIST
/// SP 800-22 tests (monobit frequency, runs) on a single 128-bit X-Auth-Token and warns when
/// either p-value is below 0.01, so a token drawn from a CSPRNG is flagged about 2% of the
/// time (once in ~8 runs over six profiles, seen in CI). Counted as passed here; the tokens'
/// randomness is judged on 256 000 bits instead by fence-sim's unit test
/// `redfish::sessions::tests::tokens_are_independent_random_bits`.
const CHANCE_WARNING: (&str, &str) = (
    "RESP_HEADERS_X_AUTH_TOKEN\t",
    "\tWARN\tThe security token from the X-Auth-Token header may not be sufficiently random",
);

/// No failure, at least `min_pass` checks passed and at most `max_not_tested` not tested
/// (what fence-sim does not implement; a check that stops being reached fails here).
fn judge(
    name: &str,
    validator: &str,
    run: &Run,
    reports: &Path,
    (min_pass, max_not_tested): (u64, u64),
    needles: &[&str],
) {
    let [pass, _warn, fail, not_tested] = counts(&run.stdout)
        .unwrap_or_else(|| panic!("{validator} ({name}) printed no summary:\n{}", run.all()));
    let chance = lines_with(reports, &[CHANCE_WARNING.0])
        .lines()
        .filter(|l| l.contains(CHANCE_WARNING.1))
        .count() as u64;
    let pass = pass + chance;
    assert_eq!(
        fail,
        0,
        "{validator} found failures in profile {name}:\n{}",
        lines_with(reports, needles)
    );
    assert!(
        pass >= min_pass && not_tested <= max_not_tested,
        "{validator} in profile {name}: {pass} passed (at least {min_pass} due), {not_tested} \
         not tested (at most {max_not_tested}):\n{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmtf_protocol_validator_finds_no_failure_in_any_profile() {
    let runs = for_every_profile(
        "rpv",
        |_, url, password, ca, reports| {
            [
                "-r",
                url,
                "-u",
                "admin",
                "-p",
                password,
                "--ca-bundle",
                &ca.display().to_string(),
                "--report-dir",
                &reports.display().to_string(),
                "--report-type",
                "tsv",
            ]
            .map(str::to_owned)
            .to_vec()
        },
        "rf_protocol_validator",
    )
    .await;
    for (name, run, reports) in &runs {
        // 273 assertions pass in every profile, 52 are not tested (the README lists them).
        judge(
            name,
            "Redfish Protocol Validator",
            run,
            reports,
            (273, 52),
            &["\tFAIL\t"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmtf_service_validator_finds_no_failure_in_any_profile() {
    let schemas = venv().join("share/dmtf-csdl");
    assert!(
        schemas.join("ComputerSystem_v1.xml").is_file(),
        "{} has no DSP8010 schemas: run tests/scripts/install-deps.sh",
        schemas.display()
    );
    let runs = for_every_profile(
        "rsv",
        move |_, url, password, _ca, reports| {
            [
                "--ip",
                url,
                "-u",
                "admin",
                "-p",
                password,
                "--schema_directory",
                &schemas.display().to_string(),
                "--skipschema",
                "--logdir",
                &reports.display().to_string(),
            ]
            .map(str::to_owned)
            .to_vec()
        },
        "rf_service_validator",
    )
    .await;
    for (name, run, reports) in &runs {
        // Every resource and property is checked against its schema: 155 (ilo5, whose
        // trailing slashes are warnings) to 187 pass; not tested are the schemas' optional
        // properties that fence-sim leaves out (253-272).
        judge(
            name,
            "Redfish Service Validator",
            run,
            reports,
            (155, 280),
            &["ERROR - FAIL"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmtf_use_case_checkers_pass_power_control_in_every_profile() {
    let runs = for_every_profile(
        "ruc",
        |profile, url, password, _ca, reports| {
            let mut args: Vec<String> = [
                "-r",
                url,
                "-u",
                "admin",
                "-p",
                password,
                "--report-dir",
                &reports.display().to_string(),
                "--test-list",
                "PowerControl",
            ]
            .map(str::to_owned)
            .to_vec();
            // iLO and iDRAC refuse a reset into the state the system is in (400, 409); the
            // checker's `On` after its `ForceRestart` meets that. DSP0266 does not forbid it,
            // and the checker's --relaxed counts such a refusal a warning ("the literal
            // 'shall' statements"); the profiles without a refusal are judged strictly.
            if profile.already.is_some() {
                args.push("--relaxed".into());
            }
            args
        },
        "rf_use_case_checkers",
    )
    .await;
    for (name, run, reports) in &runs {
        // The PowerControl use case: system count, reset types, and per reset type the
        // profile offers (ForceOff, ForceRestart, PowerCycle, On, ForceOn) the reset and the
        // PowerState after it: 5 to 12 pass.
        judge(
            name,
            "Redfish Use Case Checkers",
            run,
            reports,
            (5, 10),
            &["ERROR"],
        );
    }
}

#[test]
fn the_summaries_are_read_as_the_validators_print_them() {
    assert_eq!(
        counts("x\nSummary - PASS: 273, WARN: 1, FAIL: 2, NOT_TESTED: 52\n"),
        Some([273, 1, 2, 52])
    );
    let table = "+----+\n|     PASS     |     WARN     |     FAIL     |  NOT TESTED  |\n\
                 +--------------+\n|      187      |      0       |      3       |     272      |\n";
    assert_eq!(counts(table), Some([187, 0, 3, 272]));
    assert_eq!(counts("nothing"), None);
}
