//! The one HTTPS server of the tests: HTTP/1.1 with keep-alive on tokio + rustls, written
//! by hand so that a test can answer anything (a broken status line aside): any status,
//! headers and body, a request never answered, an answer larger than any bound. It logs
//! every request with its headers and body and counts TLS connections. What it answers is
//! decided by a handler; [`crate::redfish`] is the Redfish service built on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// A test certificate of `fixtures/` (see its README): `ca.pem`, `leaf.pem`/`leaf.key`
/// (127.0.0.1, ::1, localhost, signed by `ca.pem`), `wrongname.pem`/`wrongname.key`
/// (`bmc.invalid` only).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A server certificate chain and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The chain, leaf first.
    pub chain: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl Certificate {
    /// The fixture pair `<name>.pem` / `<name>.key` (`leaf` or `wrongname`).
    pub fn fixture(name: &str) -> Certificate {
        Certificate {
            chain: fixture(&format!("{name}.pem")),
            key: fixture(&format!("{name}.key")),
        }
    }

    /// The pair at these paths.
    pub fn files(chain: &Path, key: &Path) -> Certificate {
        Certificate {
            chain: chain.to_owned(),
            key: key.to_owned(),
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.chain)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&self.key).unwrap();
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Header names in lower case, values trimmed.
    pub headers: HashMap<String, String>,
    /// The body (as much as `Content-Length` announced).
    pub body: String,
}

impl Request {
    /// A header's value by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An HTTP/1.1 answer: `Content-Length` is added, nothing else.
    Answer {
        /// The status code.
        status: u16,
        /// The headers besides `Content-Length`.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Hold the connection open and never answer.
    Silence,
    /// Send these bytes as they are, then close the TCP connection without TLS
    /// close_notify (as a server that answers HTTP/1.0 without `Content-Length` and closes).
    Cut(Vec<u8>),
    /// `200 OK` with a body of `size` spaces, announced in `Content-Length` when `announced`,
    /// else sent chunked; then the connection closes.
    Flood {
        /// The body's size in bytes.
        size: usize,
        /// Whether `Content-Length` announces it.
        announced: bool,
    },
}

impl Reply {
    /// An answer with a JSON body (`Content-Type: application/json`, also when empty).
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Answer {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.into(),
        }
    }
}

/// Decides the reply to each request.
pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running server on 127.0.0.1 (port 0), until the runtime ends.
#[derive(Clone, Debug)]
pub struct HttpsServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    connections: Arc<AtomicUsize>,
}

impl HttpsServer {
    /// Starts a server with this certificate, answering with `handler`.
    pub async fn start(
        certificate: &Certificate,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> HttpsServer {
        let handler: Handler = Arc::new(handler);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certificate.server_config()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = HttpsServer {
            addr: listener.local_addr().unwrap(),
            log: Arc::default(),
            connections: Arc::default(),
        };
        let (log, connections) = (Arc::clone(&server.log), Arc::clone(&server.connections));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, log, handler) =
                    (acceptor.clone(), Arc::clone(&log), Arc::clone(&handler));
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, log, handler).await;
                    }
                });
            }
        });
        server
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// `METHOD path` of every request so far, in order.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serves the requests of one connection until it ends.
async fn serve(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    log: Arc<Mutex<Vec<Request>>>,
    handler: Handler,
) {
    let mut buf = Vec::new();
    while let Some(request) = read_request(&mut io, &mut buf).await {
        log.lock().unwrap().push(request.clone());
        match handler(&request) {
            Reply::Answer {
                status,
                headers,
                body,
            } => {
                let mut out = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
                    reason(status),
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let mut out = out.into_bytes();
                out.extend_from_slice(&body);
                if io.write_all(&out).await.is_err() || io.flush().await.is_err() {
                    return;
                }
            }
            Reply::Silence => std::future::pending::<()>().await,
            Reply::Cut(bytes) => {
                let _ = io.write_all(&bytes).await;
                let _ = io.flush().await;
                // Dropped without shutdown: no close_notify.
                return;
            }
            Reply::Flood { size, announced } => {
                flood(&mut io, size, announced).await;
                return;
            }
        }
    }
}

async fn flood(io: &mut (impl AsyncWrite + Unpin), size: usize, announced: bool) {
    let head = if announced {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n")
    } else {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
    };
    if io.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let block = vec![b' '; 64 << 10];
    let mut sent = 0;
    while sent < size {
        let n = block.len().min(size - sent);
        let data = if announced {
            block[..n].to_vec()
        } else {
            let mut c = format!("{n:x}\r\n").into_bytes();
            c.extend_from_slice(&block[..n]);
            c.extend_from_slice(b"\r\n");
            c
        };
        if io.write_all(&data).await.is_err() {
            return;
        }
        sent += n;
    }
    if !announced {
        let _ = io.write_all(b"0\r\n\r\n").await;
    }
}

/// Reads one request (the head, then `Content-Length` bytes of body) from `io`, with `buf`
/// holding what was read past the previous request; `None` when the connection ends.
async fn read_request(io: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        read_more(io, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < length {
        read_more(io, buf).await?;
    }
    let body: Vec<u8> = buf.drain(..length).collect();
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
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

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Other",
    }
}
