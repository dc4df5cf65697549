//! The rustls client configuration: ring as the crypto provider (no OpenSSL, no aws-lc),
//! TLS 1.2 and 1.3, and one of two certificate checks:
//!
//! - **verify** (the default): WebPKI verification against the system's roots, as
//!   `rustls-platform-verifier` loads them (on Linux the OpenSSL trust store files, e.g.
//!   `/etc/ssl/certs/ca-certificates.crt`; `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured),
//!   plus the CA certificates of `ssl_ca_file`. Host name (or IP address) must match the
//!   certificate's subjectAltName; a CA certificate (`CA:TRUE`) is refused as the server's
//!   own certificate, so a self-signed BMC certificate made with a bare `openssl req -x509`
//!   needs `ssl_insecure` (or a certificate with `CA:FALSE` put into `ssl_ca_file`);
//! - **insecure** (`ssl_insecure=1`): any certificate is accepted. The handshake signature
//!   is still checked against the presented certificate.

use std::path::Path;
use std::sync::Arc;

use fence_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::TlsVerify;

/// The crypto provider: ring (pure Rust and assembly, no C build of aws-lc).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads the CA certificates of a PEM file; a missing, unreadable or certificate-less file
/// is an input error.
pub(crate) fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| {
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

/// Builds the rustls client configuration for `verify`.
pub(crate) fn client_config(verify: &TlsVerify) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid_input(format!("TLS set-up: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        TlsVerify::Insecure => Arc::new(AcceptAnyCertificate { provider }),
        TlsVerify::Verify { ca_file } => {
            let extra = match ca_file {
                Some(path) => load_ca_file(path)?,
                None => Vec::new(),
            };
            let v = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
                .map_err(|e| {
                    Error::invalid_input(format!(
                        "no CA certificate to verify the device with ({e}): install the \
                         system's CA certificates, set ssl_ca_file, or set ssl_insecure"
                    ))
                })?;
            Arc::new(v)
        }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `ssl_insecure`: accepts any certificate, but still checks that the peer holds the key of
/// the certificate it presented.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
        client_config(&TlsVerify::Insecure).unwrap();
        client_config(&TlsVerify::Verify {
            ca_file: Some(fixture("ca.pem")),
        })
        .unwrap();
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
