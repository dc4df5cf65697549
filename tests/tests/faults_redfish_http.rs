//! fence_redfish (the fence-agent binary) against a scripted HTTPS Redfish service, for the
//! answers fence-sim does not give: HPE iLO's HTTP 400 to ForceOff for a machine that is
//! already off (settled by a status read), a 400 for a machine that stays on (fails at once
//! with the service's message), and a certificate for another host name.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_kit::{assert_failed, cli, strings};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

async fn serve(cert: &str, script: Arc<Mutex<Scripted>>) -> u16 {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture(&format!("{cert}.pem")))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{cert}.key"))).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                let Ok(mut io) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match io.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match io.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    let method = head.split_whitespace().next().unwrap_or("").to_owned();
                    let (status, body) = {
                        let mut s = script.lock().unwrap();
                        if method == "POST" {
                            s.resets += 1;
                            if let Some(p) = s.power_after_reset.clone() {
                                s.power = p;
                            }
                            (s.reset_status, s.reset_body.clone())
                        } else {
                            let doc = serde_json_like(&s.power);
                            (200, doc)
                        }
                    };
                    let out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if io.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
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
    strings(&[
        "-o",
        action,
        "-a",
        "127.0.0.1",
        "-u",
        &port.to_string(),
        "-l",
        "admin",
        "-p",
        "pw",
        "--ssl-ca-file",
        &fixture("ca.pem").display().to_string(),
        "--systems-uri",
        "/redfish/v1/Systems/1",
        "--power-timeout=5",
    ])
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
