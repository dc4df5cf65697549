//! fence_redfish (the fence-agent binary) against a scripted HTTPS Redfish service, for the
//! answers fence-sim does not give: HPE iLO's HTTP 400 to ForceOff for a machine that is
//! already off (settled by a status read), a 400 for a machine that stays on (fails at once
//! with the service's message), and a certificate for another host name.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::time::Duration;

use fault_kit::{assert_failed, cli, redfish_args, with};
use fence_test_support::https::fixture;
use fence_test_support::redfish::{Mock, PASSWORD, System};
use serde_json::Value;

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);

/// A service with the certificate `cert` (`leaf` or `wrongname`) whose one system is in
/// `power` and answers ForceOff with `status` and `body`, leaving the system in `after`.
async fn serve(cert: &str, power: &str, status: u16, body: &str, after: Option<&str>) -> Mock {
    let mock = Mock::start_with_cert(vec![System::new("1", power)], cert).await;
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    mock.reply_to_reset("ForceOff", status, body, after);
    mock
}

/// The resets the service received.
fn resets(mock: &Mock) -> usize {
    mock.lines()
        .iter()
        .filter(|l| l.starts_with("POST ") && l.ends_with("/Actions/ComputerSystem.Reset"))
        .count()
}

/// HPE iLO 5's answer to ForceOff for a system that is off.
const ILO_400: &str = r#"{"error":{"code":"iLO.0.10.ExtendedInfo","message":"See @Message.ExtendedInfo for more information.","@Message.ExtendedInfo":[{"MessageId":"iLO.2.14.InvalidOperationForSystemState"}]}}"#;

fn args(action: &str, port: u16) -> Vec<String> {
    let ca = fixture("ca.pem").display().to_string();
    with(
        redfish_args(action, port, PASSWORD, &ca),
        &["--power-timeout=5"],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ilo_400_for_a_machine_already_off_succeeds_after_a_status_read() {
    // The first read says PoweringOff (counts as on); by the time ForceOff arrives the
    // machine is off and iLO refuses it with 400.
    let mock = serve("leaf", "PoweringOff", 400, ILO_400, Some("Off")).await;
    let port = mock.port();
    let run = cli("fence_redfish", args("off", port)).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{}",
        run.all()
    );
    assert_eq!(resets(&mock), 1);
    assert!(run.elapsed < SLACK, "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_for_a_machine_that_stays_on_fails_at_once_with_the_message() {
    let mock = serve("leaf", "On", 400, ILO_400, None).await;
    let port = mock.port();
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
    assert_eq!(mock.power(0), "On");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_with_a_message_fails_at_once_with_it() {
    let body = r#"{"error":{"code":"Base.1.8.GeneralError","message":"Power control is locked by another session."}}"#;
    let mock = serve("leaf", "On", 500, body, None).await;
    let port = mock.port();
    let run = cli("fence_redfish", args("off", port)).await;
    assert_failed(&run, "Power control is locked by another session.", SLACK);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_host_name_is_refused() {
    let mock = serve("wrongname", "On", 204, "", Some("Off")).await;
    let port = mock.port();
    let run = cli("fence_redfish", args("off", port)).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    assert_eq!(mock.requests().len(), 0, "nothing sent to an impostor");
    assert_eq!(mock.power(0), "On");
}

/// Issue 16: a refused certificate names the options that would let it in, spelt as the
/// user gave options (`--ssl-fingerprint=...` on a command line, `ssl_fingerprint=...` on
/// stdin), with the presented key's pin as OpenSSL computes it; given back as it was
/// offered, that pin fences the machine.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_certificate_names_the_remedies_in_the_users_spelling() {
    let mock = serve("leaf", "On", 204, "", Some("Off")).await;
    let port = mock.port().to_string();
    // curl's recipe for --pinnedpubkey, computed by openssl from the service's certificate.
    let pin = {
        let sh = format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | openssl base64",
            fixture("leaf.pem").display()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &sh])
            .output()
            .unwrap();
        assert!(out.status.success());
        format!("sha256//{}", String::from_utf8(out.stdout).unwrap().trim())
    };
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "admin",
        "-p",
        PASSWORD,
        "--systems-uri",
        "/redfish/v1/Systems/1",
    ];
    let flags = fault_kit::strings(&[&["-o", "status"][..], &base[..]].concat());
    let run = cli("fence_redfish", flags).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    for wanted in [
        "--ssl-ca-file=FILE".to_owned(),
        format!("--ssl-fingerprint={pin}"),
        "--ssl-known-hosts-file=FILE".to_owned(),
        "--ssl-insecure=1".to_owned(),
    ] {
        assert!(run.stderr.contains(&wanted), "{wanted}:\n{}", run.all());
    }

    let lines: Vec<String> = [
        "action=status".to_owned(),
        "ip=127.0.0.1".to_owned(),
        format!("ipport={port}"),
        "username=admin".to_owned(),
        format!("password={PASSWORD}"),
        "systems_uri=/redfish/v1/Systems/1".to_owned(),
    ]
    .into();
    let run = fault_kit::cli_stdin("fence_redfish", lines.clone()).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    assert!(
        run.stderr.contains(&format!("ssl_fingerprint={pin}")) && !run.stderr.contains("--ssl"),
        "stdin spelling:\n{}",
        run.all()
    );
    assert!(mock.requests().is_empty(), "nothing sent before trust");

    let mut pinned = lines;
    pinned[0] = "action=off".to_owned();
    pinned.push(format!("ssl_fingerprint={pin}"));
    pinned.push("power_timeout=5".to_owned());
    let run = fault_kit::cli_stdin("fence_redfish", pinned).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{}",
        run.all()
    );
    assert_eq!(mock.power(0), "Off");
}
