//! The IPMI over LAN client: one UDP socket, retransmission with a bound, and a session
//! (RMCP+ or v1.5) that is opened once and always closed.
//!
//! [`Session::open`] establishes a session as the configuration says:
//!
//! - **lanplus** (IPMI v2.0 RMCP+): Open Session, RAKP 1/2, RAKP 3/4: 3 round trips with a
//!   known cipher suite. Without `cipher`, suite 17 is proposed first and suite 3 only if
//!   the BMC refuses 17 (one more round trip on such BMCs; a BMC that answers with suite 3
//!   right away, as pyghmi's does, is accepted). No ASF presence ping and no Get Channel
//!   Authentication Capabilities are sent: neither is needed to open a session.
//! - **lan** (IPMI v1.5): [Get Channel Authentication Capabilities, only when `auth` is
//!   not given], Get Session Challenge, Activate Session.
//!
//! The session starts at User privilege; [`Session::ensure_privilege`] raises it with Set
//! Session Privilege Level (one round trip) the first time a command needs more, so a
//! status read never pays for it. [`Session::close`] sends Close Session; dropping an open
//! session sends Close Session once without waiting for the answer (best effort).
//!
//! Every request is retransmitted and fails with [`Error::Unreachable`] when its bound
//! passes; ICMP "port unreachable" fails at once. Until the BMC has answered once, the
//! schedule is [`RetryPolicy::schedule`] (0, 0.5, 1.5, 3.5 s by default: an unknown BMC
//! may be slow); afterwards it is [`RetryPolicy::schedule_after_answer`], a fixed timeout
//! of 4 round trips (at least 0.2 s, at most `ipmitool_timeout`), so that a lossy network
//! costs a fraction of a second per lost datagram instead of seconds.
//!
//! If RAKP message 4 is lost, the BMC has activated the session and may ignore a repeated
//! RAKP message 3; each repeat is therefore sent with a probe inside the would-be session
//! (Set Session Privilege Level 0, which changes nothing), whose integrity-checked answer
//! proves the session as RAKP 4 would. A repeated Close Session answered "invalid session
//! ID" (0x87) counts as closed, and Close Session waits at most 1.5 s.
//! Every answer is checked: message tag or sequence number, session ID, the integrity code
//! inside a session with integrity, the RAKP codes. Datagrams that fail a check are
//! ignored (and reported if nothing valid arrives before the bound).

use std::fmt;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use fence_core::{Error, Result};

use crate::config::{CipherChoice, Interface, IpmiConfig, RetryPolicy};
use crate::crypto::{
    CipherSuite, RakpInputs, SessionKeys, V15AuthType, ct_eq, v15_auth_code, v15_password,
};
use crate::wire::{
    self, ActivatedSession, ChannelAuthCapabilities, IpmiRequest, IpmiResponse, OpenSessionRequest,
    OpenSessionResponse, PayloadType, Privilege, Rakp1, Rakp2, Rakp3, Rakp4, SessionChallenge,
    V15Packet, V20Header, cc, cmd, netfn,
};

/// The name-only lookup bit of RAKP message 1's role byte: the BMC looks the user up by
/// name and checks the requested privilege against the user's limit (as ipmitool does).
const NAME_ONLY_LOOKUP: u8 = 0x10;

/// The longest wait for the answer to Close Session.
const CLOSE_BOUND: std::time::Duration = std::time::Duration::from_millis(1500);

/// Counts of what went over the wire, for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Request/response exchanges started (round trips, retransmissions not counted).
    pub round_trips: u32,
    /// Datagrams sent, retransmissions included.
    pub datagrams_sent: u32,
    /// Datagrams received (valid or not).
    pub datagrams_received: u32,
    /// Sessions opened.
    pub sessions_opened: u32,
    /// Sessions closed with an answered Close Session.
    pub sessions_closed: u32,
}

/// Shared, lock-free counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    round_trips: AtomicU32,
    sent: AtomicU32,
    received: AtomicU32,
    opened: AtomicU32,
    closed: AtomicU32,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            datagrams_sent: self.sent.load(Ordering::Relaxed),
            datagrams_received: self.received.load(Ordering::Relaxed),
            sessions_opened: self.opened.load(Ordering::Relaxed),
            sessions_closed: self.closed.load(Ordering::Relaxed),
        }
    }

    fn bump(c: &AtomicU32) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connected UDP socket with the retransmission policy.
struct Transport {
    socket: UdpSocket,
    /// A second handle on the same socket, for the non-blocking Close Session on drop.
    std_socket: StdUdpSocket,
    address: String,
    retry: RetryPolicy,
    counters: Arc<Counters>,
    /// The longest round trip answered on a first transmission, in microseconds (0: none
    /// yet).
    rtt_max_micros: AtomicU64,
}

/// What an answer filter says about a datagram.
type Verdict<T> = Result<Option<T>>;

