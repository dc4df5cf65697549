//! The rustls client configuration: ring as the crypto provider (no OpenSSL, no aws-lc),
//! TLS 1.2 and 1.3, and one of four certificate checks ([`TlsVerify`]):
//!
//! - **verify** (the default): WebPKI verification against the system's roots, as
//!   `rustls-platform-verifier` loads them (on Linux the OpenSSL trust store files, e.g.
//!   `/etc/ssl/certs/ca-certificates.crt`; `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured),
//!   plus the certificates of `ssl_ca_file`. A certificate listed in `ssl_ca_file` that the
//!   BMC presents as its own (the self-signed certificate most BMCs ship, `CA:TRUE` as a bare
//!   `openssl req -x509` makes it, or not) is trusted as itself: the exact certificate, its
//!   dates, and the name the device is reached by, which must be in its subjectAltName (a DNS
//!   name, or for a BMC reached by IP address, an IP address entry: the common name is not
//!   read, as RFC 6125 and rustls do; a certificate without the address is pinned instead);
//! - **pinned** (`ssl_fingerprint`, [`crate::Pin`]): accepted when it matches a pin,
//!   whatever its issuer, names or dates;
//! - **trust on first use** (`ssl_known_hosts_file`, [`crate::known_hosts`]): the key seen
//!   first is pinned in a file, a changed one refused;
//! - **insecure** (`ssl_insecure=1`): any certificate is accepted.
//!
//! In every mode the peer must prove it holds the key of the certificate it presented (the
//! handshake signature is checked), and the presented certificate is kept for the messages,
//! which give its two pins so that an admin can compare them with the BMC's console.

use std::path::Path;
use std::sync::{Arc, Mutex};

use fence_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::cert::CertInfo;
use crate::config::TlsVerify;
use crate::known_hosts::{Known, KnownHosts};
use crate::pin::Pin;

/// The last certificate a BMC presented as its own, for messages.
pub(crate) type Presented = Arc<Mutex<Option<CertificateDer<'static>>>>;

