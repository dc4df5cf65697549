//! A small in-process Redfish service over HTTPS for the fault paths that sushy-tools
//! cannot show (sessions, refused resets with iLO-style messages, missing collections,
//! silence). HTTP/1.1 with keep-alive, written by hand on tokio + rustls; it logs every
//! request with its headers and counts connections.
#![allow(dead_code)]
// Test scaffolding: a broken mock should panic loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret-pw";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A system of the mock service.
#[derive(Clone, Debug)]
pub struct System {
    pub id: String,
    pub power: String,
    pub allowed: Option<Vec<String>>,
}

impl System {
    pub fn new(id: &str, power: &str) -> System {
        System {
            id: id.to_owned(),
            power: power.to_owned(),
            allowed: Some(
                [
                    "On",
                    "ForceOff",
                    "GracefulShutdown",
                    "ForceRestart",
                    "Nmi",
                    "ForceOn",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ),
        }
    }
}

/// A canned answer to a reset, and what happens to the system meanwhile.
#[derive(Clone, Debug)]
pub struct ResetReply {
    pub status: u16,
    pub body: Value,
    pub power_after: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub systems: Vec<System>,
    pub root_has_systems: bool,
    pub sessions_enabled: bool,
    pub sessions: HashMap<String, u32>,
    pub next_session: u32,
    pub sessions_created: u32,
    pub reset_replies: HashMap<String, ResetReply>,
    /// Accept connections and requests, never answer.
    pub silent: bool,
    /// Paths answered with `307 Temporary Redirect` to the given `Location`.
    pub redirects: HashMap<String, String>,
    /// Answer every request with `200 OK` and a body of this many spaces (announced in
    /// `Content-Length` only when the flag is true).
    pub oversized: Option<(usize, bool)>,
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

pub struct Mock {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    pub log: Arc<Mutex<Vec<Logged>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Mock {
    pub async fn start(systems: Vec<System>) -> Mock {
        Mock::start_with_cert(systems, "leaf").await
    }

    /// A mock serving the fixture certificate `<cert>.pem` / `<cert>.key`.
    pub async fn start_with_cert(systems: Vec<System>, cert: &str) -> Mock {
        let state = State {
            systems,
            root_has_systems: true,
            sessions_enabled: true,
            sessions: HashMap::new(),
            next_session: 1,
            sessions_created: 0,
            reset_replies: HashMap::new(),
            silent: false,
            redirects: HashMap::new(),
            oversized: None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mock = Mock {
            addr,
            state: Arc::new(Mutex::new(state)),
            log: Arc::new(Mutex::new(Vec::new())),
            connections: Arc::new(AtomicUsize::new(0)),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(cert)));
        let (state, log, connections) = (
            mock.state.clone(),
            mock.log.clone(),
            mock.connections.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let (state, log) = (state.clone(), log.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, state, log).await;
                    }
                });
            }
        });
        mock
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn system_uri(&self, i: usize) -> String {
        format!(
            "/redfish/v1/Systems/{}",
            self.state.lock().unwrap().systems[i].id
        )
    }

    pub fn power(&self, i: usize) -> String {
        self.state.lock().unwrap().systems[i].power.clone()
    }

    pub fn set_power(&self, i: usize, power: &str) {
        self.state.lock().unwrap().systems[i].power = power.to_owned();
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// `METHOD path` of every request, in order.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn with_state(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Answers the reset `reset_type` with `status` and `body`, and leaves the system in
    /// `power_after` (unchanged when `None`).
    pub fn reply_to_reset(
        &self,
        reset_type: &str,
        status: u16,
        body: Value,
        power_after: Option<&str>,
    ) {
        let reply = ResetReply {
            status,
            body,
            power_after: power_after.map(str::to_owned),
        };
        self.with_state(|s| {
            s.reset_replies.insert(reset_type.to_owned(), reply);
        });
    }
}

fn server_config(cert: &str) -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture(&format!("{cert}.pem")))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{cert}.key"))).unwrap();
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut io: S,
    state: Arc<Mutex<State>>,
    log: Arc<Mutex<Vec<Logged>>>,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                break pos;
            }
            let mut chunk = [0u8; 4096];
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
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
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < len {
            let mut chunk = [0u8; 4096];
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        let request = Logged {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
        };
        log.lock().unwrap().push(request.clone());
        if state.lock().unwrap().silent {
            // Hold the connection open without answering.
            std::future::pending::<()>().await;
        }
        let oversized = state.lock().unwrap().oversized;
        if let Some((size, announced)) = oversized {
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
            let _ = io.write_all(b"0\r\n\r\n").await;
            return;
        }
        let (status, extra, body) = route(&request, &mut state.lock().unwrap());
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let mut out = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
            reason(status),
            body.len()
        );
        if !body.is_empty() {
            out.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in extra {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&body);
        if io.write_all(out.as_bytes()).await.is_err() || io.flush().await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        307 => "Temporary Redirect",
        404 => "Not Found",
        501 => "Not Implemented",
        _ => "Other",
    }
}