impl Transport {
    async fn connect(config: &IpmiConfig, counters: Arc<Counters>) -> Result<Transport> {
        let address = config.address();
        let deadline = Instant::now() + config.retry.request_timeout;
        let lookup = tokio::net::lookup_host((config.host.as_str(), config.port));
        let addrs: Vec<SocketAddr> = match timeout_at(deadline, lookup).await {
            Err(_) => {
                return Err(Error::unreachable(format!(
                    "{address}: name lookup did not finish within {:.1} s",
                    config.retry.request_timeout.as_secs_f64()
                )));
            }
            Ok(Err(e)) => {
                return Err(Error::unreachable_with(
                    format!("{address}: cannot resolve host"),
                    e,
                ));
            }
            Ok(Ok(a)) => a.collect(),
        };
        let peer = *addrs
            .first()
            .ok_or_else(|| Error::unreachable(format!("{address}: host has no address")))?;
        let local: SocketAddr = if peer.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let io = |what: &str, e: std::io::Error| {
            Error::unreachable_with(format!("{address}: {what}"), e)
        };
        let std_socket =
            StdUdpSocket::bind(local).map_err(|e| io("cannot bind a UDP socket", e))?;
        std_socket
            .connect(peer)
            .map_err(|e| io("cannot connect the UDP socket", e))?;
        std_socket
            .set_nonblocking(true)
            .map_err(|e| io("cannot make the UDP socket non-blocking", e))?;
        let clone = std_socket
            .try_clone()
            .map_err(|e| io("cannot clone the UDP socket", e))?;
        let socket =
            UdpSocket::from_std(std_socket).map_err(|e| io("cannot register the UDP socket", e))?;
        Ok(Transport {
            socket,
            std_socket: clone,
            address,
            retry: config.retry,
            counters,
            rtt_max_micros: AtomicU64::new(0),
        })
    }

    /// The longest round trip seen so far, if the BMC has answered.
    fn rtt(&self) -> Option<std::time::Duration> {
        match self.rtt_max_micros.load(Ordering::Relaxed) {
            0 => None,
            us => Some(std::time::Duration::from_micros(us)),
        }
    }

    fn note_rtt(&self, rtt: std::time::Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        self.rtt_max_micros.fetch_max(us, Ordering::Relaxed);
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            Error::unreachable_with(
                format!(
                    "{}: {what}: connection refused (nothing listens on that UDP port)",
                    self.address
                ),
                e,
            )
        } else {
            Error::unreachable_with(format!("{}: {what}", self.address), e)
        }
    }

    /// One request/response exchange. `make(n)` builds the n-th transmission (0 first);
    /// `accept` decodes a datagram: `Ok(Some(v))` ends the exchange, `Ok(None)` ignores a
    /// datagram that belongs to something else, `Err(e)` ignores an invalid one (and `e`
    /// is reported if nothing valid arrives before the bound).
    async fn exchange<T>(
        &self,
        what: &str,
        mut make: impl FnMut(usize) -> Result<Vec<u8>>,
        accept: impl FnMut(&[u8]) -> Verdict<T>,
    ) -> Result<T> {
        self.exchange_multi(what, &self.retry, |n| make(n).map(|d| vec![d]), accept)
            .await
    }

    /// [`Transport::exchange`] with its own retry policy, where each transmission may be
    /// several datagrams (sent back to back).
    async fn exchange_multi<T>(
        &self,
        what: &str,
        retry: &RetryPolicy,
        mut make: impl FnMut(usize) -> Result<Vec<Vec<u8>>>,
        mut accept: impl FnMut(&[u8]) -> Verdict<T>,
    ) -> Result<T> {
        Counters::bump(&self.counters.round_trips);
        let schedule = match self.rtt() {
            Some(rtt) => retry.schedule_after_answer(rtt),
            None => retry.schedule(),
        };
        let start = Instant::now();
        let deadline = start + retry.request_timeout;
        let mut buf = vec![0u8; 2048];
        let mut last_invalid: Option<Error> = None;
        for (n, _) in schedule.iter().enumerate() {
            for datagram in make(n)? {
                if let Err(e) = self.socket.send(&datagram).await {
                    return Err(self.io_error(&format!("sending {what}"), e));
                }
                Counters::bump(&self.counters.sent);
            }
            if n > 0 {
                tracing::debug!(address = %self.address, what, attempt = n + 1, "retransmission");
            }
            let until = schedule.get(n + 1).map_or(deadline, |t| start + *t);
            loop {
                match timeout_at(until, self.socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) => {
                        return Err(self.io_error(&format!("waiting for the answer to {what}"), e));
                    }
                    Ok(Ok(len)) => {
                        Counters::bump(&self.counters.received);
                        match accept(&buf[..len]) {
                            Ok(Some(v)) => {
                                if n == 0 {
                                    // Karn: only exchanges answered on their first
                                    // transmission give a round-trip sample.
                                    self.note_rtt(start.elapsed());
                                }
                                return Ok(v);
                            }
                            Ok(None) => {
                                tracing::trace!(address = %self.address, what, "ignored an unrelated datagram");
                            }
                            Err(e) => {
                                tracing::debug!(address = %self.address, what, error = %e, "ignored an invalid datagram");
                                last_invalid = Some(e);
                            }
                        }
                    }
                }
            }
        }
        let bound = retry.request_timeout.as_secs_f64();
        Err(match last_invalid {
            Some(e) => {
                let why = match e {
                    Error::Misbehaved { detail } => detail,
                    other => other.to_string(),
                };
                Error::misbehaved(format!(
                    "{}: no valid answer to {what} within {bound:.1} s; last datagram: {why}",
                    self.address
                ))
            }
            None => Error::unreachable(format!(
                "{}: no answer to {what} within {bound:.1} s ({} transmissions)",
                self.address,
                schedule.len()
            )),
        })
    }
}

