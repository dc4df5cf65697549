//! IPMI v1.5 sessions: the session header (none, MD5 or straight-password authentication)
//! and the session set-up commands (Get Session Challenge, Activate Session).

use crate::message::Privilege;
use crate::message::USERNAME_MAX_LEN;
use crate::rmcp::RMCP_HEADER;
use crate::rmcp::SessionFormat;
use crate::rmcp::session_format;
use fence_core::{Error, Result};

use crate::reader::{Reader, malformed};

/// An IPMI v1.5 packet: session header and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V15Packet {
    /// Authentication type (0 none, 2 MD5, 4 password).
    pub auth_type: u8,
    /// Session sequence number (0 outside a session).
    pub session_seq: u32,
    /// Session ID (0 outside a session).
    pub session_id: u32,
    /// The 16-byte authentication code; present exactly when `auth_type` is not 0.
    pub auth_code: Option<[u8; 16]>,
    /// The IPMI message.
    pub message: Vec<u8>,
}

impl V15Packet {
    /// The datagram bytes, RMCP header included.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let len = u8::try_from(self.message.len())
            .map_err(|_| malformed("v1.5 message longer than 255 bytes"))?;
        if (self.auth_type == 0) != self.auth_code.is_none() {
            return Err(malformed(
                "v1.5 auth code must be present exactly when auth type is not none",
            ));
        }
        let mut d = Vec::with_capacity(30 + self.message.len());
        d.extend_from_slice(&RMCP_HEADER);
        d.push(self.auth_type);
        d.extend_from_slice(&self.session_seq.to_le_bytes());
        d.extend_from_slice(&self.session_id.to_le_bytes());
        if let Some(code) = &self.auth_code {
            d.extend_from_slice(code);
        }
        d.push(len);
        d.extend_from_slice(&self.message);
        Ok(d)
    }

    /// Parses a v1.5 datagram. One trailing pad byte (legacy NIC workaround) is accepted.
    pub fn decode(datagram: &[u8]) -> Result<Self> {
        if session_format(datagram)? != SessionFormat::V15 {
            return Err(malformed("expected an IPMI v1.5 session header"));
        }
        let mut r = Reader::new(&datagram[4..], "v1.5 session header");
        let auth_type = r.u8()?;
        let session_seq = r.u32()?;
        let session_id = r.u32()?;
        let auth_code = if auth_type == 0 {
            None
        } else {
            Some(r.array::<16>()?)
        };
        let len = usize::from(r.u8()?);
        let message = r.bytes(len)?.to_vec();
        if r.remaining() > 1 {
            return Err(malformed(format_args!(
                "v1.5 packet: {} bytes after the message",
                r.remaining()
            )));
        }
        Ok(V15Packet {
            auth_type,
            session_seq,
            session_id,
            auth_code,
            message,
        })
    }
}

/// Get Session Challenge request data (v1.5): authentication type and user name.
pub fn session_challenge_request(auth_type: u8, username: &[u8]) -> Result<Vec<u8>> {
    if username.len() > USERNAME_MAX_LEN {
        return Err(Error::invalid_input("IPMI user names are at most 16 bytes"));
    }
    let mut d = vec![auth_type];
    d.extend_from_slice(username);
    d.resize(1 + USERNAME_MAX_LEN, 0);
    Ok(d)
}

/// Get Session Challenge response (v1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionChallenge {
    /// The temporary session ID for Activate Session.
    pub temp_session_id: u32,
    /// The challenge string.
    pub challenge: [u8; 16],
}

impl SessionChallenge {
    /// The response data.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = self.temp_session_id.to_le_bytes().to_vec();
        d.extend_from_slice(&self.challenge);
        d
    }

    /// Parses the response data.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, "Get Session Challenge");
        let s = SessionChallenge {
            temp_session_id: r.u32()?,
            challenge: r.array()?,
        };
        r.end()?;
        Ok(s)
    }
}

/// Activate Session request data (v1.5).
pub fn activate_session_request(
    auth_type: u8,
    max_privilege: Privilege,
    challenge: &[u8; 16],
    initial_outbound_seq: u32,
) -> Vec<u8> {
    let mut d = vec![auth_type, max_privilege.id()];
    d.extend_from_slice(challenge);
    d.extend_from_slice(&initial_outbound_seq.to_le_bytes());
    d
}

/// Activate Session response (v1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivatedSession {
    /// The authentication type for the rest of the session.
    pub auth_type: u8,
    /// The session ID.
    pub session_id: u32,
    /// The sequence number the BMC expects in the console's next packet.
    pub initial_inbound_seq: u32,
    /// The maximum privilege allowed in this session.
    pub max_privilege: u8,
}

impl ActivatedSession {
    /// The response data.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = vec![self.auth_type];
        d.extend_from_slice(&self.session_id.to_le_bytes());
        d.extend_from_slice(&self.initial_inbound_seq.to_le_bytes());
        d.push(self.max_privilege);
        d
    }

    /// Parses the response data.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, "Activate Session");
        let s = ActivatedSession {
            auth_type: r.u8()? & 0x0F,
            session_id: r.u32()?,
            initial_inbound_seq: r.u32()?,
            max_privilege: r.u8()? & 0x0F,
        };
        r.end()?;
        Ok(s)
    }
}
