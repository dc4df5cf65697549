//! IPMI v1.5 sessions (fence_ipmilan's default `lan`), modelled on OpenIPMI's lanserv
//! (lanserv/lanserv_ipmi.c: `handle_get_session_challenge`, `handle_temp_session`,
//! `return_rsp`) and the IPMI v2.0 specification, sections 22.15 to 22.17:
//!
//! - **Get Session Challenge** (outside a session): a known user name and MD5 or straight
//!   password get a temporary session ID and a random challenge; an unknown name gets
//!   completion code 0x81 (0x82 for the null name), another authentication type 0xCC.
//! - **Activate Session**, sent under the temporary ID with the authentication code of the
//!   type asked for: a wrong code (a wrong password) gets no answer at all, as from
//!   lanserv; a wrong challenge no answer either; an initial outbound sequence number of 0
//!   gets 0x85. The answer goes under the temporary ID with the console's initial outbound
//!   number as its sequence, authenticated; it names the session ID and the sequence
//!   number the BMC expects first (random, even, as lanserv makes it).
//! - **Inside the session** every packet carries the session's authentication type and a
//!   valid code, else it is ignored; its sequence number must be within 16 ahead of the
//!   expected one (lost packets), and a retransmission of the last one (the same datagram)
//!   gets the same answer again, another message under its number none. A challenge
//!   expires after 30 s. Answers count up from the console's initial outbound number
//!   (which the Activate Session answer carries, so the session's first answer has the
//!   next one: FreeIPMI refuses a repeated number as a replay).
//!   Commands are the v2.0 session's: privilege starts at User.
//!
//! Get Channel Authentication Capabilities offers MD5 and straight password (not none).

use std::net::SocketAddr;
use std::time::Instant;

use fence_ipmi_proto::commands::{cc, cmd, netfn};
use fence_ipmi_proto::crypto::{CipherSuite, V15AuthType, ct_eq, v15_auth_code, v15_password};
use fence_ipmi_proto::message::{IpmiRequest, IpmiResponse};
use fence_ipmi_proto::v15::{ActivatedSession, SessionChallenge, V15Packet};

use super::{Bmc, CLOSED_LINGER, MAX_SESSIONS, SESSION_IDLE, Session, Stage};

/// The authentication types offered, as Get Channel Authentication Capabilities' mask.
pub(super) const OFFERED: u8 = (1 << 2) | (1 << 4);
/// Challenges kept at once (the oldest is forgotten first).
const MAX_CHALLENGES: usize = 64;
/// How far ahead of the expected one an inbound sequence number may be.
const SEQ_WINDOW: u32 = 16;
/// How long a challenge may wait for its Activate Session.
const CHALLENGE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30);

/// A challenge handed out, waiting for its Activate Session.
pub(super) struct Challenge {
    temp_id: u32,
    challenge: [u8; 16],
    issued: Instant,
    /// The Activate Session answered under it, and the answer: a retransmission whose
    /// answer was lost gets it again.
    answered: Option<(Vec<u8>, Vec<u8>)>,
}

/// What a v1.5 session keeps besides the common session fields.
pub(super) struct V15State {
    auth: V15AuthType,
    /// The sequence number expected next from the console.
    expected_seq: u32,
    /// The last packet (its sequence number and whole datagram) and its answer.
    last: Option<(u32, Vec<u8>, Vec<u8>)>,
}

impl Bmc {
    /// Answers a v1.5 datagram: outside a session, Activate Session, or inside one.
    pub(super) fn handle_v15(&mut self, datagram: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let packet = V15Packet::decode(datagram).ok()?;
        if packet.session_id == 0 {
            if packet.auth_type != 0 || packet.session_seq != 0 {
                return None;
            }
            let request = IpmiRequest::decode(&packet.message).ok()?;
            let response =
                if (request.net_fn, request.cmd) == (netfn::APP, cmd::GET_SESSION_CHALLENGE) {
                    self.session_challenge(&request)
                } else {
                    self.command(&request, None)
                };
            return sessionless(&response);
        }
        if self
            .challenges
            .iter()
            .any(|c| c.temp_id == packet.session_id)
        {
            return self.activate(&packet, datagram, peer);
        }
        self.in_session(&packet, datagram)
    }

    fn password16(&self) -> Option<[u8; 16]> {
        v15_password(&self.password).ok()
    }