/// The per-version state of an established session.
enum State {
    V20 {
        suite: CipherSuite,
        keys: SessionKeys,
        console_session_id: u32,
        bmc_session_id: u32,
        next_seq: u32,
    },
    V15 {
        auth: V15AuthType,
        password: [u8; 16],
        session_id: u32,
        next_seq: u32,
    },
}

/// An established IPMI session on one BMC.
pub struct Session {
    transport: Transport,
    state: State,
    rq_seq: u8,
    privilege: Privilege,
    open: bool,
    usable: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Session");
        d.field("address", &self.transport.address);
        match &self.state {
            State::V20 {
                suite,
                bmc_session_id,
                ..
            } => d
                .field("version", &"2.0")
                .field("cipher_suite", &suite.id)
                .field("session_id", bmc_session_id),
            State::V15 {
                auth, session_id, ..
            } => d
                .field("version", &"1.5")
                .field("auth", auth)
                .field("session_id", session_id),
        };
        d.field("privilege", &self.privilege)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

fn random_nonzero_u32() -> u32 {
    loop {
        let v: u32 = rand::random();
        if v != 0 {
            return v;
        }
    }
}

/// Encodes an unprotected RMCP+ setup payload (Open Session, RAKP): outside any session.
fn setup_datagram(payload_type: PayloadType, payload: &[u8]) -> Result<Vec<u8>> {
    wire::encode_v20(&V20Header::setup(payload_type), payload, None, [0; 16])
}

/// Decodes an unprotected RMCP+ setup payload of type `expected`.
fn setup_payload(datagram: &[u8], expected: PayloadType) -> Result<Option<Vec<u8>>> {
    if wire::session_format(datagram)? != wire::SessionFormat::V20 {
        return Ok(None);
    }
    let (header, payload) = wire::decode_v20(datagram, None)?;
    Ok((header.payload_type == expected).then_some(payload))
}

/// Maps an RMCP+ status code of Open Session or RAKP to an error.
fn rmcp_status_error(address: &str, step: &str, status: u8) -> Error {
    let text = wire::describe_rmcp_status(status);
    let detail = format!("{address}: {step} refused: {text} (RMCP+ status {status:#04x})");
    match status {
        0x01 | 0x0B => Error::unreachable(format!("{detail}; every session slot may be in use")),
        0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11 => Error::unsupported(detail),
        0x02 | 0x03 | 0x08 | 0x12 => Error::misbehaved(detail),
        _ => Error::login_refused(detail),
    }
}

impl Session {
    /// Opens a session as `config` says (see the module documentation for the exchanges).
    pub async fn open(config: &IpmiConfig) -> Result<Session> {
        Session::open_counted(config, Arc::new(Counters::default())).await
    }

    pub(crate) async fn open_counted(
        config: &IpmiConfig,
        counters: Arc<Counters>,
    ) -> Result<Session> {
        let transport = Transport::connect(config, counters).await?;
        let state = match config.interface {
            Interface::LanPlus { cipher } => open_v20(&transport, config, cipher).await?,
            Interface::Lan { auth } => open_v15(&transport, config, auth).await?,
        };
        Counters::bump(&transport.counters.opened);
        let session = Session {
            transport,
            state,
            rq_seq: 1,
            privilege: Privilege::User,
            open: true,
            usable: true,
        };
        tracing::debug!(session = ?session, "IPMI session open");
        Ok(session)
    }

    /// The negotiated cipher suite (lanplus only).
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        match &self.state {
            State::V20 { suite, .. } => Some(*suite),
            State::V15 { .. } => None,
        }
    }

    /// The session's current privilege level.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// The BMC address, for messages.
    pub fn address(&self) -> &str {
        &self.transport.address
    }

    /// False once an exchange failed (no answer, invalid answers): the session may be gone
    /// on the BMC's side. A command the BMC refused with a completion code keeps it usable.
    pub fn is_usable(&self) -> bool {
        self.open && self.usable
    }

    /// Counts of the datagrams this session's socket carried.
    pub fn stats(&self) -> Stats {
        self.transport.counters.snapshot()
    }

    fn next_rq_seq(&mut self) -> u8 {
        let s = self.rq_seq;
        self.rq_seq = (self.rq_seq + 1) & 0x3F;
        s
    }

    /// Sends one IPMI request inside the session and returns the response, whatever its
    /// completion code.
    pub async fn request(
        &mut self,
        net_fn: u8,
        command: u8,
        data: Vec<u8>,
    ) -> Result<IpmiResponse> {
        let retry = self.transport.retry;
        self.request_with(net_fn, command, data, &retry).await
    }

