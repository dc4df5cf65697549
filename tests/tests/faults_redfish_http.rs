//! fence_redfish (the fence-agent binary) against a scripted HTTPS Redfish service, for the
//! answers fence-sim does not give: HPE iLO's HTTP 400 to ForceOff for a machine that is
//! already off (settled by a status read), a 400 for a machine that stays on (fails at once
//! with the service's message), and a certificate for another host name.
#![allow(clippy::unwrap_used)]

mod fault_kit;
use fence_test_support::scripted_https;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_kit::{assert_failed, cli, redfish_args, with};

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);

/// fence-redfish's test certificates (a CA, a leaf for 127.0.0.1, a leaf for bmc.invalid).
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fence-redfish/tests/fixtures")
        .join(name)
}

/// The one system of the service and how it answers a reset.
#[derive(Debug)]
struct Scripted {
    power: String,
    reset_status: u16,
    reset_body: String,
    power_after_reset: Option<String>,
    resets: u32,
}

/// Starts the service with fence-redfish's certificate `cert` (`leaf` or `wrongname`);
/// returns its port.
async fn serve(cert: &str, script: Arc<Mutex<Scripted>>) -> u16 {
    let cert_file = fixture(&format!("{cert}.pem"));
    let key_file = fixture(&format!("{cert}.key"));
    scripted_https::serve(&cert_file, &key_file, move |method, _path| {
        let mut s = script.lock().unwrap();
        if method == "POST" {
            s.resets += 1;
            if let Some(p) = s.power_after_reset.clone() {
                s.power = p;
            }
            (s.reset_status, s.reset_body.clone().into_bytes())
        } else {
            (200, serde_json_like(&s.power).into_bytes())
        }
    })
    .await
}

/// The system document.
fn serde_json_like(power: &str) -> String {
    format!(
        r##"{{"@odata.id":"/redfish/v1/Systems/1","Id":"1","PowerState":"{power}","Actions":{{"#ComputerSystem.Reset":{{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset","ResetType@Redfish.AllowableValues":["On","ForceOff","ForceRestart","Nmi"]}}}}}}"##
    )
}

/// HPE iLO 5's answer to ForceOff for a system that is off.
const ILO_400: &str = r#"{"error":{"code":"iLO.0.10.ExtendedInfo","message":"See @Message.ExtendedInfo for more information.","@Message.ExtendedInfo":[{"MessageId":"iLO.2.14.InvalidOperationForSystemState"}]}}"#;

fn args(action: &str, port: u16) -> Vec<String> {
    let ca = fixture("ca.pem").display().to_string();
    with(
        redfish_args(action, port, "pw", &ca),
        &["--power-timeout=5"],
    )
}

fn script(power: &str, status: u16, body: &str, after: Option<&str>) -> Arc<Mutex<Scripted>> {
    Arc::new(Mutex::new(Scripted {
        power: power.into(),
        reset_status: status,
        reset_body: body.into(),
        power_after_reset: after.map(str::to_owned),
        resets: 0,
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ilo_400_for_a_machine_already_off_succeeds_after_a_status_read() {
    // The first read says PoweringOff (counts as on); by the time ForceOff arrives the
    // machine is off and iLO refuses it with 400.
    let s = script("PoweringOff", 400, ILO_400, Some("Off"));
    let port = serve("leaf", Arc::clone(&s)).await;
    let run = cli("fence_redfish", args("off", port)).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{}",
        run.all()
    );
    assert_eq!(s.lock().unwrap().resets, 1);
    assert!(run.elapsed < SLACK, "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_for_a_machine_that_stays_on_fails_at_once_with_the_message() {
    let s = script("On", 400, ILO_400, None);
    let port = serve("leaf", Arc::clone(&s)).await;
    for action in ["off", "reboot"] {
        let run = cli("fence_redfish", args(action, port)).await;
        assert_failed(&run, "HTTP 400", SLACK);
        assert!(
            run.stderr.contains("InvalidOperationForSystemState")
                || run.stderr.contains("See @Message.ExtendedInfo"),
            "the service's message:\n{}",
            run.all()
        );
    }
    assert_eq!(s.lock().unwrap().power, "On");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_with_a_message_fails_at_once_with_it() {
    let body = r#"{"error":{"code":"Base.1.8.GeneralError","message":"Power control is locked by another session."}}"#;
    let s = script("On", 500, body, None);
    let port = serve("leaf", Arc::clone(&s)).await;
    let run = cli("fence_redfish", args("off", port)).await;
    assert_failed(&run, "Power control is locked by another session.", SLACK);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_host_name_is_refused() {
    let s = script("On", 204, "", Some("Off"));
    let port = serve("wrongname", Arc::clone(&s)).await;
    let run = cli("fence_redfish", args("off", port)).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    assert_eq!(s.lock().unwrap().resets, 0, "nothing sent to an impostor");
    assert_eq!(s.lock().unwrap().power, "On");
}