    fn session_challenge(&mut self, req: &IpmiRequest) -> IpmiResponse {
        let refuse = |code: u8| IpmiResponse::to(req, code, Vec::new());
        if self.lanplus_only {
            self.event(|| "Get Session Challenge: IPMI v1.5 is switched off (lanplus only)".into());
            return refuse(cc::INVALID_DATA_FIELD);
        }
        let Some((&auth, name)) = req.data.split_first() else {
            return refuse(0xC7);
        };
        if name.len() != 16 {
            return refuse(0xC7);
        }
        let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
        if name != self.username.as_slice() {
            self.event(|| "Get Session Challenge: unknown user".into());
            return refuse(if name.is_empty() { 0x82 } else { 0x81 });
        }
        if !matches!(
            V15AuthType::from_id(auth & 0x0F),
            Some(V15AuthType::Md5 | V15AuthType::Password)
        ) {
            self.event(|| format!("Get Session Challenge: authentication type {auth} refused"));
            return refuse(cc::INVALID_DATA_FIELD);
        }
        let mut temp_id: u32 = rand::random();
        while temp_id == 0
            || self.sessions.contains_key(&temp_id)
            || self.challenges.iter().any(|c| c.temp_id == temp_id)
        {
            temp_id = rand::random();
        }
        if self.challenges.len() >= MAX_CHALLENGES {
            self.challenges.remove(0);
        }
        let challenge: [u8; 16] = rand::random();
        self.challenges.push(Challenge {
            temp_id,
            challenge,
            issued: Instant::now(),
            answered: None,
        });
        self.event(|| "Get Session Challenge".into());
        IpmiResponse::to(
            req,
            cc::OK,
            SessionChallenge {
                temp_session_id: temp_id,
                challenge,
            }
            .encode(),
        )
    }

    /// Activate Session under a temporary session ID.
    fn activate(
        &mut self,
        packet: &V15Packet,
        datagram: &[u8],
        peer: SocketAddr,
    ) -> Option<Vec<u8>> {
        let at = self
            .challenges
            .iter()
            .position(|c| c.temp_id == packet.session_id)?;
        if let Some((request, reply)) = &self.challenges[at].answered {
            return (request.as_slice() == datagram).then(|| reply.clone());
        }
        if self.challenges[at].issued.elapsed() > CHALLENGE_LIFETIME {
            self.event(|| "Activate Session: challenge expired (no answer)".into());
            return None;
        }
        let password = self.password16()?;
        let message_auth = V15AuthType::from_id(packet.auth_type)?;
        if message_auth == V15AuthType::None {
            return None;
        }
        let expected = v15_auth_code(
            message_auth,
            &password,
            packet.session_id,
            packet.session_seq,
            &packet.message,
        )?;
        if !packet.auth_code.is_some_and(|got| ct_eq(&expected, &got)) {
            self.event(|| "Activate Session: wrong authentication code (no answer)".into());
            return None;
        }
        let req = IpmiRequest::decode(&packet.message).ok()?;
        if (req.net_fn, req.cmd) != (netfn::APP, cmd::ACTIVATE_SESSION) || req.data.len() < 22 {
            return None;
        }
        if req.data[2..18] != self.challenges[at].challenge {
            self.event(|| "Activate Session: wrong challenge (no answer)".into());
            return None;
        }
        let session_auth = V15AuthType::from_id(req.data[0] & 0x0F)?;
        let max_privilege = match req.data[1] & 0x0F {
            0 => 4,
            p => p.min(4),
        };
        let initial_outbound = u32::from_le_bytes(req.data[18..22].try_into().ok()?);
        let answer = |code: u8, data: Vec<u8>| {
            let response = IpmiResponse::to(&req, code, data).encode();
            V15Packet {
                auth_type: packet.auth_type,
                session_seq: initial_outbound,
                session_id: packet.session_id,
                auth_code: v15_auth_code(
                    message_auth,
                    &password,
                    packet.session_id,
                    initial_outbound,
                    &response,
                ),
                message: response,
            }
            .encode()
            .ok()
        };
        if initial_outbound == 0 {
            return answer(0x85, Vec::new());
        }
        if session_auth == V15AuthType::None {
            // Every packet of a session is authenticated here (per-message authentication
            // cannot be turned off, as on lanserv).
            return answer(cc::INVALID_DATA_FIELD, Vec::new());
        }

        let now = Instant::now();
        self.sessions.retain(|_, s| match s.closed_at {
            Some(at) => now.duration_since(at) < CLOSED_LINGER,
            None => now.duration_since(s.last_used) < SESSION_IDLE,
        });
        let open = self
            .sessions
            .values()
            .filter(|s| s.closed_at.is_none())
            .count();
        if open >= MAX_SESSIONS {
            return answer(0x81, Vec::new());
        }
        let mut id: u32 = rand::random();
        while id == 0 || self.sessions.contains_key(&id) {
            id = rand::random();
        }
        let expected_seq = (rand::random::<u32>() & !1).max(2);
        self.sessions.insert(
            id,
            Session {
                console_id: id,
                peer,
                suite: CipherSuite::SUITE_3,
                max_privilege,
                privilege: 2,
                stage: Stage::V15(V15State {
                    auth: session_auth,
                    expected_seq,
                    last: None,
                }),
                // The Activate Session answer carried the initial outbound number: the
                // session's own answers follow it (FreeIPMI takes a repeat for a replay).
                out_seq: initial_outbound.wrapping_add(1).max(1),
                last_used: now,
                closed_at: None,
                answered: Vec::new(),
            },
        );
        self.counters
            .sessions_opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.event(|| {
            format!(
                "Activate Session (IPMI v1.5, authentication type {})",
                session_auth.id()
            )
        });
        let reply = answer(
            cc::OK,
            ActivatedSession {
                auth_type: session_auth.id(),
                session_id: id,
                initial_inbound_seq: expected_seq,
                max_privilege,
            }
            .encode(),
        )?;
        self.challenges[at].answered = Some((datagram.to_vec(), reply.clone()));
        self.challenges
            .retain(|c| now.duration_since(c.issued) < SESSION_IDLE);
        Some(reply)
    }