    /// [`Session::request`] with another retry policy.
    async fn request_with(
        &mut self,
        net_fn: u8,
        command: u8,
        data: Vec<u8>,
        retry: &RetryPolicy,
    ) -> Result<IpmiResponse> {
        if !self.open {
            return Err(Error::misbehaved(format!(
                "{}: the IPMI session is closed",
                self.transport.address
            )));
        }
        let req = IpmiRequest::new(net_fn, command, data, self.next_rq_seq());
        let message = req.encode();
        let what = wire::command_name(net_fn, command).map_or_else(
            || format!("IPMI command {net_fn:#04x}/{command:#04x}"),
            str::to_owned,
        );
        let transport = &self.transport;
        let result = match &mut self.state {
            State::V20 {
                suite,
                keys,
                console_session_id,
                bmc_session_id,
                next_seq,
            } => {
                let (suite, keys, console_sid, bmc_sid) =
                    (*suite, &*keys, *console_session_id, *bmc_session_id);
                let seq = next_seq;
                transport
                    .exchange_multi(
                        &what,
                        retry,
                        |_| {
                            let d = v20_datagram(suite, keys, bmc_sid, *seq, &message)?;
                            *seq = seq.wrapping_add(1).max(1);
                            Ok(vec![d])
                        },
                        |d| accept_v20(d, suite, keys, console_sid, &req),
                    )
                    .await
            }
            State::V15 {
                auth,
                password,
                session_id,
                next_seq,
            } => {
                let (auth, password, sid) = (*auth, *password, *session_id);
                let seq = next_seq;
                transport
                    .exchange_multi(
                        &what,
                        retry,
                        |_| {
                            let packet = V15Packet {
                                auth_type: auth.id(),
                                session_seq: *seq,
                                session_id: sid,
                                auth_code: v15_auth_code(auth, &password, sid, *seq, &message),
                                message: message.clone(),
                            };
                            *seq = seq.wrapping_add(1).max(1);
                            Ok(vec![packet.encode()?])
                        },
                        |d| accept_v15(d, Some((auth, &password)), sid, &req),
                    )
                    .await
            }
        };
        if result.is_err() {
            self.usable = false;
        }
        result
    }

    /// Sends a request and checks its completion code; returns the response data.
    pub async fn command(
        &mut self,
        net_fn: u8,
        command: u8,
        data: Vec<u8>,
        what: &str,
    ) -> Result<Vec<u8>> {
        let resp = self.request(net_fn, command, data).await?;
        if resp.completion_code == cc::OK {
            return Ok(resp.data);
        }
        Err(completion_error(
            &self.transport.address,
            what,
            resp.completion_code,
        ))
    }

    /// Sets the session privilege level (Set Session Privilege Level).
    pub async fn set_privilege(&mut self, level: Privilege) -> Result<()> {
        let resp = self
            .request(
                netfn::APP,
                cmd::SET_SESSION_PRIVILEGE_LEVEL,
                vec![level.id()],
            )
            .await?;
        match resp.completion_code {
            cc::OK => {
                self.privilege = level;
                Ok(())
            }
            code @ (0x80 | 0x81 | cc::INSUFFICIENT_PRIVILEGE) => {
                Err(Error::login_refused(format!(
                    "{}: privilege level {} refused for this user: {} (cc {code:#04x})",
                    self.transport.address,
                    level.as_str(),
                    if code == 0x80 {
                        "level not available for this user"
                    } else {
                        "level exceeds the user's or channel's limit"
                    }
                )))
            }
            code => Err(completion_error(
                &self.transport.address,
                "Set Session Privilege Level",
                code,
            )),
        }
    }

    /// Raises the session privilege to `level` unless it is there already.
    pub async fn ensure_privilege(&mut self, level: Privilege) -> Result<()> {
        if self.privilege >= level {
            return Ok(());
        }
        self.set_privilege(level).await
    }

    /// Get Chassis Status: true when the system power is on.
    pub async fn chassis_power_is_on(&mut self) -> Result<bool> {
        let data = self
            .command(
                netfn::CHASSIS,
                cmd::GET_CHASSIS_STATUS,
                Vec::new(),
                "Get Chassis Status",
            )
            .await?;
        wire::chassis_power_is_on(&data).map_err(|e| {
            Error::misbehaved(format!(
                "{}: Get Chassis Status: {e}",
                self.transport.address
            ))
        })
    }

    /// Chassis Control with one of [`wire::chassis_control`]'s values.
    pub async fn chassis_control(&mut self, control: u8) -> Result<()> {
        self.command(
            netfn::CHASSIS,
            cmd::CHASSIS_CONTROL,
            vec![control],
            "Chassis Control",
        )
        .await
        .map(drop)
    }

    fn session_id_for_close(&self) -> u32 {
        match &self.state {
            State::V20 { bmc_session_id, .. } => *bmc_session_id,
            State::V15 { session_id, .. } => *session_id,
        }
    }

    /// Closes the session (Close Session) and waits for the answer. The session counts as
    /// closed afterwards even when the BMC did not answer.
    pub async fn close(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        let id = self.session_id_for_close();
        // A lost answer must not hold the run for the whole request bound: the BMC acts
        // on the first Close Session it gets, and a repeat of it may go unanswered.
        let retry = RetryPolicy {
            request_timeout: self.transport.retry.request_timeout.min(CLOSE_BOUND),
            ..self.transport.retry
        };
        let result = self
            .request_with(
                netfn::APP,
                cmd::CLOSE_SESSION,
                id.to_le_bytes().to_vec(),
                &retry,
            )
            .await
            .and_then(|resp| match resp.completion_code {
                // 0x87: invalid session ID, i.e. already closed (a repeat whose first copy
                // was acted on).
                cc::OK | 0x87 => Ok(()),
                code => Err(completion_error(
                    &self.transport.address,
                    "Close Session",
                    code,
                )),
            });
        self.open = false;
        if result.is_ok() {
            Counters::bump(&self.transport.counters.closed);
            tracing::debug!(address = %self.transport.address, "IPMI session closed");
        }
        result
    }

