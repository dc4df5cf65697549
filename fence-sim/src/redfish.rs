//! A simulated Redfish service over HTTPS.
//!
//! One [`RedfishSim`] runs any number of services (one TCP port each), each with any number
//! of systems. Every service speaks HTTP/1.1 with keep-alive over TLS, with a certificate
//! made at start and signed by a CA made at start ([`RedfishSim::ca_pem`]), so clients verify
//! TLS for real. It has what fencing uses:
//!
//! - `GET /redfish/v1` (no authentication), `/redfish/v1/Systems`, `/redfish/v1/Systems/{id}`
//!   with `PowerState` (`PoweringOff`/`PoweringOn` while a change is pending) and the
//!   `#ComputerSystem.Reset` action with `ResetType@Redfish.AllowableValues`;
//! - `POST .../Actions/ComputerSystem.Reset` (`On`, `ForceOn`, `ForceOff`,
//!   `GracefulShutdown`, `ForceRestart`, `GracefulRestart`, `PowerCycle`, `PushPowerButton`,
//!   `Nmi`), answered `204 No Content`;
//! - basic authentication, and session authentication: `POST
//!   /redfish/v1/SessionService/Sessions` answers `201` with `X-Auth-Token` and `Location`,
//!   `DELETE` on the `Location` ends the session.
//!
//! The [`Faults`] of a service apply to all its systems.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use fence_core::PowerState;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::machine::{Faults, Machine};
use crate::{Event, Observer};

/// The reset types every simulated system offers.
pub const RESET_TYPES: [&str; 9] = [
    "On",
    "ForceOn",
    "ForceOff",
    "GracefulShutdown",
    "ForceRestart",
    "GracefulRestart",
    "PowerCycle",
    "PushPowerButton",
    "Nmi",
];

/// How to build a [`RedfishSim`].
#[derive(Clone)]
pub struct RedfishConfig {
    /// The address to listen on (default 127.0.0.1).
    pub address: IpAddr,
    /// The port of the first service; 0 lets the system choose a free port for each.
    /// Otherwise service `i` listens on `port + i`.
    pub port: u16,
    /// How many services (one port each).
    pub services: usize,
    /// Systems per service, with ids `1`..`N`.
    pub systems: usize,
    /// The user name both authentication schemes accept.
    pub username: String,
    /// The password both authentication schemes accept.
    pub password: String,
    /// The state systems start in.
    pub initial: PowerState,
    /// How long after a reset the power state changes.
    pub delay: Duration,
    /// Faults of every service, unless overridden in `faults_of`.
    pub faults: Faults,
    /// Faults of particular services, by index.
    pub faults_of: HashMap<usize, Faults>,
    /// Called on every connection and request.
    pub observer: Option<Observer>,
}

impl std::fmt::Debug for RedfishConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedfishConfig")
            .field("address", &self.address)
            .field("port", &self.port)
            .field("services", &self.services)
            .field("systems", &self.systems)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("initial", &self.initial)
            .field("delay", &self.delay)
            .field("faults", &self.faults)
            .field("faults_of", &self.faults_of)
            .finish_non_exhaustive()
    }
}

impl Default for RedfishConfig {
    fn default() -> Self {
        RedfishConfig {
            address: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            services: 1,
            systems: 1,
            username: "admin".into(),
            password: "password".into(),
            initial: PowerState::On,
            delay: Duration::ZERO,
            faults: Faults::NONE,
            faults_of: HashMap::new(),
            observer: None,
        }
    }
}

/// Counters of one service.
#[derive(Debug, Default)]
pub struct Counters {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// HTTP requests received (answered or dropped).
    pub requests: AtomicU64,
    /// Sessions created.
    pub sessions_created: AtomicU64,
    /// Sessions deleted.
    pub sessions_deleted: AtomicU64,
}

