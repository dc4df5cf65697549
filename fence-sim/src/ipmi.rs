//! Simulated IPMI BMCs: RMCP+ (v2.0) and IPMI v1.5 sessions over UDP, one port each,
//! many per process.
//!
//! Built on [`fence_ipmi_proto`]'s packet formats and crypto
//! modules, which encode and decode both directions, so the client and the simulator share
//! one implementation of the packet formats and of the RAKP key exchange. Interoperability
//! is proven separately, by ipmitool and FreeIPMI's ipmipower talking to this simulator
//! (tests/ipmi_clients.rs).
//!
//! What a simulated BMC answers:
//!
//! - the RMCP/ASF presence ping;
//! - outside a session (IPMI v1.5 or v2.0 header, no authentication): Get Channel
//!   Authentication Capabilities, Get Channel Cipher Suites, Get Device ID;
//! - RMCP+ session set-up: Open Session, RAKP 1/2, RAKP 3/4, with cipher suites 1, 2, 3 and
//!   17 (suite 0, no authentication, is refused);
//! - IPMI v1.5 session set-up: Get Session Challenge and Activate Session with MD5 or the
//!   straight password ([`v15`](self) module, modelled on OpenIPMI's lanserv);
//! - inside a session (integrity and encryption as the suite says): Set Session Privilege
//!   Level, Get Chassis Status, Chassis Control (power down, up, cycle, hard reset, diag,
//!   soft; needs Operator), Get Device ID, Close Session; anything else gets completion
//!   code 0xC1 (invalid command).
//!
//! Sessions start at the User privilege, as the specification says, so a client must raise
//! it with Set Session Privilege Level before Chassis Control. Up to 32 sessions per BMC;
//! sessions idle for 30 s are reclaimed.
//!
//! Session set-up is idempotent, as on a real BMC, so that a duplicating or lossy network
//! does not break a login: a copy of an Open Session (found by its remote console session
//! ID), RAKP 1 or RAKP 3 (found by the managed system session ID) that was answered
//! already gets the very same answer again (same session ID, same random number, same
//! RAKP 4) and changes nothing. A RAKP 1 of an established session is ignored, and a
//! refused RAKP 1 or RAKP 3 keeps its answer for a few seconds for its repeats.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fence_core::PowerState;
use fence_ipmi_proto::commands::{ChannelAuthCapabilities, cc, chassis_control, cmd, netfn};
use fence_ipmi_proto::crypto::{
    CipherSuite, ConfidentialityAlgorithm, IntegrityAlgorithm, RakpInputs, SessionKeys, ct_eq,
};
use fence_ipmi_proto::message::{self, IpmiRequest, IpmiResponse};
use fence_ipmi_proto::rakp::{OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4};
use fence_ipmi_proto::rmcp::{self, SessionFormat};
use fence_ipmi_proto::v20::{self, PayloadType, V20Header};
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::machine::{Faults, Machine};
use crate::{Event, Observer};

mod v15;

/// Sessions a BMC holds at once.
const MAX_SESSIONS: usize = 32;
/// A session unused this long is reclaimed.
const SESSION_IDLE: Duration = Duration::from_secs(30);
/// A closed session is kept this long, to answer a retransmitted Close Session.
const CLOSED_LINGER: Duration = Duration::from_secs(5);
/// Get Channel Cipher Suites: the command number (netfn App).
const GET_CHANNEL_CIPHER_SUITES: u8 = 0x54;
/// Get Device ID: the command number (netfn App).
const GET_DEVICE_ID: u8 = 0x01;
/// The suites offered, in the order Get Channel Cipher Suites lists them.
const SUITES: [CipherSuite; 4] = [
    CipherSuite::SUITE_1,
    CipherSuite::SUITE_2,
    CipherSuite::SUITE_3,
    CipherSuite::SUITE_17,
];

/// How to build an [`IpmiSim`].
#[derive(Clone)]
pub struct IpmiConfig {
    /// The address to listen on (default 127.0.0.1).
    pub address: IpAddr,
    /// The port of the first BMC, the others on the following ports; 0 lets the system
    /// choose a free port for each BMC.
    pub base_port: u16,
    /// How many BMCs.
    pub count: usize,
    /// The user name every BMC accepts (at most 16 bytes).
    pub username: String,
    /// The password every BMC accepts (at most 20 bytes).
    pub password: String,
    /// The state machines start in.
    pub initial: PowerState,
    /// How long after a Chassis Control the power state changes.
    pub delay: Duration,
    /// Faults of every BMC, unless overridden in `faults_of`.
    pub faults: Faults,
    /// Faults of particular BMCs, by index.
    pub faults_of: HashMap<usize, Faults>,
    /// Called for every datagram handled (leave `None` for scale runs).
    pub observer: Option<Observer>,
    /// IPMI v1.5 switched off, as on BMCs that accept RMCP+ (lanplus) only: Get Channel
    /// Authentication Capabilities offers no v1.5 authentication type and Get Session
    /// Challenge is refused (completion code 0xCC).
    pub lanplus_only: bool,
}

