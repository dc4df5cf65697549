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
//! schedule is [`RetryPolicy::schedule`] (0, 0.3, 0.9, 1.5, ... 4.5 s by default, 9
//! transmissions: waits from 0.3 s doubling up to 0.6 s or `ipmitool_timeout`, so that
//! an exchange survives 30 % loss each way 99.8 % of the time); afterwards it is
//! [`RetryPolicy::schedule_after_answer`], a fixed timeout of 4 round trips (at least
//! 0.2 s, at most `ipmitool_timeout`), so that a lossy network costs a fraction of a
//! second per lost datagram instead of seconds.
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
use std::sync::Arc;

use fence_core::{Answer, Error, Result};

use crate::config::{Interface, IpmiConfig, RetryPolicy};
use crate::handshake::{open_v15, open_v20};
pub(crate) use crate::transport::Counters;
pub use crate::transport::Stats;
use crate::transport::{Transport, Verdict};
use fence_ipmi_proto::commands::{self, cc, cmd, netfn};
use fence_ipmi_proto::crypto::{CipherSuite, SessionKeys, V15AuthType, ct_eq, v15_auth_code};
use fence_ipmi_proto::message::{IpmiRequest, IpmiResponse, Privilege};
use fence_ipmi_proto::rmcp;
use fence_ipmi_proto::v15::V15Packet;
use fence_ipmi_proto::v20::{self, PayloadType, V20Header};

/// The longest wait for the answer to Close Session.
const CLOSE_BOUND: std::time::Duration = std::time::Duration::from_millis(1500);

/// The per-version state of an established session.
pub(crate) enum State {
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

impl Session {
    /// Opens a session as `config` says (see the module documentation for the exchanges).
    pub async fn open(config: &IpmiConfig) -> Result<Session> {
        Session::open_counted(config, Arc::new(Counters::default())).await
    }

    pub(crate) async fn open_counted(
        config: &IpmiConfig,
        counters: Arc<Counters>,
    ) -> Result<Session> {
        let mut transport = Transport::connect(config, counters.clone()).await?;
        let state = match Session::establish(&transport, config).await {
            Ok(state) => state,
            Err(e) if transport.saw_invalid() => {
                // Some BMCs (pyghmi's) key sessions by the client's address and port and never
                // drop them: when this socket got a port an earlier client used, they answer
                // our setup from the old session. A new socket has a new port.
                tracing::info!(address = %transport.address, error = %e,
                    "session setup answered by a stale session; retrying from a new source port");
                transport = Transport::connect(config, counters).await?;
                Session::establish(&transport, config).await?
            }
            Err(e) => return Err(e),
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

    async fn establish(transport: &Transport, config: &IpmiConfig) -> Result<State> {
        match config.interface {
            Interface::LanPlus { cipher } => open_v20(transport, config, cipher).await,
            Interface::Lan { auth } => open_v15(transport, config, auth).await,
        }
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
        let what = commands::command_name(net_fn, command).map_or_else(
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
        commands::chassis_power_is_on(&data).map_err(|e| {
            Error::misbehaved(format!(
                "{}: Get Chassis Status: {e}",
                self.transport.address
            ))
        })
    }

    /// Chassis Control with one of [`commands::chassis_control`]'s values.
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
pub(crate) fn v20_datagram(
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
    v20::encode_v20(&header, message, Some(keys), rand::random())
}

/// Maps the completion code of the command `request` (its name, and what it was for) to an
/// error; `what` names it in the message.
pub(crate) fn completion_error(address: &str, request: &str, what: &str, code: u8) -> Error {
    let detail = format!("{address}: {what}: {} (cc {code:#04x})", cc::describe(code));
    match code {
        cc::INSUFFICIENT_PRIVILEGE => Error::login_refused(format!(
            "{detail}; the command needs a higher privlvl or an account with more rights"
        )),
        cc::INVALID_COMMAND => Error::unsupported(detail),
        _ => Error::misbehaved(detail),
    }
    .in_request(request)
    .answered(Answer::Ipmi { code })
}

/// Accepts the RMCP+ response to `req` inside the session.
pub(crate) fn accept_v20(
    datagram: &[u8],
    suite: CipherSuite,
    keys: &SessionKeys,
    console_session_id: u32,
    req: &IpmiRequest,
) -> Verdict<IpmiResponse> {
    if rmcp::session_format(datagram)? != rmcp::SessionFormat::V20 {
        return Ok(None);
    }
    let (header, payload) = v20::decode_v20(datagram, Some(keys))?;
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
pub(crate) fn accept_v15(
    datagram: &[u8],
    auth: Option<(V15AuthType, &[u8; 16])>,
    session_id: u32,
    req: &IpmiRequest,
) -> Verdict<IpmiResponse> {
    if rmcp::session_format(datagram)? != rmcp::SessionFormat::V15 {
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