/// One running service.
#[derive(Debug)]
pub struct RedfishService {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its systems, by index (system `i` has id `i + 1`).
    pub systems: Vec<Arc<Machine>>,
    /// Its counters.
    pub counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl RedfishService {
    /// `https://ADDRESS:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The URI of system `i` (0-based): `/redfish/v1/Systems/{i+1}`.
    pub fn system_uri(&self, i: usize) -> String {
        format!("/redfish/v1/Systems/{}", i + 1)
    }
}

/// Running simulated Redfish services; they stop when this is dropped.
#[derive(Debug)]
pub struct RedfishSim {
    services: Vec<RedfishService>,
    ca_pem: String,
}

impl Drop for RedfishSim {
    fn drop(&mut self) {
        for s in &self.services {
            s.task.abort();
        }
    }
}

impl RedfishSim {
    /// Makes the certificates, binds every service and starts serving on the current tokio
    /// runtime.
    pub async fn start(config: RedfishConfig) -> std::io::Result<RedfishSim> {
        let (tls, ca_pem) = tls_config(config.address)?;
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let mut services = Vec::with_capacity(config.services);
        for index in 0..config.services {
            let port = if config.port == 0 {
                0
            } else {
                u16::try_from(usize::from(config.port) + index).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "port out of range")
                })?
            };
            let listener = TcpListener::bind((config.address, port)).await?;
            let addr = listener.local_addr()?;
            let systems: Vec<Arc<Machine>> = (0..config.systems)
                .map(|_| Arc::new(Machine::new(config.initial, config.delay)))
                .collect();
            let counters = Arc::new(Counters::default());
            let service = Arc::new(Service {
                index,
                systems: systems.clone(),
                faults: config
                    .faults_of
                    .get(&index)
                    .copied()
                    .unwrap_or(config.faults),
                username: config.username.clone(),
                password: config.password.clone(),
                sessions: Mutex::new(HashMap::new()),
                next_session: AtomicU64::new(1),
                counters: Arc::clone(&counters),
                observer: config.observer.clone(),
            });
            let task = tokio::spawn(accept_loop(listener, acceptor.clone(), service));
            services.push(RedfishService {
                addr,
                systems,
                counters,
                task,
            });
        }
        Ok(RedfishSim { services, ca_pem })
    }

    /// The services, in order.
    pub fn services(&self) -> &[RedfishService] {
        &self.services
    }

    /// The PEM of the CA that signed the services' certificate (pass it as `ssl_ca_file`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A JSON description for scripts: the CA, and per service its URL and system URIs.
    pub fn describe(&self, ca_file: Option<&str>) -> Value {
        json!({
            "kind": "redfish",
            "ca_file": ca_file,
            "services": self.services.iter().map(|s| json!({
                "url": s.url(),
                "port": s.addr.port(),
                "systems": (0..s.systems.len()).map(|i| s.system_uri(i)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A CA and a server certificate for `localhost`, 127.0.0.1 and `address`, made now.
fn tls_config(address: IpAddr) -> std::io::Result<(rustls::ServerConfig, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let io = |e: rcgen::Error| std::io::Error::other(format!("making the certificate: {e}"));
    let ca_key = KeyPair::generate().map_err(io)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fence-sim CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(io)?;

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if address.to_string() != "127.0.0.1" {
        names.push(address.to_string());
    }
    let leaf_key = KeyPair::generate().map_err(io)?;
    let mut leaf_params = CertificateParams::new(names).map_err(io)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "fence-sim");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).map_err(io)?;

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
    .map_err(std::io::Error::other)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((tls, ca.pem()))
}

/// The state of one service.
struct Service {
    index: usize,
    systems: Vec<Arc<Machine>>,
    faults: Faults,
    username: String,
    password: String,
    /// Session id -> token.
    sessions: Mutex<HashMap<u64, String>>,
    next_session: AtomicU64,
    counters: Arc<Counters>,
    observer: Option<Observer>,
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, service: Arc<Service>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                service.event(format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        service.counters.connections.fetch_add(1, Ordering::Relaxed);
        service.event(format!("connection from {peer}"));
        // Small request/answer exchanges: without this, Nagle's algorithm holds the answer
        // after TLS 1.3's session tickets until the client's delayed ACK (a 40 ms stall).
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, acceptor.clone(), Arc::clone(&service)));
    }
}

async fn connection(mut stream: TcpStream, acceptor: TlsAcceptor, service: Arc<Service>) {
    if service.faults.silent {
        // Accept and never answer: read until the client gives up.
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        return;
    }
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            service.event(format!("TLS handshake failed: {e}"));
            return;
        }
        Err(_) => return,
    };
    let svc = Arc::clone(&service);
    let handler = hyper::service::service_fn(move |req| {
        let svc = Arc::clone(&svc);
        async move { svc.handle(req).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(30))
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(TokioIo::new(tls), handler)
        .await;
}

/// A dropped request: hyper closes the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request dropped by the fault simulation")
    }
}

impl std::error::Error for Dropped {}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Option<Value>) -> Reply {
    let mut builder = Response::builder()
        .status(status)
        .header("OData-Version", "4.0");
    let body = match body {
        Some(v) => {
            builder = builder.header("Content-Type", "application/json; charset=utf-8");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    reply(
        status,
        Some(json!({
            "error": {
                "code": format!("Base.1.8.{code}"),
                "message": message,
                "@Message.ExtendedInfo": [{
                    "MessageId": format!("Base.1.8.{code}"),
                    "Message": message,
                }],
            }
        })),
    )
}

impl Service {
    fn event(&self, what: String) {
        if let Some(observer) = &self.observer {
            observer(&Event {
                kind: "redfish",
                instance: self.index,
                what,
            });
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Reply, Dropped> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let method = req.method().clone();
        let path = req.uri().path().trim_end_matches('/').to_owned();
        if self.faults.drops() {
            self.event(format!("{method} {path} dropped"));
            return Err(Dropped);
        }
        let authorized = self.authorized(&req);
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Err(Dropped),
        };
        let (reply, note) = self.route(&method, &path, authorized, &body);
        self.event(format!(
            "{method} {path}{note} -> {}",
            reply.status().as_u16()
        ));
        Ok(reply)
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let headers = req.headers();
        if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            return sessions.values().any(|t| t == token);
        }
        let Some(basic) = headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.username, self.password);
        decoded == expected.as_bytes()
    }