    /// The Close Session datagram for [`Drop`]: built like any request of the session.
    fn close_datagram(&mut self) -> Result<Vec<u8>> {
        let id = self.session_id_for_close();
        let req = IpmiRequest::new(
            netfn::APP,
            cmd::CLOSE_SESSION,
            id.to_le_bytes().to_vec(),
            self.next_rq_seq(),
        );
        let message = req.encode();
        match &mut self.state {
            State::V20 {
                suite,
                keys,
                bmc_session_id,
                next_seq,
                ..
            } => v20_datagram(*suite, keys, *bmc_session_id, *next_seq, &message),
            State::V15 {
                auth,
                password,
                session_id,
                next_seq,
            } => V15Packet {
                auth_type: auth.id(),
                session_seq: *next_seq,
                session_id: *session_id,
                auth_code: v15_auth_code(*auth, password, *session_id, *next_seq, &message),
                message,
            }
            .encode(),
        }
    }
}

impl Drop for Session {
    /// Best effort: an open session sends one Close Session datagram without waiting, so
    /// that a BMC slot is not held until the BMC's idle timeout.
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        match self.close_datagram() {
            Ok(d) => match self.transport.std_socket.send(&d) {
                Ok(_) => {
                    Counters::bump(&self.transport.counters.sent);
                    tracing::debug!(address = %self.transport.address, "sent Close Session on drop");
                }
                Err(e) => {
                    tracing::debug!(address = %self.transport.address, error = %e, "Close Session on drop failed")
                }
            },
            Err(e) => tracing::debug!(error = %e, "cannot build Close Session"),
        }
    }
}

/// An IPMI message inside an RMCP+ session, protected as the suite says.
fn v20_datagram(
    suite: CipherSuite,
    keys: &SessionKeys,
    bmc_session_id: u32,
    session_seq: u32,
    message: &[u8],
) -> Result<Vec<u8>> {
    let header = V20Header {
        payload_type: PayloadType::Ipmi,
        encrypted: suite.confidentiality.id() != 0,
        authenticated: suite.integrity.id() != 0,
        session_id: bmc_session_id,
        session_seq,
    };
    wire::encode_v20(&header, message, Some(keys), rand::random())
}

/// Maps a completion code to an error.
pub(crate) fn completion_error(address: &str, what: &str, code: u8) -> Error {
    let detail = format!("{address}: {what}: {} (cc {code:#04x})", cc::describe(code));
    match code {
        cc::INSUFFICIENT_PRIVILEGE => Error::login_refused(format!(
            "{detail}; the command needs a higher privlvl or an account with more rights"
        )),
        cc::INVALID_COMMAND => Error::unsupported(detail),
        _ => Error::misbehaved(detail),
    }
}

/// Accepts the RMCP+ response to `req` inside the session.
fn accept_v20(
    datagram: &[u8],
    suite: CipherSuite,
    keys: &SessionKeys,
    console_session_id: u32,
    req: &IpmiRequest,
) -> Verdict<IpmiResponse> {
    if wire::session_format(datagram)? != wire::SessionFormat::V20 {
        return Ok(None);
    }
    let (header, payload) = wire::decode_v20(datagram, Some(keys))?;
    if header.payload_type != PayloadType::Ipmi || header.session_id != console_session_id {
        return Ok(None);
    }
    if (suite.integrity.id() != 0 && !header.authenticated)
        || (suite.confidentiality.id() != 0 && !header.encrypted)
    {
        return Err(Error::misbehaved(format!(
            "unprotected answer inside a cipher suite {} session",
            suite.id
        )));
    }
    let resp = IpmiResponse::decode(&payload)?;
    Ok(resp.answers(req).then_some(resp))
}

/// Accepts the v1.5 response to `req`; `auth` verifies the BMC's authentication code.
fn accept_v15(
    datagram: &[u8],
    auth: Option<(V15AuthType, &[u8; 16])>,
    session_id: u32,
    req: &IpmiRequest,
) -> Verdict<IpmiResponse> {
    if wire::session_format(datagram)? != wire::SessionFormat::V15 {
        return Ok(None);
    }
    let packet = V15Packet::decode(datagram)?;
    if packet.session_id != session_id {
        return Ok(None);
    }
    if let Some((auth, password)) = auth {
        if auth != V15AuthType::None {
            let expected = v15_auth_code(
                auth,
                password,
                packet.session_id,
                packet.session_seq,
                &packet.message,
            );
            let ok = packet.auth_type == auth.id()
                && match (expected, packet.auth_code) {
                    (Some(e), Some(got)) => ct_eq(&e, &got),
                    _ => false,
                };
            if !ok {
                return Err(Error::misbehaved(
                    "IPMI v1.5 answer with a wrong authentication code",
                ));
            }
        }
    }
    let resp = IpmiResponse::decode(&packet.message)?;
    Ok(resp.answers(req).then_some(resp))
}