impl std::fmt::Debug for IpmiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpmiConfig")
            .field("address", &self.address)
            .field("base_port", &self.base_port)
            .field("count", &self.count)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("initial", &self.initial)
            .field("delay", &self.delay)
            .field("faults", &self.faults)
            .field("faults_of", &self.faults_of)
            .field("lanplus_only", &self.lanplus_only)
            .finish_non_exhaustive()
    }
}

impl Default for IpmiConfig {
    fn default() -> Self {
        IpmiConfig {
            address: IpAddr::from([127, 0, 0, 1]),
            base_port: 0,
            count: 1,
            username: "admin".into(),
            password: "password".into(),
            initial: PowerState::On,
            delay: Duration::ZERO,
            faults: Faults::NONE,
            faults_of: HashMap::new(),
            observer: None,
            lanplus_only: false,
        }
    }
}

/// Counters of one BMC.
#[derive(Debug, Default)]
pub struct IpmiCounters {
    /// Datagrams received (including dropped ones).
    pub received: AtomicU64,
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Datagrams lost on purpose (the `drop` fault), in either direction.
    pub dropped: AtomicU64,
    /// Sessions established (RAKP 3/4 done).
    pub sessions_opened: AtomicU64,
    /// Sessions closed by Close Session.
    pub sessions_closed: AtomicU64,
}

/// One running BMC.
#[derive(Debug)]
pub struct IpmiBmc {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The machine behind it.
    pub machine: Arc<Machine>,
    /// Its counters.
    pub counters: Arc<IpmiCounters>,
    task: JoinHandle<()>,
}

/// Running simulated BMCs; they stop when this is dropped.
#[derive(Debug)]
pub struct IpmiSim {
    bmcs: Vec<IpmiBmc>,
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        for b in &self.bmcs {
            b.task.abort();
        }
    }
}