/// Why our own checks refused a certificate (carried inside rustls' error).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No pin of `ssl_fingerprint` matches.
    NoPinMatches,
    /// The known-hosts file pins another key for this BMC.
    Changed {
        /// The file.
        file: String,
        /// Its line.
        line: usize,
        /// The pin on that line.
        pinned: Pin,
    },
    /// The first use could not be recorded in the known-hosts file.
    NotRecorded {
        /// The file.
        file: String,
        /// Why.
        why: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoPinMatches => {
                f.write_str("the certificate matches no pin of ssl_fingerprint")
            }
            Refusal::Changed { file, line, pinned } => write!(
                f,
                "the BMC presents another key than {file} line {line} pins ({pinned})"
            ),
            Refusal::NotRecorded { file, why } => {
                write!(
                    f,
                    "the first certificate could not be recorded in {file}: {why}"
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The crypto provider: ring (pure Rust and assembly, no C build of aws-lc).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads the CA certificates of a PEM file; a missing, unreadable or certificate-less file
/// is an input error.
pub(crate) fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = crate::files::read(path)
        .and_then(|b| b.ok_or_else(|| "No such file or directory".to_owned()))
        .map_err(|e| {
            Error::invalid_input(format!("cannot read ssl_ca_file {}: {e}", path.display()))
        })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid_input(format!(
                "ssl_ca_file {} is not a PEM certificate file: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_input(format!(
            "ssl_ca_file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the rustls client configuration for `verify`, for the BMC at `address`
/// (`host:port`, the known-hosts key); returns it with the slot of the presented
/// certificate.
pub(crate) fn client_config(
    verify: &TlsVerify,
    address: &str,
) -> Result<(rustls::ClientConfig, Presented)> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid_input(format!("TLS set-up: {e}")))?;
    let check = match verify {
        TlsVerify::Insecure => Check::Any,
        TlsVerify::Pinned { pins } => Check::Pins(pins.clone()),
        TlsVerify::TrustOnFirstUse { file } => Check::FirstUse(KnownHosts::load(file, address)?),
        TlsVerify::Verify { ca_file } => {
            let listed = match ca_file {
                Some(path) => load_ca_file(path)?,
                None => Vec::new(),
            };
            let v = rustls_platform_verifier::Verifier::new_with_extra_roots(
                listed.clone(),
                provider.clone(),
            )
            .map_err(|e| {
                Error::invalid_input(format!(
                    "no CA certificate to verify the device with ({e}): install the \
                     system's CA certificates, or set ssl_ca_file, ssl_fingerprint or \
                     ssl_known_hosts_file"
                ))
            })?;
            Check::WebPki {
                roots: Arc::new(v),
                listed,
            }
        }
    };
    let presented = Presented::default();
    let verifier = BmcVerifier {
        check,
        provider,
        presented: Arc::clone(&presented),
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, presented))
}

/// What is checked of the certificate.
#[derive(Debug)]
enum Check {
    /// WebPKI against the roots; a listed certificate presented as is is trusted as itself.
    WebPki {
        roots: Arc<rustls_platform_verifier::Verifier>,
        listed: Vec<CertificateDer<'static>>,
    },
    /// One of these pins.
    Pins(Vec<Pin>),
    /// The known-hosts file.
    FirstUse(KnownHosts),
    /// Nothing (`ssl_insecure`).
    Any,
}

/// The certificate check of every mode.
#[derive(Debug)]
struct BmcVerifier {
    check: Check,
    provider: Arc<CryptoProvider>,
    presented: Presented,
}

impl BmcVerifier {
    /// After a handshake signature checked against `cert`: in trust-on-first-use mode,
    /// records `cert`'s key when the file does not know the BMC yet (the peer proved it
    /// holds that key), or refuses it when another key was recorded meanwhile.
    fn signed(
        &self,
        cert: &CertificateDer<'_>,
        verified: std::result::Result<HandshakeSignatureValid, rustls::Error>,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let verified = verified?;
        let Check::FirstUse(known) = &self.check else {
            return Ok(verified);
        };
        // The same certificate verify_server_cert just accepted as known or new (rustls
        // calls it first, with this end-entity certificate): checked again, and recorded
        // when new, under one lock.
        match known.check_or_record(cert) {
            Ok(Known::Same) => {}
            Ok(Known::New) => tracing::warn!(
                file = %known.path().display(),
                "trusted the BMC's certificate on first use"
            ),
            Ok(Known::Changed { line, pinned }) => {
                return Err(refused(Refusal::Changed {
                    file: known.path().display().to_string(),
                    line,
                    pinned,
                }));
            }
            Err(why) => {
                return Err(refused(Refusal::NotRecorded {
                    file: known.path().display().to_string(),
                    why,
                }));
            }
        }
        Ok(verified)
    }
}

fn refused(why: Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(why))))
}