    /// A packet of an established v1.5 session.
    fn in_session(&mut self, packet: &V15Packet, datagram: &[u8]) -> Option<Vec<u8>> {
        let id = packet.session_id;
        let password = self.password16()?;
        let session = self.sessions.get_mut(&id)?;
        let Stage::V15(state) = &mut session.stage else {
            return None;
        };
        let auth = state.auth;
        if packet.auth_type != auth.id() {
            return None;
        }
        if auth != V15AuthType::None {
            let expected = v15_auth_code(auth, &password, id, packet.session_seq, &packet.message)?;
            if !packet.auth_code.is_some_and(|got| ct_eq(&expected, &got)) {
                return None;
            }
        }
        if let Some((seq, request, reply)) = &state.last {
            if *seq == packet.session_seq {
                // A retransmission (the very same datagram) gets the same answer; another
                // message under a number already used is a replay, and is ignored.
                return (request.as_slice() == datagram).then(|| reply.clone());
            }
        }
        if packet.session_seq.wrapping_sub(state.expected_seq) >= SEQ_WINDOW {
            return None;
        }
        state.expected_seq = packet.session_seq.wrapping_add(1).max(1);
        let request = IpmiRequest::decode(&packet.message).ok()?;
        let is_close = (request.net_fn, request.cmd) == (netfn::APP, cmd::CLOSE_SESSION);
        if session.closed_at.is_some() && !is_close {
            return None;
        }
        let response = self.command(&request, Some(id));
        let session = self.sessions.get_mut(&id)?;
        session.last_used = Instant::now();
        let out_seq = session.out_seq;
        session.out_seq = session.out_seq.wrapping_add(1).max(1);
        if is_close && response.completion_code == cc::OK && session.closed_at.is_none() {
            session.closed_at = Some(Instant::now());
            self.counters
                .sessions_closed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let message = response.encode();
        let reply = V15Packet {
            auth_type: auth.id(),
            session_seq: out_seq,
            session_id: id,
            auth_code: v15_auth_code(auth, &password, id, out_seq, &message),
            message,
        }
        .encode()
        .ok()?;
        if let Some(Session {
            stage: Stage::V15(state),
            ..
        }) = self.sessions.get_mut(&id)
        {
            state.last = Some((packet.session_seq, datagram.to_vec(), reply.clone()));
        }
        Some(reply)
    }
}

/// An answer outside a session.
fn sessionless(response: &IpmiResponse) -> Option<Vec<u8>> {
    V15Packet {
        auth_type: 0,
        session_seq: 0,
        session_id: 0,
        auth_code: None,
        message: response.encode(),
    }
    .encode()
    .ok()
}