impl IpmiSim {
    /// Binds every BMC's socket and starts serving on the current tokio runtime.
    pub async fn start(config: IpmiConfig) -> std::io::Result<IpmiSim> {
        if config.username.len() > message::USERNAME_MAX_LEN || config.password.len() > 20 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "IPMI user names are at most 16 bytes and passwords at most 20",
            ));
        }
        let mut sockets = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let port = if config.base_port == 0 {
                0
            } else {
                u16::try_from(usize::from(config.base_port) + index).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "port out of range")
                })?
            };
            sockets.push(UdpSocket::bind((config.address, port)).await?);
        }
        let mut bmcs = Vec::with_capacity(config.count);
        for (index, socket) in sockets.into_iter().enumerate() {
            let addr = socket.local_addr()?;
            let machine = Arc::new(Machine::new(config.initial, config.delay));
            let counters = Arc::new(IpmiCounters::default());
            let mut guid = [0u8; 16];
            guid[..8].copy_from_slice(&0x6665_6e63_652d_7369_u64.to_be_bytes());
            guid[8..].copy_from_slice(&(index as u64).to_be_bytes());
            let bmc = Bmc {
                index,
                guid,
                machine: Arc::clone(&machine),
                faults: config
                    .faults_of
                    .get(&index)
                    .copied()
                    .unwrap_or(config.faults),
                username: config.username.clone().into_bytes(),
                password: config.password.clone().into_bytes(),
                sessions: HashMap::new(),
                challenges: Vec::new(),
                counters: Arc::clone(&counters),
                observer: config.observer.clone(),
                lanplus_only: config.lanplus_only,
            };
            let task = tokio::spawn(serve(socket, bmc));
            bmcs.push(IpmiBmc {
                addr,
                machine,
                counters,
                task,
            });
        }
        Ok(IpmiSim { bmcs })
    }

    /// Like [`IpmiSim::start`] with consecutive ports (for hostranges such as
    /// `127.0.0.1:[P-Q]`): tries random free bases until every port of one range binds.
    pub async fn start_consecutive(mut config: IpmiConfig) -> std::io::Result<IpmiSim> {
        let span = u16::try_from(config.count).unwrap_or(u16::MAX);
        let mut last = None;
        for _ in 0..20 {
            let base = 20000 + rand::random::<u16>() % (40000u16.saturating_sub(span).max(1));
            config.base_port = base;
            match IpmiSim::start(config.clone()).await {
                Ok(sim) => return Ok(sim),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free port range")))
    }

    /// The BMCs, in order.
    pub fn bmcs(&self) -> &[IpmiBmc] {
        &self.bmcs
    }

    /// A JSON description for scripts: the address and the port of every BMC, and a
    /// FreeIPMI hostrange when the ports are consecutive.
    pub fn describe(&self) -> Value {
        let ports: Vec<u16> = self.bmcs.iter().map(|b| b.addr.port()).collect();
        let address = self.bmcs.first().map(|b| b.addr.ip().to_string());
        let consecutive = ports.windows(2).all(|w| w[1] == w[0].wrapping_add(1));
        let hostrange = match (&address, ports.first(), ports.last()) {
            (Some(a), Some(first), Some(last)) if consecutive && ports.len() > 1 => {
                Some(format!("{a}:[{first}-{last}]"))
            }
            (Some(a), Some(first), _) if ports.len() == 1 => Some(format!("{a}:{first}")),
            _ => None,
        };
        json!({
            "kind": "ipmi",
            "address": address,
            "ports": ports,
            "hostrange": hostrange,
        })
    }
}

async fn serve(socket: UdpSocket, mut bmc: Bmc) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        bmc.counters.received.fetch_add(1, Ordering::Relaxed);
        if bmc.faults.silent {
            continue;
        }
        if bmc.faults.drops() {
            bmc.counters.dropped.fetch_add(1, Ordering::Relaxed);
            bmc.event(|| "datagram dropped (fault)".into());
            continue;
        }
        let Some(reply) = bmc.handle(&buf[..n], peer) else {
            continue;
        };
        if bmc.faults.drops() {
            bmc.counters.dropped.fetch_add(1, Ordering::Relaxed);
            bmc.event(|| "answer dropped (fault)".into());
            continue;
        }
        if socket.send_to(&reply, peer).await.is_ok() {
            bmc.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where a session is in its set-up.
enum Stage {
    /// Open Session answered; waiting for RAKP 1.
    Opened,
    /// RAKP 2 sent; waiting for RAKP 3.
    Rakp2Sent(RakpInputs),
    /// Established. The inputs stay, to answer a retransmitted RAKP 3 again.
    Active(SessionKeys, RakpInputs),
    /// RAKP 1 or RAKP 3 refused: kept (as closed) only to answer repeats the same way.
    Refused,
    /// An IPMI v1.5 session (no set-up stages: Activate Session makes it whole).
    V15(v15::V15State),
}

/// A set-up message a session answered, and the answer: a copy of the same message gets
/// the same datagram back.
struct Answered {
    kind: PayloadType,
    request: Vec<u8>,
    reply: Vec<u8>,
}

struct Session {
    console_id: u32,
    /// The console's address and port (Open Session came from there).
    peer: SocketAddr,
    suite: CipherSuite,
    /// The highest privilege this session may take.
    max_privilege: u8,
    /// The privilege now.
    privilege: u8,
    stage: Stage,
    out_seq: u32,
    last_used: Instant,
    /// When Close Session was answered (or the set-up refused): the session only answers
    /// a retransmitted Close Session (or set-up message) from then on, until it is
    /// reclaimed.
    closed_at: Option<Instant>,
    /// The set-up messages answered (at most one per kind: the latest).
    answered: Vec<Answered>,
}

impl Session {
    /// The answer already given to this very set-up message, if any.
    fn repeat(&self, kind: PayloadType, request: &[u8]) -> Option<Vec<u8>> {
        self.answered
            .iter()
            .find(|a| a.kind == kind && a.request == request)
            .map(|a| a.reply.clone())
    }

    /// Remembers the answer to a set-up message (replacing one of the same kind).
    fn remember(&mut self, kind: PayloadType, request: &[u8], reply: &[u8]) {
        self.answered.retain(|a| a.kind != kind);
        self.answered.push(Answered {
            kind,
            request: request.to_vec(),
            reply: reply.to_vec(),
        });
    }
}

/// One simulated BMC (owned by its task: no locks on the packet path).
struct Bmc {
    index: usize,
    guid: [u8; 16],
    machine: Arc<Machine>,
    faults: Faults,
    username: Vec<u8>,
    password: Vec<u8>,
    sessions: HashMap<u32, Session>,
    /// IPMI v1.5 challenges handed out (Get Session Challenge), oldest first.
    challenges: Vec<v15::Challenge>,
    counters: Arc<IpmiCounters>,
    observer: Option<Observer>,
    /// IPMI v1.5 is switched off ([`IpmiConfig::lanplus_only`]).
    lanplus_only: bool,
}

impl Bmc {
    fn event(&self, what: impl FnOnce() -> String) {
        if let Some(observer) = &self.observer {
            observer(&Event {
                kind: "ipmi",
                instance: self.index,
                what: what(),
            });
        }
    }

    /// Answers one datagram, or nothing (malformed, failed integrity, unknown session).
    fn handle(&mut self, datagram: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        if datagram.len() >= 4 && datagram[..3] == rmcp::RMCP_HEADER[..3] && datagram[3] == 0x06 {
            return self.asf_pong(datagram);
        }
        match rmcp::session_format(datagram).ok()? {
            SessionFormat::V15 => self.handle_v15(datagram, peer),
            SessionFormat::V20 => self.handle_v20(datagram, peer),
        }
    }

    /// The RMCP/ASF presence pong.
    fn asf_pong(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        // ASF header: IANA 4542, message type 0x80 (ping), tag, reserved, length.
        let asf = datagram.get(4..12)?;
        if asf[..4] != [0x00, 0x00, 0x11, 0xBE] || asf[4] != 0x80 {
            return None;
        }
        self.event(|| "ASF presence ping".into());
        let mut d = vec![
            0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x40, asf[5], 0x00, 0x10,
        ];
        d.extend_from_slice(&[
            0x00, 0x00, 0x11, 0xBE, 0, 0, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0,
        ]);
        Some(d)
    }

    fn handle_v20(&mut self, datagram: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        // The session ID sits at a fixed place; it names the keys to check the packet with.
        let id = u32::from_le_bytes(datagram.get(6..10)?.try_into().ok()?);
        let keys = match self.sessions.get(&id).map(|s| &s.stage) {
            Some(Stage::Active(k, _)) => Some(k.clone()),
            _ => None,
        };
        let (header, payload) = v20::decode_v20(datagram, keys.as_ref()).ok()?;
        match header.payload_type {
            PayloadType::OpenSessionRequest => self.open_session(&payload, peer),
            PayloadType::Rakp1 => self.rakp1(&payload),
            PayloadType::Rakp3 => self.rakp3(&payload),
            PayloadType::Ipmi if id == 0 => {
                let request = IpmiRequest::decode(&payload).ok()?;
                let response = self.command(&request, None);
                let out = V20Header::setup(PayloadType::Ipmi);
                v20::encode_v20(&out, &response.encode(), None, [0; 16]).ok()
            }
            PayloadType::Ipmi => {
                let keys = keys?;
                let session = self.sessions.get(&id)?;
                // Inside a session with integrity, an unprotected packet is refused.
                if session.suite.integrity != IntegrityAlgorithm::None && !header.authenticated {
                    return None;
                }
                if session.suite.confidentiality != ConfidentialityAlgorithm::None
                    && !header.encrypted
                {
                    return None;
                }
                let request = IpmiRequest::decode(&payload).ok()?;
                let is_close = request.net_fn == netfn::APP && request.cmd == cmd::CLOSE_SESSION;
                if session.closed_at.is_some() && !is_close {
                    return None;
                }
                let response = self.command(&request, Some(id));
                let session = self.sessions.get_mut(&id)?;
                session.last_used = Instant::now();
                session.out_seq = session.out_seq.wrapping_add(1).max(1);
                let out = V20Header {
                    payload_type: PayloadType::Ipmi,
                    encrypted: session.suite.confidentiality != ConfidentialityAlgorithm::None,
                    authenticated: session.suite.integrity != IntegrityAlgorithm::None,
                    session_id: session.console_id,
                    session_seq: session.out_seq,
                };
                if is_close && response.completion_code == cc::OK && session.closed_at.is_none() {
                    session.closed_at = Some(Instant::now());
                    self.counters
                        .sessions_closed
                        .fetch_add(1, Ordering::Relaxed);
                }
                v20::encode_v20(&out, &response.encode(), Some(&keys), rand::random()).ok()
            }
            _ => None,
        }
    }

    fn open_session(&mut self, payload: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let req = OpenSessionRequest::decode(payload).ok()?;
        let now = Instant::now();
        self.sessions.retain(|_, s| match s.closed_at {
            Some(at) => now.duration_since(at) < CLOSED_LINGER,
            None => now.duration_since(s.last_used) < SESSION_IDLE,
        });
        // A copy of an Open Session answered already (a duplicate, or a retransmission whose
        // answer was lost): the same session and the same answer, while that session is
        // still being set up for the same console. (Some consoles, ipmitool among them,
        // use one fixed console session ID: their next login is a new session.)
        if let Some(reply) = self
            .sessions
            .values()
            .filter(|s| {
                s.console_id == req.console_session_id
                    && s.peer == peer
                    && matches!(s.stage, Stage::Opened | Stage::Rakp2Sent(_))
            })
            .find_map(|s| s.repeat(PayloadType::OpenSessionRequest, payload))
        {
            self.event(|| "Open Session (repeated: same answer)".into());
            return Some(reply);
        }
        let open = self
            .sessions
            .values()
            .filter(|s| s.closed_at.is_none())
            .count();
        let a = req.algorithms;
        let suite = CipherSuite::from_algorithms(a.auth, a.integrity, a.confidentiality)
            .filter(|s| SUITES.contains(s));
        let refuse = |status: u8| OpenSessionResponse {
            tag: req.tag,
            status,
            max_privilege: 0,
            console_session_id: req.console_session_id,
            accepted: None,
        };
        let mut created = None;
        let response = match suite {
            None => {
                self.event(|| format!("Open Session: no matching cipher suite ({a:?})"));
                refuse(0x11)
            }
            Some(_) if open >= MAX_SESSIONS => {
                self.event(|| "Open Session: out of session slots".into());
                refuse(0x01)
            }
            Some(suite) => {
                let mut bmc_id: u32 = rand::random();
                while bmc_id == 0 || self.sessions.contains_key(&bmc_id) {
                    bmc_id = rand::random();
                }
                let max_privilege = match req.max_privilege {
                    0 => 4,
                    p => p.min(4),
                };
                self.sessions.insert(
                    bmc_id,
                    Session {
                        console_id: req.console_session_id,
                        peer,
                        suite,
                        max_privilege,
                        privilege: 2,
                        stage: Stage::Opened,
                        out_seq: 0,
                        last_used: now,
                        closed_at: None,
                        answered: Vec::new(),
                    },
                );
                created = Some(bmc_id);
                self.event(|| format!("Open Session (cipher suite {})", suite.id));
                OpenSessionResponse {
                    tag: req.tag,
                    status: 0,
                    max_privilege,
                    console_session_id: req.console_session_id,
                    accepted: Some((bmc_id, a)),
                }
            }
        };
        let header = V20Header::setup(PayloadType::OpenSessionResponse);
        let reply = v20::encode_v20(&header, &response.encode(), None, [0; 16]).ok()?;
        if let Some(session) = created.and_then(|id| self.sessions.get_mut(&id)) {
            session.remember(PayloadType::OpenSessionRequest, payload, &reply);
        }
        Some(reply)
    }

    fn rakp1(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let r1 = Rakp1::decode(payload).ok()?;
        if let Some(session) = self.sessions.get(&r1.bmc_session_id) {
            // A copy of a RAKP 1 answered already: the same RAKP 2 (same random number),
            // whatever the session's stage now.
            if let Some(reply) = session.repeat(PayloadType::Rakp1, payload) {
                self.event(|| "RAKP 1/2 (repeated: same answer)".into());
                return Some(reply);
            }
            if !matches!(session.stage, Stage::Opened | Stage::Rakp2Sent(_)) {
                self.event(|| "RAKP 1 for an established or refused session: ignored".into());
                return None;
            }
        }
        let status = match self.sessions.get(&r1.bmc_session_id) {
            None => 0x02,                                    // invalid session ID
            Some(_) if r1.username != self.username => 0x0D, // unauthorized name
            Some(s) if r1.role & 0x0F > s.max_privilege || r1.role & 0x0F == 0 => 0x09,
            Some(_) => 0,
        };
        let reply = if status != 0 {
            self.event(|| format!("RAKP 1/2: refused (status {status:#04x})"));
            let console_id = self
                .sessions
                .get(&r1.bmc_session_id)
                .map_or(0, |s| s.console_id);
            Rakp2 {
                tag: r1.tag,
                status,
                console_session_id: console_id,
                bmc_random: [0; 16],
                bmc_guid: [0; 16],
                auth_code: Vec::new(),
            }
        } else {
            let session = self.sessions.get_mut(&r1.bmc_session_id)?;
            let inputs = RakpInputs {
                console_session_id: session.console_id,
                bmc_session_id: r1.bmc_session_id,
                console_random: r1.console_random,
                bmc_random: rand::random(),
                bmc_guid: self.guid,
                role: r1.role,
                username: r1.username.clone(),
            };
            let auth_code = inputs.rakp2_auth_code(session.suite.auth, &self.password);
            let reply = Rakp2 {
                tag: r1.tag,
                status: 0,
                console_session_id: session.console_id,
                bmc_random: inputs.bmc_random,
                bmc_guid: self.guid,
                auth_code,
            };
            session.max_privilege = r1.role & 0x0F;
            session.stage = Stage::Rakp2Sent(inputs);
            session.last_used = Instant::now();
            self.event(|| "RAKP 1/2".into());
            reply
        };
        let header = V20Header::setup(PayloadType::Rakp2);
        let datagram = v20::encode_v20(&header, &reply.encode(), None, [0; 16]).ok()?;
        if let Some(session) = self.sessions.get_mut(&r1.bmc_session_id) {
            if status != 0 {
                session.stage = Stage::Refused;
                session.closed_at = Some(Instant::now());
            }
            session.remember(PayloadType::Rakp1, payload, &datagram);
        }
        Some(datagram)
    }

    fn rakp3(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let r3 = Rakp3::decode(payload).ok()?;
        let session = self.sessions.get_mut(&r3.bmc_session_id)?;
        // A copy of a RAKP 3 answered already (a duplicate, or a retransmission after a
        // lost RAKP 4): the same RAKP 4, also after a refusal.
        if let Some(reply) = session.repeat(PayloadType::Rakp3, payload) {
            self.event(|| "RAKP 3/4 (repeated: same answer)".into());
            return Some(reply);
        }
        let auth = session.suite.auth;
        let console_id = session.console_id;
        let inputs = match &session.stage {
            Stage::Rakp2Sent(inputs) => inputs.clone(),
            // RAKP 4 was lost and the console asks again: the same answer.
            Stage::Active(_, inputs) if session.closed_at.is_none() => {
                let expected = inputs.rakp3_auth_code(auth, &self.password);
                if r3.status != 0 || !ct_eq(&expected, &r3.auth_code) {
                    return None;
                }
                let sik = inputs.sik(auth, &self.password, None);
                let reply = Rakp4 {
                    tag: r3.tag,
                    status: 0,
                    console_session_id: console_id,
                    icv: inputs.rakp4_icv(auth, &sik),
                };
                self.event(|| "RAKP 3/4 (retransmitted)".into());
                let header = V20Header::setup(PayloadType::Rakp4);
                return v20::encode_v20(&header, &reply.encode(), None, [0; 16]).ok();
            }
            _ => return None,
        };
        if r3.status != 0 {
            self.sessions.remove(&r3.bmc_session_id);
            self.event(|| format!("RAKP 3: the console gave up (status {:#04x})", r3.status));
            return None;
        }
        let expected = inputs.rakp3_auth_code(auth, &self.password);
        let accepted = ct_eq(&expected, &r3.auth_code);
        let reply = if accepted {
            let sik = inputs.sik(auth, &self.password, None);
            let icv = inputs.rakp4_icv(auth, &sik);
            session.stage = Stage::Active(SessionKeys::derive(session.suite, &sik), inputs);
            session.last_used = Instant::now();
            self.counters
                .sessions_opened
                .fetch_add(1, Ordering::Relaxed);
            self.event(|| "RAKP 3/4: session established".into());
            Rakp4 {
                tag: r3.tag,
                status: 0,
                console_session_id: console_id,
                icv,
            }
        } else {
            session.stage = Stage::Refused;
            session.closed_at = Some(Instant::now());
            self.event(|| "RAKP 3/4: wrong key exchange code (password)".into());
            Rakp4 {
                tag: r3.tag,
                status: 0x0F,
                console_session_id: console_id,
                icv: Vec::new(),
            }
        };
        let header = V20Header::setup(PayloadType::Rakp4);
        let datagram = v20::encode_v20(&header, &reply.encode(), None, [0; 16]).ok()?;
        if let Some(session) = self.sessions.get_mut(&r3.bmc_session_id) {
            session.remember(PayloadType::Rakp3, payload, &datagram);
        }
        Some(datagram)
    }

    /// Runs one IPMI command, inside session `session` or outside any.
    fn command(&mut self, req: &IpmiRequest, session: Option<u32>) -> IpmiResponse {
        let (code, data, note) = self.run_command(req, session);
        self.event(|| note);
        IpmiResponse::to(req, code, data)
    }

    fn run_command(&mut self, req: &IpmiRequest, session: Option<u32>) -> (u8, Vec<u8>, String) {
        match (req.net_fn, req.cmd) {
            (netfn::APP, cmd::GET_CHANNEL_AUTH_CAPABILITIES) => {
                let caps = ChannelAuthCapabilities {
                    channel: 1,
                    auth_types: if self.lanplus_only { 0 } else { v15::OFFERED },
                    ipmi20: req.data.first().is_some_and(|b| b & 0x80 != 0),
                };
                (
                    cc::OK,
                    caps.encode(),
                    "Get Channel Auth Capabilities".into(),
                )
            }
            (netfn::APP, GET_CHANNEL_CIPHER_SUITES) => {
                let index = usize::from(req.data.get(2).copied().unwrap_or(0) & 0x3F);
                let mut records = Vec::new();
                for s in SUITES {
                    records.extend_from_slice(&[
                        0xC0,
                        s.id,
                        s.auth.id(),
                        0x40 | s.integrity.id(),
                        0x80 | s.confidentiality.id(),
                    ]);
                }
                let mut data = vec![1];
                data.extend(records.iter().skip(16 * index).take(16));
                (cc::OK, data, format!("Get Channel Cipher Suites ({index})"))
            }
            (netfn::APP, GET_DEVICE_ID) => (
                cc::OK,
                // Device 0x20, revision 1, firmware 1.0, IPMI 2.0, chassis device,
                // manufacturer 0 (none), product 0x0f5e.
                vec![0x20, 0x01, 0x01, 0x00, 0x02, 0x80, 0, 0, 0, 0x5e, 0x0f],
                "Get Device ID".into(),
            ),
            _ => match session {
                None => (
                    cc::INSUFFICIENT_PRIVILEGE,
                    Vec::new(),
                    format!(
                        "netfn {:#04x} cmd {:#04x} outside a session: refused",
                        req.net_fn, req.cmd
                    ),
                ),
                Some(id) => self.session_command(req, id),
            },
        }
    }

    fn session_command(&mut self, req: &IpmiRequest, id: u32) -> (u8, Vec<u8>, String) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return (cc::INVALID_COMMAND, Vec::new(), "no session".into());
        };
        match (req.net_fn, req.cmd) {
            (netfn::APP, cmd::SET_SESSION_PRIVILEGE_LEVEL) => {
                let wanted = req.data.first().map_or(0, |b| b & 0x0F);
                if wanted == 0 {
                    return (
                        cc::OK,
                        vec![session.privilege],
                        "Set Session Privilege (read)".into(),
                    );
                }
                if wanted > session.max_privilege || wanted < 2 {
                    return (
                        0x81,
                        Vec::new(),
                        format!("Set Session Privilege {wanted}: above the session's limit"),
                    );
                }
                session.privilege = wanted;
                (
                    cc::OK,
                    vec![wanted],
                    format!("Set Session Privilege ({})", privilege_name(wanted)),
                )
            }
            (netfn::APP, cmd::CLOSE_SESSION) => {
                let target = req
                    .data
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes);
                if target == Some(id) {
                    (cc::OK, Vec::new(), "Close Session".into())
                } else {
                    (0x87, Vec::new(), "Close Session: another session".into())
                }
            }
            (netfn::CHASSIS, cmd::GET_CHASSIS_STATUS) => {
                let power = self.machine.power();
                let on = u8::from(power == PowerState::On);
                (
                    cc::OK,
                    vec![on | 0x60, 0x00, 0x40, 0x00],
                    format!("Get Chassis Status: {}", power.as_str()),
                )
            }
            (netfn::CHASSIS, cmd::CHASSIS_CONTROL) => {
                if session.privilege < 3 {
                    return (
                        cc::INSUFFICIENT_PRIVILEGE,
                        Vec::new(),
                        "Chassis Control: needs Operator privilege".into(),
                    );
                }
                let control = req.data.first().map_or(0xFF, |b| b & 0x0F);
                self.chassis_control(control)
            }
            _ => (
                cc::INVALID_COMMAND,
                Vec::new(),
                format!(
                    "netfn {:#04x} cmd {:#04x}: not simulated",
                    req.net_fn, req.cmd
                ),
            ),
        }
    }

    fn chassis_control(&mut self, control: u8) -> (u8, Vec<u8>, String) {
        let name = match control {
            chassis_control::POWER_DOWN => "power down",
            chassis_control::POWER_UP => "power up",
            chassis_control::POWER_CYCLE => "power cycle",
            chassis_control::HARD_RESET => "hard reset",
            chassis_control::DIAGNOSTIC_INTERRUPT => "diagnostic interrupt",
            chassis_control::SOFT_SHUTDOWN => "soft shutdown",
            _ => {
                return (
                    cc::INVALID_DATA_FIELD,
                    Vec::new(),
                    format!("Chassis Control {control:#04x}: unknown"),
                );
            }
        };
        if self.faults.refuse_resets {
            return (
                cc::NOT_SUPPORTED_IN_PRESENT_STATE,
                Vec::new(),
                format!("Chassis Control: {name} (refused)"),
            );
        }
        let power = self.machine.power();
        match control {
            chassis_control::POWER_DOWN | chassis_control::SOFT_SHUTDOWN if self.faults.lie => {
                return (
                    cc::OK,
                    Vec::new(),
                    format!("Chassis Control: {name} (lied)"),
                );
            }
            chassis_control::POWER_DOWN | chassis_control::SOFT_SHUTDOWN => {
                self.machine.switch(PowerState::Off)
            }
            chassis_control::POWER_UP => self.machine.switch(PowerState::On),
            chassis_control::POWER_CYCLE | chassis_control::HARD_RESET => {
                if power == PowerState::Off {
                    // As real BMCs do: a cycle or reset needs a machine that is on.
                    return (
                        cc::NOT_SUPPORTED_IN_PRESENT_STATE,
                        Vec::new(),
                        format!("Chassis Control: {name} refused, the machine is off"),
                    );
                }
                if !self.faults.lie {
                    self.machine.cycle();
                }
            }
            _ => {}
        }
        (cc::OK, Vec::new(), format!("Chassis Control: {name}"))
    }
}

