//! Issue 16: TLS the way BMC admins need it, judged by OpenSSL. Every certificate here is
//! made by `openssl req -x509` as an admin (or a BMC) makes it — self-signed, `CA:TRUE` by
//! OpenSSL's default — and every fingerprint and key pin the tests expect is computed by
//! `openssl`, never by the code under test:
//!
//! - the BMC's own certificate in `ssl_ca_file` is trusted as itself, and its names are
//!   still checked;
//! - `ssl_fingerprint` in the forms `openssl x509 -fingerprint -sha256` and curl's
//!   `--pinnedpubkey` take, a wrong pin refused;
//! - `ssl_known_hosts_file`: the first connection records the key openssl computes, the
//!   next ones pass, another key is refused naming the line to remove;
//! - each refusal carries the options that would resolve it, with the presented key's pin.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fence_core::{ErrorKind, FenceDevice, PowerState};
use fence_redfish::{Pin, RedfishConfig, RedfishDevice, TlsVerify};
use fence_test_support::agent::temp_dir;
use fence_test_support::https::Certificate;
use fence_test_support::redfish::{Mock, PASSWORD, System, USER};

/// Runs openssl with `args` and `stdin`; its stdout.
fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (tests/scripts/install-deps.sh)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed certificate for `CN=127.0.0.1`, with the subjectAltName `san` when given,
/// as `openssl req -x509` makes it (P-256 key, 30 days).
fn self_signed(dir: &Path, name: &str, san: Option<&str>) -> Certificate {
    let (chain, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        chain.to_str().unwrap(),
    ];
    let ext;
    if let Some(san) = san {
        ext = format!("subjectAltName={san}");
        args.extend(["-addext", &ext]);
    }
    openssl(&args, b"");
    Certificate::files(&chain, &key)
}

