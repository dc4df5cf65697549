//! A simulated Redfish service over HTTPS.
//!
//! One [`RedfishSim`] runs any number of services (one TCP port each), each with any number
//! of systems. Every service speaks HTTP/1.1 with keep-alive over TLS, with a certificate
//! made at start and signed by a CA made at start ([`RedfishSim::ca_pem`]), so clients verify
//! TLS for real.
//!
//! A service is laid out and answers as its vendor [`Profile`] says (`generic` by default;
//! `ilo5`, `idrac9`, `xcc`, `supermicro`, `openbmc`): the resource ids, trailing slashes,
//! the ResetTypes and where they are listed, the answer to a reset and to a reset into the
//! state the system is already in, basic authentication, session limits and timeouts, and
//! whether a power change shows as `PoweringOff`/`PoweringOn`. Every profile has what DSP0266
//! asks of a service, as DMTF's Redfish Protocol Validator and Service Validator check it:
//!
//! - `/redfish`, the service root, `/redfish/v1/odata` and `$metadata` without
//!   authentication; Systems, Chassis, Managers, AccountService (one account, the three
//!   predefined roles), SessionService with sessions that end after their idle timeout;
//! - `OData-Version`, `Cache-Control`, `Allow` and `Link` (rel=describedby) headers; 405 with
//!   `Allow` for a method a resource does not take; 412 for an `OData-Version` other than 4.0;
//!   406 for an `Accept` header that takes no JSON (XML for `$metadata`); `HEAD`;
//! - `POST .../Actions/ComputerSystem.Reset` with every ResetType the profile offers;
//! - basic authentication (when the profile has it), and session authentication: `POST`
//!   to the Sessions collection (or its `Members`) answers `201` with `X-Auth-Token` and
//!   `Location`, `DELETE` on the `Location` ends the session.
//!
//! The [`Faults`] of a service apply to all its systems.

mod http;
pub mod profile;
mod resources;
mod sessions;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use fence_core::PowerState;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::machine::{Faults, Machine};
use crate::{Event, Observer};
use http::{Reply, empty, error, json_reply, not_allowed, not_found, set};
pub use profile::Profile;
use profile::{ResetAnswer, Transition};
use resources::{Layout, Resource};
use sessions::{Refused, Sessions};

/// The reset types of the `generic` profile: every ResetType of the schema.
pub const RESET_TYPES: &[&str] = profile::GENERIC.reset_types;

/// What a ResetType does to the machine (DSP8010 ResetType descriptions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Into this state.
    To(PowerState),
    /// Into the other state (the power button).
    Toggle,
    /// Off, then on.
    Cycle,
    /// No power change (Nmi).
    Nothing,
}

/// Who carries a ResetType out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    /// The hardware, after the machine's delay.
    Power,
    /// The operating system: [`OS_SLOWER`] times the delay.
    Os,
    /// The operating system when the machine is on (the power button's ACPI request),
    /// the hardware when it is off.
    OsWhenOn,
}

/// How much longer an operating system's shutdown takes than a power cut.
const OS_SLOWER: u32 = 5;