fn privilege_name(level: u8) -> &'static str {
    match level {
        1 => "callback",
        2 => "user",
        3 => "operator",
        4 => "administrator",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

    fn bmc() -> Bmc {
        Bmc {
            index: 0,
            guid: [7; 16],
            machine: Arc::new(Machine::new(PowerState::On, Duration::ZERO)),
            faults: Faults::NONE,
            username: b"admin".to_vec(),
            password: b"password".to_vec(),
            sessions: HashMap::new(),
            challenges: Vec::new(),
            counters: Arc::new(IpmiCounters::default()),
            observer: None,
            lanplus_only: false,
        }
    }

    fn setup(kind: PayloadType, payload: &[u8]) -> Vec<u8> {
        v20::encode_v20(&V20Header::setup(kind), payload, None, [0; 16]).unwrap()
    }

    fn payload_of(datagram: &[u8]) -> Vec<u8> {
        v20::decode_v20(datagram, None).unwrap().1
    }

    /// Every set-up message arrives twice (a duplicating network) or again later (a
    /// retransmission after a lost answer): the BMC answers each copy with the same bytes
    /// and holds one session, which the login then completes.
    #[test]
    fn repeated_open_session_rakp1_and_rakp3_get_the_same_answers() {
        let mut bmc = bmc();
        let suite = CipherSuite::SUITE_17;
        let open = setup(
            PayloadType::OpenSessionRequest,
            &OpenSessionRequest {
                tag: 1,
                max_privilege: 4,
                console_session_id: 0xC0C0_0001,
                algorithms: suite.into(),
            }
            .encode(),
        );
        let first = bmc.handle(&open, PEER).unwrap();
        assert_eq!(bmc.handle(&open, PEER).unwrap(), first);
        assert_eq!(bmc.sessions.len(), 1, "one session for both copies");
        let opened = OpenSessionResponse::decode(&payload_of(&first)).unwrap();
        let (bmc_session_id, _) = opened.accepted.unwrap();

        let rakp1 = Rakp1 {
            tag: 2,
            bmc_session_id,
            console_random: [9; 16],
            role: 0x14,
            username: b"admin".to_vec(),
        };
        let rakp1_datagram = setup(PayloadType::Rakp1, &rakp1.encode().unwrap());
        let rakp2_first = bmc.handle(&rakp1_datagram, PEER).unwrap();
        assert_eq!(
            bmc.handle(&rakp1_datagram, PEER).unwrap(),
            rakp2_first,
            "the same random number"
        );
        let rakp2 = Rakp2::decode(&payload_of(&rakp2_first)).unwrap();
        assert_eq!(rakp2.status, 0);
        // A late copy of the Open Session still changes nothing.
        assert_eq!(bmc.handle(&open, PEER).unwrap(), first);

        let inputs = RakpInputs {
            console_session_id: 0xC0C0_0001,
            bmc_session_id,
            console_random: rakp1.console_random,
            bmc_random: rakp2.bmc_random,
            bmc_guid: rakp2.bmc_guid,
            role: rakp1.role,
            username: rakp1.username.clone(),
        };
        assert_eq!(
            rakp2.auth_code,
            inputs.rakp2_auth_code(suite.auth, b"password")
        );
        let rakp3 = setup(
            PayloadType::Rakp3,
            &Rakp3 {
                tag: 3,
                status: 0,
                bmc_session_id,
                auth_code: inputs.rakp3_auth_code(suite.auth, b"password"),
            }
            .encode(),
        );
        let rakp4_first = bmc.handle(&rakp3, PEER).unwrap();
        assert_eq!(bmc.handle(&rakp3, PEER).unwrap(), rakp4_first);
        let rakp4 = Rakp4::decode(&payload_of(&rakp4_first)).unwrap();
        assert_eq!(rakp4.status, 0);
        let sik = inputs.sik(suite.auth, b"password", None);
        assert_eq!(rakp4.icv, inputs.rakp4_icv(suite.auth, &sik));
        // Late copies of RAKP 1 neither reset the established session nor change the
        // answer.
        assert_eq!(bmc.handle(&rakp1_datagram, PEER).unwrap(), rakp2_first);
        assert!(matches!(
            bmc.sessions[&bmc_session_id].stage,
            Stage::Active(..)
        ));
        assert_eq!(bmc.sessions.len(), 1);
        assert_eq!(bmc.counters.sessions_opened.load(Ordering::Relaxed), 1);
        // The same bytes once the session is established (ipmitool's next run: its console
        // session ID is fixed), or from another console: a new session.
        let again = bmc.handle(&open, PEER).unwrap();
        assert_ne!(again, first);
        let other = SocketAddr::new(PEER.ip(), PEER.port() + 1);
        let third = bmc.handle(&open, other).unwrap();
        assert_ne!(third, again);
        assert_eq!(bmc.sessions.len(), 3);
    }

    /// A refused login answers its repeats with the same refusal, not "invalid session
    /// ID", so that a lost refusal still reads as wrong credentials.
    #[test]
    fn a_refused_rakp_answers_its_repeats_with_the_same_refusal() {
        let mut bmc = bmc();
        let open = setup(
            PayloadType::OpenSessionRequest,
            &OpenSessionRequest {
                tag: 1,
                max_privilege: 4,
                console_session_id: 5,
                algorithms: CipherSuite::SUITE_3.into(),
            }
            .encode(),
        );
        let opened =
            OpenSessionResponse::decode(&payload_of(&bmc.handle(&open, PEER).unwrap())).unwrap();
        let (bmc_session_id, _) = opened.accepted.unwrap();
        let rakp1 = setup(
            PayloadType::Rakp1,
            &Rakp1 {
                tag: 2,
                bmc_session_id,
                console_random: [1; 16],
                role: 0x14,
                username: b"nobody".to_vec(),
            }
            .encode()
            .unwrap(),
        );
        let refusal = bmc.handle(&rakp1, PEER).unwrap();
        assert_eq!(Rakp2::decode(&payload_of(&refusal)).unwrap().status, 0x0D);
        assert_eq!(bmc.handle(&rakp1, PEER).unwrap(), refusal);
        // The refused session holds no slot.
        let open_slots = bmc
            .sessions
            .values()
            .filter(|s| s.closed_at.is_none())
            .count();
        assert_eq!(open_slots, 0);
    }
}