/// A certificate of `ssl_ca_file` that the BMC presents as its own: its dates and the name
/// it is reached by are checked, nothing else (it is its own trust anchor).
fn trusted_as_itself(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let info = CertInfo::parse(end_entity).ok_or(rustls::Error::InvalidCertificate(
        CertificateError::BadEncoding,
    ))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < info.not_before {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > info.not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    rustls::client::verify_server_name(&parsed, server_name)?;
    Ok(ServerCertVerified::assertion())
}

impl ServerCertVerifier for BmcVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(end_entity.clone().into_owned());
        }
        match &self.check {
            Check::Any => Ok(ServerCertVerified::assertion()),
            Check::Pins(pins) => {
                if pins.iter().any(|p| p.matches(end_entity)) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(refused(Refusal::NoPinMatches))
                }
            }
            Check::FirstUse(known) => match known.check(end_entity) {
                Known::Same => Ok(ServerCertVerified::assertion()),
                Known::Changed { line, pinned } => Err(refused(Refusal::Changed {
                    file: known.path().display().to_string(),
                    line,
                    pinned,
                })),
                Known::New => {
                    if CertInfo::parse(end_entity).is_none() {
                        return Err(rustls::Error::InvalidCertificate(
                            CertificateError::BadEncoding,
                        ));
                    }
                    // Recorded only once the peer has proved it holds the key (the
                    // handshake signature, checked next): a peer that presents someone
                    // else's certificate and aborts leaves no pin behind.
                    Ok(ServerCertVerified::assertion())
                }
            },
            Check::WebPki { roots, listed } => {
                match roots.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    Ok(v) => Ok(v),
                    // A revoked certificate stays refused, listed or not.
                    Err(e)
                        if !matches!(
                            e,
                            rustls::Error::InvalidCertificate(CertificateError::Revoked)
                        ) && listed.iter().any(|c| c.as_ref() == end_entity.as_ref()) =>
                    {
                        tracing::debug!(error = %e, "the BMC presents a certificate of ssl_ca_file as its own");
                        trusted_as_itself(end_entity, server_name, now)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let verified = rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        );
        self.signed(cert, verified)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let verified = rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        );
        self.signed(cert, verified)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Our own refusal inside a rustls error, if it is one.
pub(crate) fn refusal_of(e: &rustls::Error) -> Option<&Refusal> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Refusal>()
        }
        _ => None,
    }
}

/// The rustls error somewhere in an error's chain (reqwest, hyper and `std::io::Error`
/// wrap it), if any.
pub(crate) fn find_tls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        // `io::Error::source` skips the wrapped error itself: look inside explicitly.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(t) = inner.downcast_ref::<rustls::Error>() {
                    return Some(t);
                }
                if let Some(t) = find_tls_error(inner) {
                    return Some(t);
                }
            }
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_test_support::https::fixture;

    #[test]
    fn ca_file_is_read_and_bad_files_are_input_errors() {
        assert_eq!(load_ca_file(&fixture("ca.pem")).unwrap().len(), 1);
        let e = load_ca_file(&fixture("missing.pem")).unwrap_err();
        assert_eq!(e.kind(), fence_core::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let e = load_ca_file(&fixture("README.md")).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn configs_build_for_each_mode() {
        client_config(&TlsVerify::Insecure, "a:1").unwrap();
        client_config(
            &TlsVerify::Verify {
                ca_file: Some(fixture("ca.pem")),
            },
            "a:1",
        )
        .unwrap();
        client_config(
            &TlsVerify::Pinned {
                pins: vec![Pin::PublicKey([0; 32])],
            },
            "a:1",
        )
        .unwrap();
    }

    #[test]
    fn a_listed_certificate_is_held_to_its_dates_and_names() {
        // The fixture leaf: valid for 100 years from its making, SAN 127.0.0.1 and localhost.
        let pem = std::fs::read(fixture("leaf.pem")).unwrap();
        let der = CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap();
        let at = |secs: u64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        let ip = ServerName::try_from("127.0.0.1").unwrap();
        let now = at(1_796_297_400); // 2026-12-03
        assert!(trusted_as_itself(&der, &ip, now).is_ok());
        assert!(trusted_as_itself(&der, &ServerName::try_from("localhost").unwrap(), now).is_ok());
        assert!(matches!(
            trusted_as_itself(&der, &ServerName::try_from("10.0.0.5").unwrap(), now),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ));
        assert!(matches!(
            trusted_as_itself(&der, &ip, at(0)),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet
            ))
        ));
        assert!(matches!(
            trusted_as_itself(&der, &ip, at(7_258_118_400)), // 2200-01-01
            Err(rustls::Error::InvalidCertificate(CertificateError::Expired))
        ));
    }

    #[test]
    fn tls_error_is_found_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let found = find_tls_error(&io).unwrap();
        assert!(matches!(
            found,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ));
        let plain = std::io::Error::other("refused");
        assert!(find_tls_error(&plain).is_none());
    }
}