const EFFECTS: [(&str, Effect, By); 9] = [
    ("On", Effect::To(PowerState::On), By::Power),
    ("ForceOn", Effect::To(PowerState::On), By::Power),
    ("ForceOff", Effect::To(PowerState::Off), By::Power),
    ("GracefulShutdown", Effect::To(PowerState::Off), By::Os),
    ("ForceRestart", Effect::Cycle, By::Power),
    ("GracefulRestart", Effect::Cycle, By::Os),
    ("PowerCycle", Effect::Cycle, By::Power),
    ("PushPowerButton", Effect::Toggle, By::OsWhenOn),
    ("Nmi", Effect::Nothing, By::Power),
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
    /// How the services are laid out and answer (default: [`profile::GENERIC`]). The
    /// profile's `typical_delay` is the command line's default; here `delay` is the delay.
    pub profile: &'static Profile,
    /// The session idle timeout, when not the profile's (a test of a client's new login
    /// after its session ended).
    pub session_timeout: Option<Duration>,
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
            .field("profile", &self.profile.name)
            .field("session_timeout", &self.session_timeout)
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
            profile: &profile::GENERIC,
            session_timeout: None,
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
    /// Its systems, by index (system `i` is the profile's system `i + 1`).
    pub systems: Vec<Arc<Machine>>,
    /// Its vendor profile.
    pub profile: &'static Profile,
    /// Its counters.
    pub counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl RedfishService {
    /// `https://ADDRESS:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The URI of system `i` (0-based) as the service writes it, e.g.
    /// `/redfish/v1/Systems/1` (`generic`), `/redfish/v1/Systems/System.Embedded.1`
    /// (`idrac9`), `/redfish/v1/Systems/1/` (`ilo5`).
    pub fn system_uri(&self, i: usize) -> String {
        let layout = Layout {
            profile: self.profile,
            systems: self.systems.len(),
        };
        layout.link(&layout.system_path(i + 1))
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
                layout: Layout {
                    profile: config.profile,
                    systems: systems.len(),
                },
                systems: systems.clone(),
                faults: config
                    .faults_of
                    .get(&index)
                    .copied()
                    .unwrap_or(config.faults),
                username: config.username.clone(),
                password: config.password.clone(),
                sessions: Sessions::new(
                    config
                        .session_timeout
                        .unwrap_or(config.profile.session_timeout),
                    config.profile.session_limit.map(|(n, _)| n),
                ),
                delay: config.delay,
                uuid: format!("f3c1e7a0-0000-4000-8000-{:012x}", index + 1),
                counters: Arc::clone(&counters),
                observer: config.observer.clone(),
            });
            let task = tokio::spawn(accept_loop(listener, acceptor.clone(), service));
            services.push(RedfishService {
                addr,
                systems,
                profile: config.profile,
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
            "profile": self.services.first().map(|s| s.profile.name),
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
    layout: Layout,
    systems: Vec<Arc<Machine>>,
    faults: Faults,
    username: String,
    password: String,
    sessions: Sessions,
    uuid: String,
    delay: Duration,
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

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// No valid credentials.
    Anonymous,
    /// Basic authentication.
    Basic,
    /// The session with this id.
    Session(u64),
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

    fn profile(&self) -> &'static Profile {
        self.layout.profile
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Reply, Dropped> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        if self.faults.drops() {
            self.event(format!("{method} {path} dropped"));
            return Err(Dropped);
        }
        let caller = self.caller(req.headers());
        let headers = req.headers().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Err(Dropped),
        };
        let (reply, note) = self.route(&method, &path, &headers, caller, &body);
        self.event(format!(
            "{method} {path}{note} -> {}",
            reply.status().as_u16()
        ));
        Ok(reply)
    }

    fn caller(&self, headers: &HeaderMap) -> Caller {
        if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            return self
                .sessions
                .authenticate(token)
                .map_or(Caller::Anonymous, Caller::Session);
        }
        if !self.profile().basic_auth {
            return Caller::Anonymous;
        }
        let decoded = headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            });
        let expected = format!("{}:{}", self.username, self.password);
        match decoded {
            Some(d) if d == expected.as_bytes() => Caller::Basic,
            _ => Caller::Anonymous,
        }
    }

    /// Answers one request; the second value is a note for the event log.
    fn route(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        caller: Caller,
        body: &[u8],
    ) -> (Reply, String) {
        let none = String::new();
        let resource = self.layout.resolve(path);
        let login = matches!(
            resource,
            Some(Resource::Sessions | Resource::SessionsMembers)
        ) && method == Method::POST;
        let read = method == Method::GET || method == Method::HEAD;
        let public = resource.is_some_and(|r| r.public() && read);
        if caller == Caller::Anonymous && !public && !login {
            return (http::unauthorized(self.profile().basic_auth), none);
        }
        let offered = if resource == Some(Resource::Metadata) {
            "application/xml"
        } else {
            "application/json"
        };
        if let Some(refusal) = resource.and_then(|_| http::unacceptable(headers, offered)) {
            return (refusal, " (headers refused)".into());
        }
        let Some(resource) = resource else {
            return (not_found(path), none);
        };
        if !resource.allow().split(", ").any(|m| m == method.as_str()) {
            return (not_allowed(method.as_str(), path, resource.allow()), none);
        }
        match (resource, read) {
            (Resource::Reset(n), false) => self.reset(n, body),
            (Resource::Sessions | Resource::SessionsMembers, false) => self.login(body),
            (Resource::Session(id), false) => self.logout(id, path),
            (resource, _) => self.get(resource, path),
        }
    }

    /// A GET (or HEAD) of `resource`, with its `Allow` and `Link` headers.
    fn get(&self, resource: Resource, path: &str) -> (Reply, String) {
        let l = &self.layout;
        let mut note = String::new();
        let doc = match resource {
            Resource::Metadata => {
                let mut r = http::reply(
                    StatusCode::OK,
                    Some(("application/xml", Bytes::from(l.metadata()))),
                );
                set(r.headers_mut(), "Allow", resource.allow());
                return (r, note);
            }
            Resource::Version => l.version(),
            Resource::Root => l.root(&self.uuid),
            Resource::OData => l.odata(),
            Resource::Systems => l.systems(),
            Resource::System(n) => {
                let word = self.power_word(n);
                note = format!(" ({word})");
                l.system(n, word, &self.system_uuid(n))
            }
            Resource::ResetInfo(n) => l.reset_info(n),
            Resource::ChassisCollection => l.chassis_collection(),
            Resource::Chassis(n) => l.chassis(n, self.power_word(n)),
            Resource::Managers => l.managers(),
            Resource::Manager => l.manager(&self.uuid),
            Resource::AccountService => l.account_service(),
            Resource::Accounts => l.accounts(),
            Resource::Account => l.account(&self.username),
            Resource::Roles => l.roles(),
            Resource::Role(i) => l.role(i),
            Resource::SessionService => l.session_service(),
            Resource::Sessions => l.sessions(&self.sessions.ids()),
            Resource::Session(id) if self.sessions.exists(id) => l.session(id, &self.username),
            Resource::Session(_) | Resource::Reset(_) | Resource::SessionsMembers => {
                return (not_found(path), note);
            }
        };
        let mut r = json_reply(StatusCode::OK, &doc);
        set(r.headers_mut(), "Allow", resource.allow());
        set(r.headers_mut(), "ETag", &http::etag(&doc));
        if let Some(t) = doc.get("@odata.type").and_then(Value::as_str) {
            set(r.headers_mut(), "Link", &http::described_by(t));
        }
        (r, note)
    }

    fn system_uuid(&self, n: usize) -> String {
        format!("f3c1e7a0-{:04x}-4000-8000-{:012x}", self.index + 1, n)
    }

    /// The PowerState word of system `n`, as the profile shows a change under way.
    fn power_word(&self, n: usize) -> &'static str {
        let machine = &self.systems[n - 1];
        let shown = self.profile().transition == Transition::Reported;
        match (machine.power(), machine.heading().filter(|_| shown)) {
            (PowerState::On, Some(PowerState::Off)) => "PoweringOff",
            (PowerState::Off, Some(PowerState::On)) => "PoweringOn",
            (PowerState::On, _) => "On",
            (PowerState::Off, _) => "Off",
        }
    }

    fn login(&self, body: &[u8]) -> (Reply, String) {
        let creds: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let user = creds.get("UserName").and_then(Value::as_str);
        let pass = creds.get("Password").and_then(Value::as_str);
        if user.is_none() || pass.is_none() {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    "PropertyMissing",
                    "The properties UserName and Password are required to create a session.",
                ),
                " (login malformed)".into(),
            );
        }
        if user != Some(self.username.as_str()) || pass != Some(self.password.as_str()) {
            return (
                error(
                    StatusCode::UNAUTHORIZED,
                    "ResourceAtUriUnauthorized",
                    "The credentials were not accepted.",
                ),
                " (login refused)".into(),
            );
        }
        let (id, token) = match self.sessions.open() {
            Ok(opened) => opened,
            Err(Refused::Full) => {
                let r = match self.profile().session_limit {
                    Some((_, refusal)) => http::refusal(&refusal),
                    None => error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceTemporarilyUnavailable",
                        "No more sessions can be opened.",
                    ),
                };
                return (r, " (session limit)".into());
            }
        };
        self.counters
            .sessions_created
            .fetch_add(1, Ordering::Relaxed);
        let location = self.layout.link(&self.layout.session_path(id));
        let mut r = json_reply(
            StatusCode::CREATED,
            &self.layout.session(id, &self.username),
        );
        set(r.headers_mut(), "X-Auth-Token", &token);
        set(r.headers_mut(), "Location", &location);
        (r, String::new())
    }

    fn logout(&self, id: u64, path: &str) -> (Reply, String) {
        if self.sessions.close(id) {
            self.counters
                .sessions_deleted
                .fetch_add(1, Ordering::Relaxed);
            (empty(StatusCode::NO_CONTENT), String::new())
        } else {
            (not_found(path), String::new())
        }
    }

    /// The answer to a reset the profile accepts.
    fn accepted(&self) -> Reply {
        match self.profile().reset_answer {
            ResetAnswer::NoContent => empty(StatusCode::NO_CONTENT),
            ResetAnswer::Success => json_reply(
                StatusCode::OK,
                &json!({"@Message.ExtendedInfo": [{
                    "@odata.type": "#Message.v1_1_1.Message",
                    "MessageId": "Base.1.8.Success",
                    "Message": "The request completed successfully.",
                    "MessageSeverity": "OK",
                    "Severity": "OK",
                    "Resolution": "None",
                }]}),
            ),
            ResetAnswer::IloExtendedInfo => json_reply(
                StatusCode::OK,
                &json!({"error": {
                    "code": "iLO.0.10.ExtendedInfo",
                    "message": "See @Message.ExtendedInfo for more information.",
                    "@Message.ExtendedInfo": [{"MessageId": "Base.1.4.Success"}],
                }}),
            ),
        }
    }

    fn reset(&self, n: usize, body: &[u8]) -> (Reply, String) {
        let machine = &self.systems[n - 1];
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
        let note = format!(" {kind:?}");
        if !self.profile().reset_types.contains(&kind) {
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
        let Some(&(_, effect, by)) = EFFECTS.iter().find(|(name, _, _)| *name == kind) else {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    "ActionParameterNotSupported",
                    "The ResetType is not supported by this service.",
                ),
                note,
            );
        };
        let target = match effect {
            Effect::To(t) => Some(t),
            Effect::Toggle => Some(machine.power().opposite()),
            Effect::Cycle | Effect::Nothing => None,
        };
        if let (Effect::To(t), Some(already)) = (effect, self.profile().already) {
            if machine.heading().is_none() && machine.power() == t {
                let answer = match t {
                    PowerState::On => &already.on,
                    PowerState::Off => &already.off,
                };
                return (http::refusal(answer), format!("{note} (already {t:?})"));
            }
        }
        // The operating system acts on a graceful request (and on a press of the power
        // button of a running machine: ACPI) in its own time; a power cut is at once.
        let delay = match (by, target) {
            (By::Os, _) | (By::OsWhenOn, Some(PowerState::Off)) => self.delay * OS_SLOWER,
            _ => self.delay,
        };
        match (effect, target) {
            (Effect::Cycle, _) if !self.faults.lie => machine.cycle(),
            (_, Some(PowerState::Off)) if self.faults.lie => {
                return (self.accepted(), format!("{note} (lied)"));
            }
            (_, Some(t)) => machine.switch_within(t, delay),
            _ => {} // Nmi; a restart while lying.
        }
        (self.accepted(), note)
    }
}
