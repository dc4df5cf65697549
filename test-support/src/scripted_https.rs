//! A scripted HTTPS service: HTTP/1.1 with keep-alive on tokio + rustls, answering each
//! request with whatever a closure returns for its method and path. Used by
//! `fence-redfish/tests/fuzz_json.rs` and `tests/tests/faults_redfish_http.rs`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Starts an HTTPS service on 127.0.0.1 (port 0) with the certificate chain `cert` and the
/// key `key` (PEM files); every request is answered with the status and the JSON body that
/// `answer(method, path)` returns. Returns the port.
pub async fn serve<F>(cert: &Path, key: &Path, answer: F) -> u16
where
    F: Fn(&str, &str) -> (u16, Vec<u8>) + Send + Sync + 'static,
{
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
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
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let Ok(mut io) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                while let Some(head) = read_request(&mut io, &mut buf).await {
                    let mut words = head.split_whitespace();
                    let method = words.next().unwrap_or("");
                    let path = words.next().unwrap_or("");
                    let (status, body) = answer(method, path);
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    if io.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Reads one request (the head, then Content-Length bytes of body) from `io`, with `buf`
/// holding what was read past the previous request; returns the head, or `None` when the
/// connection ends.
async fn read_request(io: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<String> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(io, buf).await?;
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
        read_more(io, buf).await?;
    }
    buf.drain(..head_end + length);
    Some(head)
}

/// Appends the next bytes of `io` to `buf`; `None` at the end of the stream or on an error.
async fn read_more(io: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    match io.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}