/// Turns "no answer within the bound" to the step that carries the credentials, after the
/// BMC answered the step before, into a login refusal: a BMC that is up but silent at
/// exactly that step is refusing the credentials. Other errors pass unchanged.
fn silence_is_refusal(e: Error, why: &str) -> Error {
    match e {
        Error::Unreachable {
            detail,
            source: None,
        } => Error::login_refused(format!("{detail}; {why}")),
        other => other,
    }
}

/// Opens an RMCP+ session: Open Session (suite 17, then 3, unless fixed), RAKP 1-4.
async fn open_v20(
    transport: &Transport,
    config: &IpmiConfig,
    choice: CipherChoice,
) -> Result<State> {
    let address = transport.address.as_str();
    let candidates: Vec<CipherSuite> = match choice {
        CipherChoice::Auto => vec![CipherSuite::SUITE_17, CipherSuite::SUITE_3],
        CipherChoice::Fixed(s) => vec![s],
    };
    let kuid = config.password.expose().as_bytes();
    let kg = config.kg_bytes()?;
    let username = config.username.as_bytes().to_vec();
    let role = config.privilege.id() | NAME_ONLY_LOOKUP;
    let mut tag: u8 = 0;

    // Open Session.
    let mut opened = None;
    for (i, proposed) in candidates.iter().enumerate() {
        tag = tag.wrapping_add(1);
        let console_session_id = random_nonzero_u32();
        let req = OpenSessionRequest {
            tag,
            max_privilege: config.privilege.id(),
            console_session_id,
            algorithms: (*proposed).into(),
        };
        let payload = req.encode();
        let resp = transport
            .exchange(
                "RMCP+ Open Session",
                |_| setup_datagram(PayloadType::OpenSessionRequest, &payload),
                |d| match setup_payload(d, PayloadType::OpenSessionResponse)? {
                    None => Ok(None),
                    Some(p) => {
                        let r = OpenSessionResponse::decode(&p)?;
                        let ours = r.tag == tag
                            && (r.console_session_id == console_session_id || r.status != 0);
                        Ok(ours.then_some(r))
                    }
                },
            )
            .await?;
        if resp.status != 0 {
            let algorithm_refused = matches!(resp.status, 0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11);
            if algorithm_refused && i + 1 < candidates.len() {
                tracing::debug!(
                    address,
                    suite = proposed.id,
                    status = resp.status,
                    "cipher suite refused; trying the next one"
                );
                continue;
            }
            return Err(rmcp_status_error(
                address,
                &format!("Open Session with cipher suite {}", proposed.id),
                resp.status,
            ));
        }
        let Some((bmc_session_id, algs)) = resp.accepted else {
            return Err(Error::misbehaved(format!(
                "{address}: Open Session accepted without a session ID"
            )));
        };
        let chosen = CipherSuite::from_algorithms(algs.auth, algs.integrity, algs.confidentiality);
        let acceptable = match (choice, chosen) {
            (CipherChoice::Fixed(want), Some(got)) => got == want,
            // A BMC that picks a suite on its own (pyghmi always answers suite 3) is
            // accepted when it is one we would have proposed.
            (CipherChoice::Auto, Some(got)) => candidates.contains(&got),
            (_, None) => false,
        };
        match chosen {
            Some(suite) if acceptable => {
                opened = Some((suite, console_session_id, bmc_session_id));
                break;
            }
            _ => {
                return Err(Error::misbehaved(format!(
                    "{address}: Open Session answered with algorithms {}/{}/{} instead of cipher suite {}",
                    algs.auth, algs.integrity, algs.confidentiality, proposed.id
                )));
            }
        }
    }
    let Some((suite, console_session_id, bmc_session_id)) = opened else {
        return Err(Error::unsupported(format!(
            "{address}: no cipher suite accepted"
        )));
    };

    // RAKP 1 / 2.
    tag = tag.wrapping_add(1);
    let rakp1 = Rakp1 {
        tag,
        bmc_session_id,
        console_random: rand::random(),
        role,
        username: username.clone(),
    };
    let payload = rakp1.encode()?;
    let rakp2 = transport
        .exchange(
            "RAKP message 1",
            |_| setup_datagram(PayloadType::Rakp1, &payload),
            |d| match setup_payload(d, PayloadType::Rakp2)? {
                None => Ok(None),
                Some(p) => {
                    let r = Rakp2::decode(&p)?;
                    Ok((r.tag == tag).then_some(r))
                }
            },
        )
        .await
        .map_err(|e| {
            silence_is_refusal(
                e,
                "the BMC answered Open Session but not RAKP message 1, which carries the user \
                 name: some BMCs (pyghmi's) ignore an unknown user name silently",
            )
        })?;
    if rakp2.status != 0 {
        return Err(rmcp_status_error(
            address,
            "RAKP message 1 (user name and role)",
            rakp2.status,
        ));
    }
    if rakp2.console_session_id != console_session_id {
        return Err(Error::misbehaved(format!(
            "{address}: RAKP message 2 names another session"
        )));
    }
    let inputs = RakpInputs {
        console_session_id,
        bmc_session_id,
        console_random: rakp1.console_random,
        bmc_random: rakp2.bmc_random,
        bmc_guid: rakp2.bmc_guid,
        role,
        username,
    };
    let expected = inputs.rakp2_auth_code(suite.auth, kuid);
    if !ct_eq(&expected, &rakp2.auth_code) {
        // Tell the BMC to drop the half-open session (RAKP 3 with an error status), without
        // waiting for an answer.
        let abort = Rakp3 {
            tag: tag.wrapping_add(1),
            status: 0x0F,
            bmc_session_id,
            auth_code: Vec::new(),
        };
        if let Ok(d) = setup_datagram(PayloadType::Rakp3, &abort.encode()) {
            let _ = transport.socket.send(&d).await;
        }
        return Err(Error::login_refused(format!(
            "{address}: RAKP message 2 does not match the password: wrong password for this user"
        )));
    }

    // RAKP 3 / 4.
    tag = tag.wrapping_add(1);
    let rakp3 = Rakp3 {
        tag,
        status: 0,
        bmc_session_id,
        auth_code: inputs.rakp3_auth_code(suite.auth, kuid),
    };
    let rakp3_datagram = setup_datagram(PayloadType::Rakp3, &rakp3.encode())?;
    let sik = inputs.sik(suite.auth, kuid, kg.as_ref().map(|k| &k[..]));
    let keys = SessionKeys::derive(suite, &sik);
    // If RAKP 4 is lost, the BMC has activated the session and may ignore a repeated RAKP 3.
    // So every retransmission of RAKP 3 comes with a probe inside the would-be session
    // (Set Session Privilege Level 0: "report the current level", changes nothing); an
    // answer that passes the session's integrity check proves the session as RAKP 4 would.
    let probe = IpmiRequest::new(netfn::APP, cmd::SET_SESSION_PRIVILEGE_LEVEL, vec![0], 0);
    let probe_message = probe.encode();
    let mut probe_seq = 0u32;
    let answer = transport
        .exchange_multi(
            "RAKP message 3",
            &transport.retry,
            |n| {
                let mut out = vec![rakp3_datagram.clone()];
                if n > 0 {
                    probe_seq += 1;
                    out.push(v20_datagram(
                        suite,
                        &keys,
                        bmc_session_id,
                        probe_seq,
                        &probe_message,
                    )?);
                }
                Ok(out)
            },
            |d| {
                if wire::session_format(d)? != wire::SessionFormat::V20 {
                    return Ok(None);
                }
                let (header, payload) = wire::decode_v20(d, Some(&keys))?;
                match header.payload_type {
                    PayloadType::Rakp4 => {
                        let r = Rakp4::decode(&payload)?;
                        Ok((r.tag == tag).then_some(Some(r)))
                    }
                    PayloadType::Ipmi => {
                        Ok(accept_v20(d, suite, &keys, console_session_id, &probe)?.map(|_| None))
                    }
                    _ => Ok(None),
                }
            },
        )
        .await?;
    match answer {
        Some(rakp4) => {
            verify_rakp4(transport, &inputs, suite, kuid, kg.is_some(), &sik, &rakp4).await?
        }
        None => tracing::debug!(
            address,
            "RAKP message 4 lost; the session answered the probe"
        ),
    }
    Ok(State::V20 {
        suite,
        keys,
        console_session_id,
        bmc_session_id,
        next_seq: probe_seq + 1,
    })
}