pub fn redfish_error(message: &str, extended: &[(&str, Option<&str>)]) -> Value {
    let infos: Vec<Value> = extended
        .iter()
        .map(|(id, msg)| match msg {
            Some(m) => json!({"MessageId": id, "Message": m}),
            None => json!({"MessageId": id}),
        })
        .collect();
    json!({"error": {"code": "Base.1.0.GeneralError", "message": message,
                     "@Message.ExtendedInfo": infos}})
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

fn route(r: &Logged, s: &mut State) -> Answer {
    let m = r.method.as_str();
    let p = r.path.trim_end_matches('/');
    if let Some(location) = s.redirects.get(p) {
        return (307, vec![("Location", location.clone())], Value::Null);
    }
    if m == "GET" && p == "/redfish/v1" {
        let mut root = json!({"@odata.id": "/redfish/v1", "RedfishVersion": "1.6.0"});
        if s.sessions_enabled {
            root["SessionService"] = json!({"@odata.id": "/redfish/v1/SessionService"});
            root["Links"] =
                json!({"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}});
        }
        if s.root_has_systems {
            root["Systems"] = json!({"@odata.id": "/redfish/v1/Systems"});
        }
        return (200, vec![], root);
    }
    if m == "POST" && p == "/redfish/v1/SessionService/Sessions" {
        if !s.sessions_enabled {
            return (404, vec![], redfish_error("Not found", &[]));
        }
        let creds: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        if creds["UserName"] != USER || creds["Password"] != PASSWORD {
            return (
                401,
                vec![],
                redfish_error("Invalid username or password", &[]),
            );
        }
        let id = s.next_session;
        s.next_session += 1;
        s.sessions_created += 1;
        let token = format!("token-{id}");
        s.sessions.insert(token.clone(), id);
        let location = format!("/redfish/v1/SessionService/Sessions/{id}");
        return (
            201,
            vec![("X-Auth-Token", token), ("Location", location.clone())],
            json!({"@odata.id": location, "Id": id.to_string()}),
        );
    }
    // Everything else needs credentials.
    let basic_ok = r.header("authorization")
        == Some(format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes())).as_str());
    let token_ok = r
        .header("x-auth-token")
        .is_some_and(|t| s.sessions.contains_key(t));
    if !basic_ok && !token_ok {
        return (
            401,
            vec![],
            redfish_error("Incorrect username or password", &[]),
        );
    }
    if m == "DELETE" {
        if let Some(id) = p.strip_prefix("/redfish/v1/SessionService/Sessions/") {
            let before = s.sessions.len();
            s.sessions.retain(|_, v| v.to_string() != id);
            return if s.sessions.len() < before {
                (204, vec![], Value::Null)
            } else {
                (404, vec![], redfish_error("No such session", &[]))
            };
        }
    }
    if m == "GET" && p == "/redfish/v1/Systems" {
        let members: Vec<Value> = s
            .systems
            .iter()
            .map(|x| json!({"@odata.id": format!("/redfish/v1/Systems/{}", x.id)}))
            .collect();
        return (
            200,
            vec![],
            json!({"Members@odata.count": members.len(), "Members": members}),
        );
    }
    if let Some(rest) = p.strip_prefix("/redfish/v1/Systems/") {
        let (id, action) = match rest.split_once('/') {
            Some((id, a)) => (id, Some(a)),
            None => (rest, None),
        };
        let Some(idx) = s.systems.iter().position(|x| x.id == id) else {
            return (404, vec![], redfish_error("No such system", &[]));
        };
        match (m, action) {
            ("GET", None) => {
                let sys = &s.systems[idx];
                let mut reset = json!({
                    "target": format!("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset")
                });
                if let Some(a) = &sys.allowed {
                    reset["ResetType@Redfish.AllowableValues"] = json!(a);
                }
                return (
                    200,
                    vec![],
                    json!({"@odata.id": format!("/redfish/v1/Systems/{id}"), "Id": id,
                           "PowerState": sys.power,
                           "Actions": {"#ComputerSystem.Reset": reset}}),
                );
            }
            ("POST", Some("Actions/ComputerSystem.Reset")) => {
                let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                let kind = body["ResetType"].as_str().unwrap_or("").to_owned();
                if let Some(reply) = s.reset_replies.get(&kind).cloned() {
                    if let Some(p) = reply.power_after {
                        s.systems[idx].power = p;
                    }
                    return (reply.status, vec![], reply.body);
                }
                let new = match kind.as_str() {
                    "ForceOff" | "GracefulShutdown" => "Off",
                    "On" | "ForceOn" | "ForceRestart" | "PowerCycle" => "On",
                    _ => {
                        return (
                            501,
                            vec![],
                            redfish_error(&format!("Power state {kind} is not supported"), &[]),
                        );
                    }
                };
                s.systems[idx].power = new.to_owned();
                return (204, vec![], Value::Null);
            }
            _ => {}
        }
    }
    (404, vec![], redfish_error("Not found", &[]))
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(base64(b"admin:password"), "YWRtaW46cGFzc3dvcmQ=");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
}