/// `openssl x509 -noout -fingerprint -sha256`'s line.
fn fingerprint_line(cert: &Certificate) -> String {
    let out = openssl(
        &[
            "x509",
            "-in",
            cert.chain.to_str().unwrap(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
        b"",
    );
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// curl's recipe for `--pinnedpubkey`: `sha256//` and the base64 SHA-256 of the DER
/// public key.
fn curl_pin(cert: &Certificate) -> String {
    let pubkey = openssl(
        &[
            "x509",
            "-in",
            cert.chain.to_str().unwrap(),
            "-pubkey",
            "-noout",
        ],
        b"",
    );
    let der = openssl(&["pkey", "-pubin", "-outform", "der"], &pubkey);
    let digest = openssl(&["dgst", "-sha256", "-binary"], &der);
    let b64 = openssl(&["base64"], &digest);
    format!("sha256//{}", String::from_utf8(b64).unwrap().trim())
}

fn device(mock: &Mock, tls: TlsVerify) -> RedfishDevice {
    RedfishDevice::new(
        RedfishConfig::new("127.0.0.1", USER, PASSWORD)
            .with_port(mock.port())
            .with_tls(tls)
            .with_systems_uri(mock.system_uri(0))
            .with_timeouts(Duration::from_secs(3), Duration::from_secs(5)),
    )
    .unwrap()
}

async fn status(mock: &Mock, tls: TlsVerify) -> fence_core::Result<PowerState> {
    let dev = device(mock, tls);
    let state = dev.power_state("").await;
    let _ = dev.close().await;
    state
}

fn remedies(e: &fence_core::Error) -> Vec<(&'static str, String)> {
    e.context()
        .map(|c| {
            c.remedies
                .iter()
                .map(|r| (r.option, r.value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn dir(tag: &str) -> PathBuf {
    temp_dir(&format!("tls-{tag}"))
}

#[tokio::test]
async fn the_bmcs_own_self_signed_certificate_in_ssl_ca_file_is_trusted_as_itself() {
    let d = dir("self");
    let cert = self_signed(&d, "bmc", Some("IP:127.0.0.1"));
    let ext = openssl(
        &[
            "x509",
            "-in",
            cert.chain.to_str().unwrap(),
            "-noout",
            "-ext",
            "basicConstraints",
        ],
        b"",
    );
    assert!(
        String::from_utf8_lossy(&ext).contains("CA:TRUE"),
        "the scenario: OpenSSL's default self-signed certificate is CA:TRUE"
    );
    let mock = Mock::start_with_certificate(vec![System::new("1", "On")], &cert).await;

    // Without it: refused, with the options that would let it in and the key openssl sees.
    let e = status(&mock, TlsVerify::Verify { ca_file: None })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoginRefused, "{e}");
    assert!(
        e.to_string().contains("TLS certificate not accepted"),
        "{e}"
    );
    let offered = remedies(&e);
    let options: Vec<&str> = offered.iter().map(|(o, _)| *o).collect();
    assert_eq!(
        options,
        [
            "ssl_ca_file",
            "ssl_fingerprint",
            "ssl_known_hosts_file",
            "ssl_insecure"
        ]
    );
    assert_eq!(
        offered[1].1,
        curl_pin(&cert),
        "the presented key, as curl pins it"
    );
    assert!(e.to_string().contains(&curl_pin(&cert)), "{e}");

    // With it: trusted as itself.
    let listed = TlsVerify::Verify {
        ca_file: Some(cert.chain.clone()),
    };
    assert_eq!(status(&mock, listed).await.unwrap(), PowerState::On);
    assert_eq!(mock.lines(), ["GET /redfish/v1/Systems/1"]);
}

#[tokio::test]
async fn a_listed_certificate_still_has_to_name_the_address() {
    let d = dir("noname");
    // CN=127.0.0.1 but no subjectAltName: RFC 6125 (and rustls) read names from the SAN only.
    let cert = self_signed(&d, "bmc", None);
    let other_name = self_signed(&d, "other", Some("DNS:bmc.invalid"));
    for cert in [cert, other_name] {
        let mock = Mock::start_with_certificate(vec![System::new("1", "On")], &cert).await;
        let e = status(
            &mock,
            TlsVerify::Verify {
                ca_file: Some(cert.chain.clone()),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LoginRefused, "{e}");
        assert!(e.to_string().contains("does not name the address"), "{e}");
        assert_eq!(remedies(&e), [("ssl_fingerprint", curl_pin(&cert))], "{e}");
        assert!(mock.requests().is_empty(), "nothing sent");
        // The pin it offers lets it in (a pin does not read names).
        let pins = Pin::parse_list(&curl_pin(&cert)).unwrap();
        assert_eq!(
            status(&mock, TlsVerify::Pinned { pins }).await.unwrap(),
            PowerState::On
        );
    }
}

#[tokio::test]
async fn pins_in_the_forms_openssl_and_curl_print_and_a_wrong_one_refused() {
    let d = dir("pins");
    let cert = self_signed(&d, "bmc", Some("IP:127.0.0.1"));
    let other = self_signed(&d, "other", Some("IP:127.0.0.1"));
    let mock = Mock::start_with_certificate(vec![System::new("1", "On")], &cert).await;
    let line = fingerprint_line(&cert);
    let hex = line.split_once('=').unwrap().1.to_owned();
    for text in [
        line.clone(),
        format!("sha256:{hex}"),
        hex.replace(':', "").to_lowercase(),
        curl_pin(&cert),
        format!("{};{}", curl_pin(&other), curl_pin(&cert)),
    ] {
        let pins = Pin::parse_list(&text).unwrap();
        assert_eq!(
            status(&mock, TlsVerify::Pinned { pins }).await.unwrap(),
            PowerState::On,
            "{text}"
        );
    }
    let before = mock.requests().len();
    for text in [fingerprint_line(&other), curl_pin(&other)] {
        let pins = Pin::parse_list(&text).unwrap();
        let e = status(&mock, TlsVerify::Pinned { pins }).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LoginRefused, "{e}");
        assert!(
            e.to_string().contains("matches no pin of ssl_fingerprint"),
            "{e}"
        );
        assert!(e.to_string().contains(&curl_pin(&cert)), "{e}");
        assert!(e.to_string().contains(&hex), "{e}");
    }
    assert_eq!(
        mock.requests().len(),
        before,
        "nothing sent to the unpinned"
    );
}

#[tokio::test]
async fn trust_on_first_use_records_the_key_then_refuses_another() {
    let d = dir("tofu");
    let cert = self_signed(&d, "bmc", Some("IP:127.0.0.1"));
    let mock = Mock::start_with_certificate(vec![System::new("1", "On")], &cert).await;
    let file = d.join("known_hosts");
    let tofu = || TlsVerify::TrustOnFirstUse { file: file.clone() };
    assert_eq!(status(&mock, tofu()).await.unwrap(), PowerState::On);
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        recorded,
        format!("127.0.0.1:{} {}\n", mock.port(), curl_pin(&cert)),
        "the key as openssl computes it"
    );
    assert_eq!(status(&mock, tofu()).await.unwrap(), PowerState::On);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), recorded, "once");

    // The BMC's certificate is replaced: another key on the same address.
    let new = self_signed(&d, "new", Some("IP:127.0.0.1"));
    std::fs::write(
        &file,
        format!("# BMCs\n127.0.0.1:{} {}\n", mock.port(), curl_pin(&new)),
    )
    .unwrap();
    let before = mock.requests().len();
    let e = status(&mock, tofu()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoginRefused, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("{} line 2", file.display())), "{msg}");
    assert!(msg.contains(&curl_pin(&new)), "what was pinned: {msg}");
    assert!(msg.contains(&curl_pin(&cert)), "what is presented: {msg}");
    assert!(msg.contains("remove line 2"), "how to accept: {msg}");
    assert_eq!(mock.requests().len(), before, "nothing sent");
}