/// Checks RAKP message 4: its status, and its integrity check value under the SIK.
async fn verify_rakp4(
    transport: &Transport,
    inputs: &RakpInputs,
    suite: CipherSuite,
    kuid: &[u8],
    kg_given: bool,
    sik: &[u8],
    rakp4: &Rakp4,
) -> Result<()> {
    let address = transport.address.as_str();
    if rakp4.status != 0 {
        return Err(rmcp_status_error(address, "RAKP message 3", rakp4.status));
    }
    if ct_eq(&inputs.rakp4_icv(suite.auth, sik), &rakp4.icv) {
        return Ok(());
    }
    // The BMC considers the session open. If it simply has no Kg, its keys come from the
    // password: close the session with them rather than leave it to time out.
    let plain_sik = inputs.sik(suite.auth, kuid, None);
    if kg_given && ct_eq(&inputs.rakp4_icv(suite.auth, &plain_sik), &rakp4.icv) {
        let keys = SessionKeys::derive(suite, &plain_sik);
        let (bmc_session_id, console_session_id) =
            (inputs.bmc_session_id, inputs.console_session_id);
        let req = IpmiRequest::new(
            netfn::APP,
            cmd::CLOSE_SESSION,
            bmc_session_id.to_le_bytes().to_vec(),
            1,
        );
        let message = req.encode();
        let closed = transport
            .exchange(
                "Close Session",
                |n| v20_datagram(suite, &keys, bmc_session_id, 1 + n as u32, &message),
                |d| accept_v20(d, suite, &keys, console_session_id, &req),
            )
            .await;
        tracing::debug!(
            closed = closed.is_ok(),
            "closed the session opened without Kg"
        );
        return Err(Error::login_refused(format!(
            "{address}: RAKP message 4 does not match the BMC key: the BMC uses no Kg, \
             but hexadecimal_kg was given"
        )));
    }
    Err(Error::login_refused(format!(
        "{address}: RAKP message 4 does not match: wrong BMC key (hexadecimal_kg)"
    )))
}