    /// Answers one request; the second value is a note for the event log.
    fn route(&self, method: &Method, path: &str, authorized: bool, body: &[u8]) -> (Reply, String) {
        const SESSIONS: &str = "/redfish/v1/SessionService/Sessions";
        let none = String::new();
        match (method, path) {
            (&Method::GET, "/redfish/v1") => (reply(StatusCode::OK, Some(service_root())), none),
            (&Method::POST, SESSIONS) => self.login(body),
            _ if !authorized => {
                let mut r = error(
                    StatusCode::UNAUTHORIZED,
                    "NoValidSession",
                    "There is no valid session established with the implementation.",
                );
                r.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static("Basic realm=\"fence-sim\""),
                );
                (r, none)
            }
            (&Method::GET, "/redfish/v1/Systems") => {
                let members: Vec<Value> = (1..=self.systems.len())
                    .map(|i| json!({"@odata.id": format!("/redfish/v1/Systems/{i}")}))
                    .collect();
                let doc = json!({
                    "@odata.id": "/redfish/v1/Systems",
                    "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
                    "Name": "Computer System Collection",
                    "Members@odata.count": members.len(),
                    "Members": members,
                });
                (reply(StatusCode::OK, Some(doc)), none)
            }
            (&Method::GET, "/redfish/v1/SessionService") => {
                let doc = json!({
                    "@odata.id": "/redfish/v1/SessionService",
                    "@odata.type": "#SessionService.v1_1_8.SessionService",
                    "Id": "SessionService",
                    "ServiceEnabled": true,
                    "SessionTimeout": 600,
                    "Sessions": {"@odata.id": SESSIONS},
                });
                (reply(StatusCode::OK, Some(doc)), none)
            }
            (&Method::GET, SESSIONS) => {
                let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                let members: Vec<Value> = sessions
                    .keys()
                    .map(|id| json!({"@odata.id": format!("{SESSIONS}/{id}")}))
                    .collect();
                let doc = json!({
                    "@odata.id": SESSIONS,
                    "Members@odata.count": members.len(),
                    "Members": members,
                });
                (reply(StatusCode::OK, Some(doc)), none)
            }
            (&Method::DELETE, p) if p.starts_with(SESSIONS) => {
                let id = p[SESSIONS.len()..]
                    .trim_start_matches('/')
                    .parse::<u64>()
                    .ok();
                let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                match id.and_then(|id| sessions.remove(&id)) {
                    Some(_) => {
                        self.counters
                            .sessions_deleted
                            .fetch_add(1, Ordering::Relaxed);
                        (reply(StatusCode::NO_CONTENT, None), none)
                    }
                    None => (not_found(p), none),
                }
            }
            (m, p) => match self.system_of(p) {
                Some((i, rest)) => self.system(m, i, rest, body),
                None => (not_found(p), none),
            },
        }
    }

    fn login(&self, body: &[u8]) -> (Reply, String) {
        let creds: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let user = creds.get("UserName").and_then(Value::as_str);
        let pass = creds.get("Password").and_then(Value::as_str);
        if user != Some(self.username.as_str()) || pass != Some(self.password.as_str()) {
            return (
                error(
                    StatusCode::UNAUTHORIZED,
                    "InsufficientPrivilege",
                    "Invalid user name or password.",
                ),
                " (login refused)".into(),
            );
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let token: String = (0..32)
            .map(|_| char::from(b"0123456789abcdef"[rand::random::<usize>() % 16]))
            .collect();
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, token.clone());
        self.counters
            .sessions_created
            .fetch_add(1, Ordering::Relaxed);
        let location = format!("/redfish/v1/SessionService/Sessions/{id}");
        let mut r = reply(
            StatusCode::CREATED,
            Some(json!({
                "@odata.id": location,
                "@odata.type": "#Session.v1_3_0.Session",
                "Id": id.to_string(),
                "Name": "User Session",
                "UserName": self.username,
            })),
        );
        if let (Ok(t), Ok(l)) = (
            hyper::header::HeaderValue::from_str(&token),
            hyper::header::HeaderValue::from_str(&location),
        ) {
            r.headers_mut().insert("X-Auth-Token", t);
            r.headers_mut().insert(hyper::header::LOCATION, l);
        }
        (r, String::new())
    }

    /// `/redfish/v1/Systems/{id}{rest}` -> (index, rest).
    fn system_of<'p>(&self, path: &'p str) -> Option<(usize, &'p str)> {
        let tail = path.strip_prefix("/redfish/v1/Systems/")?;
        let (id, rest) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
        let n: usize = id.parse().ok()?;
        (1..=self.systems.len())
            .contains(&n)
            .then_some((n - 1, rest))
    }

    fn system(&self, method: &Method, i: usize, rest: &str, body: &[u8]) -> (Reply, String) {
        let machine = &self.systems[i];
        let uri = format!("/redfish/v1/Systems/{}", i + 1);
        match (method, rest) {
            (&Method::GET, "") => {
                let power = machine.power();
                let word = match (power, machine.in_transition()) {
                    (PowerState::On, false) => "On",
                    (PowerState::Off, false) => "Off",
                    (PowerState::On, true) => "PoweringOff",
                    (PowerState::Off, true) => "PoweringOn",
                };
                let doc = json!({
                    "@odata.id": uri,
                    "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
                    "Id": (i + 1).to_string(),
                    "Name": format!("node{}", i + 1),
                    "SystemType": "Physical",
                    "PowerState": word,
                    "Status": {"State": "Enabled", "Health": "OK"},
                    "Actions": {
                        "#ComputerSystem.Reset": {
                            "target": format!("{uri}/Actions/ComputerSystem.Reset"),
                            "ResetType@Redfish.AllowableValues": RESET_TYPES,
                        }
                    },
                });
                (reply(StatusCode::OK, Some(doc)), format!(" ({word})"))
            }
            (&Method::POST, "/Actions/ComputerSystem.Reset") => {
                let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let Some(kind) = v.get("ResetType").and_then(Value::as_str) else {
                    return (
                        error(
                            StatusCode::BAD_REQUEST,
                            "PropertyMissing",
                            "The property ResetType is a required property.",
                        ),
                        String::new(),
                    );
                };
                let note = format!(" {kind}");
                if !RESET_TYPES.contains(&kind) {
                    return (
                        error(
                            StatusCode::BAD_REQUEST,
                            "ActionParameterValueNotInList",
                            &format!(
                                "The value {kind} for ResetType is not in the list of acceptable values."
                            ),
                        ),
                        note,
                    );
                }
                if self.faults.refuse_resets {
                    return (
                        error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            "The request failed due to an internal service error.",
                        ),
                        format!("{note} (refused)"),
                    );
                }
                let target = match kind {
                    "On" | "ForceOn" => Some(PowerState::On),
                    "ForceOff" | "GracefulShutdown" => Some(PowerState::Off),
                    "PushPowerButton" => Some(machine.power().opposite()),
                    "ForceRestart" | "GracefulRestart" | "PowerCycle" => {
                        if !self.faults.lie {
                            machine.cycle();
                        }
                        None
                    }
                    _ => None, // Nmi: accepted, no power change.
                };
                match target {
                    Some(PowerState::Off) if self.faults.lie => {
                        return (
                            reply(StatusCode::NO_CONTENT, None),
                            format!("{note} (lied)"),
                        );
                    }
                    Some(t) => machine.switch(t),
                    None => {}
                }
                (reply(StatusCode::NO_CONTENT, None), note)
            }
            _ => (not_found(&format!("{uri}{rest}")), String::new()),
        }
    }
}

fn not_found(path: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "ResourceMissingAtURI",
        &format!("The resource at the URI {path} was not found."),
    )
}

fn service_root() -> Value {
    json!({
        "@odata.id": "/redfish/v1",
        "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
        "Id": "RootService",
        "Name": "fence-sim Redfish service",
        "RedfishVersion": "1.8.0",
        "UUID": "f3c1e7a0-0000-4000-8000-000000000001",
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
    })
}