/// A sessionless v1.5 request (authentication type none, session 0).
async fn sessionless_v15(
    transport: &Transport,
    what: &str,
    rq_seq: u8,
    command: u8,
    data: Vec<u8>,
) -> Result<IpmiResponse> {
    let req = IpmiRequest::new(netfn::APP, command, data, rq_seq);
    let packet = V15Packet {
        auth_type: 0,
        session_seq: 0,
        session_id: 0,
        auth_code: None,
        message: req.encode(),
    };
    transport
        .exchange(what, |_| packet.encode(), |d| accept_v15(d, None, 0, &req))
        .await
}

/// Opens an IPMI v1.5 session: [Get Channel Authentication Capabilities], Get Session
/// Challenge, Activate Session.
async fn open_v15(
    transport: &Transport,
    config: &IpmiConfig,
    auth: Option<V15AuthType>,
) -> Result<State> {
    let address = transport.address.as_str();
    let password = v15_password(config.password.expose().as_bytes())?;
    let auth = match auth {
        Some(a) => a,
        None => {
            let resp = sessionless_v15(
                transport,
                "Get Channel Authentication Capabilities",
                1,
                cmd::GET_CHANNEL_AUTH_CAPABILITIES,
                ChannelAuthCapabilities::request(config.privilege, false),
            )
            .await?;
            if resp.completion_code != cc::OK {
                return Err(completion_error(
                    address,
                    "Get Channel Authentication Capabilities",
                    resp.completion_code,
                ));
            }
            let caps = ChannelAuthCapabilities::decode(&resp.data)?;
            if caps.auth_types & V15AuthType::Md5.support_bit() != 0 {
                V15AuthType::Md5
            } else if caps.auth_types & V15AuthType::Password.support_bit() != 0 {
                V15AuthType::Password
            } else {
                return Err(Error::unsupported(format!(
                    "{address}: the BMC offers neither MD5 nor password authentication at this \
                     privilege level (auth=none is used only when asked for by name)"
                )));
            }
        }
    };

    let resp = sessionless_v15(
        transport,
        "Get Session Challenge",
        2,
        cmd::GET_SESSION_CHALLENGE,
        wire::session_challenge_request(auth.id(), config.username.as_bytes())?,
    )
    .await?;
    match resp.completion_code {
        cc::OK => {}
        0x81 | 0x82 => {
            return Err(Error::login_refused(format!(
                "{address}: Get Session Challenge refused: {} (cc {:#04x})",
                if resp.completion_code == 0x81 {
                    "invalid user name"
                } else {
                    "null user name not enabled"
                },
                resp.completion_code
            )));
        }
        code => return Err(completion_error(address, "Get Session Challenge", code)),
    }
    let challenge = SessionChallenge::decode(&resp.data)?;

    let initial_outbound_seq = random_nonzero_u32();
    let req = IpmiRequest::new(
        netfn::APP,
        cmd::ACTIVATE_SESSION,
        wire::activate_session_request(
            auth.id(),
            config.privilege,
            &challenge.challenge,
            initial_outbound_seq,
        ),
        3,
    );
    let message = req.encode();
    let sid = challenge.temp_session_id;
    let packet = V15Packet {
        auth_type: auth.id(),
        session_seq: 0,
        session_id: sid,
        auth_code: v15_auth_code(auth, &password, sid, 0, &message),
        message,
    };
    // The answer to Activate Session carries the new session ID, so it is matched by the
    // request's sequence number and verified below rather than by session ID.
    let resp = transport
        .exchange(
            "Activate Session",
            |_| packet.encode(),
            |d| {
                if wire::session_format(d)? != wire::SessionFormat::V15 {
                    return Ok(None);
                }
                let p = V15Packet::decode(d)?;
                let r = IpmiResponse::decode(&p.message)?;
                Ok(r.answers(&req).then_some((p, r)))
            },
        )
        .await
        .map_err(|e| {
            silence_is_refusal(
                e,
                "the BMC answered Get Session Challenge but not Activate Session, which proves \
                 the password: IPMI v1.5 BMCs (ipmi_sim, ipmitool -I lan sees the same) ignore a \
                 wrong password silently",
            )
        })?;
    let (packet, resp) = resp;
    match resp.completion_code {
        cc::OK => {}
        code @ (0x81..=0x83) => {
            return Err(Error::unreachable(format!(
                "{address}: Activate Session refused: no session slot available (cc {code:#04x})"
            )));
        }
        code @ (0x84..=0x86) => {
            return Err(Error::login_refused(format!(
                "{address}: Activate Session refused (cc {code:#04x}): wrong password or privilege level not allowed"
            )));
        }
        code => return Err(completion_error(address, "Activate Session", code)),
    }
    let activated = ActivatedSession::decode(&resp.data)?;
    if auth != V15AuthType::None {
        let expected = v15_auth_code(
            auth,
            &password,
            packet.session_id,
            packet.session_seq,
            &packet.message,
        );
        let verified =
            matches!((expected, packet.auth_code), (Some(e), Some(got)) if ct_eq(&e, &got));
        if !verified {
            return Err(Error::misbehaved(format!(
                "{address}: the answer to Activate Session has a wrong authentication code"
            )));
        }
    }
    if activated.auth_type != auth.id() {
        return Err(Error::misbehaved(format!(
            "{address}: Activate Session switched authentication type {} to {}",
            auth.id(),
            activated.auth_type
        )));
    }
    Ok(State::V15 {
        auth,
        password,
        session_id: activated.session_id,
        next_seq: activated.initial_inbound_seq.max(1),
    })
}
