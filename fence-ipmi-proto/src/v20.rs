//! IPMI v2.0 (RMCP+) session packets: payload types, the session header, integrity and
//! confidentiality (encode and decode with the session keys).

use crate::crypto::AES_BLOCK;
use crate::crypto::SessionKeys;
use crate::crypto::ct_eq;
use crate::rmcp::AUTH_TYPE_RMCP_PLUS;
use crate::rmcp::RMCP_HEADER;
use crate::rmcp::SessionFormat;
use crate::rmcp::session_format;
use fence_core::{Error, Result};

use crate::reader::{Reader, malformed};

/// RMCP+ payload types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// An IPMI message (0x00).
    Ipmi,
    /// RMCP+ Open Session Request (0x10).
    OpenSessionRequest,
    /// RMCP+ Open Session Response (0x11).
    OpenSessionResponse,
    /// RAKP Message 1 (0x12).
    Rakp1,
    /// RAKP Message 2 (0x13).
    Rakp2,
    /// RAKP Message 3 (0x14).
    Rakp3,
    /// RAKP Message 4 (0x15).
    Rakp4,
}

impl PayloadType {
    /// The 6-bit number used on the wire.
    pub const fn id(self) -> u8 {
        match self {
            PayloadType::Ipmi => 0x00,
            PayloadType::OpenSessionRequest => 0x10,
            PayloadType::OpenSessionResponse => 0x11,
            PayloadType::Rakp1 => 0x12,
            PayloadType::Rakp2 => 0x13,
            PayloadType::Rakp3 => 0x14,
            PayloadType::Rakp4 => 0x15,
        }
    }

    /// The type with this number, if it is one of the above.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0x00 => Some(PayloadType::Ipmi),
            0x10 => Some(PayloadType::OpenSessionRequest),
            0x11 => Some(PayloadType::OpenSessionResponse),
            0x12 => Some(PayloadType::Rakp1),
            0x13 => Some(PayloadType::Rakp2),
            0x14 => Some(PayloadType::Rakp3),
            0x15 => Some(PayloadType::Rakp4),
            _ => None,
        }
    }
}

/// The RMCP+ session header of a packet (without the payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V20Header {
    /// The payload type.
    pub payload_type: PayloadType,
    /// The payload is encrypted (bit 7 of the payload-type byte).
    pub encrypted: bool,
    /// The packet carries an integrity trailer (bit 6).
    pub authenticated: bool,
    /// The receiver's session ID (0 during session setup).
    pub session_id: u32,
    /// The session sequence number (0 during session setup).
    pub session_seq: u32,
}

impl V20Header {
    /// An unprotected header outside a session (Open Session, RAKP).
    pub const fn setup(payload_type: PayloadType) -> Self {
        V20Header {
            payload_type,
            encrypted: false,
            authenticated: false,
            session_id: 0,
            session_seq: 0,
        }
    }
}

/// Builds an RMCP+ datagram: encrypts the payload when the header says so, and appends
/// the integrity trailer when it says authenticated. `keys` is needed for either; `iv` is
/// the random AES IV for an encrypted payload.
pub fn encode_v20(
    header: &V20Header,
    payload: &[u8],
    keys: Option<&SessionKeys>,
    iv: [u8; AES_BLOCK],
) -> Result<Vec<u8>> {
    let needs_keys = header.encrypted || header.authenticated;
    let keys = match (needs_keys, keys) {
        (true, None) => return Err(malformed("protected RMCP+ packet without session keys")),
        (_, k) => k,
    };
    let body = match (header.encrypted, keys) {
        (true, Some(k)) => k.encrypt(payload, iv)?,
        _ => payload.to_vec(),
    };
    let len = u16::try_from(body.len()).map_err(|_| malformed("RMCP+ payload too long"))?;
    let mut d = Vec::with_capacity(4 + 12 + body.len() + 24);
    d.extend_from_slice(&RMCP_HEADER);
    d.push(AUTH_TYPE_RMCP_PLUS);
    let mut ptype = header.payload_type.id();
    if header.encrypted {
        ptype |= 0x80;
    }
    if header.authenticated {
        ptype |= 0x40;
    }
    d.push(ptype);
    d.extend_from_slice(&header.session_id.to_le_bytes());
    d.extend_from_slice(&header.session_seq.to_le_bytes());
    d.extend_from_slice(&len.to_le_bytes());
    d.extend_from_slice(&body);
    if let (true, Some(k)) = (header.authenticated, keys) {
        // Pad so that the bytes from the auth type through the next-header byte are a
        // multiple of 4.
        let covered = d.len() - RMCP_HEADER.len();
        let pad = (4 - (covered + 2) % 4) % 4;
        d.extend(std::iter::repeat_n(0xFF, pad));
        // pad < 4: exact.
        d.push(pad as u8);
        d.push(RMCP_HEADER[3]);
        let code = k.integrity_code(&d[RMCP_HEADER.len()..]);
        d.extend_from_slice(&code);
    }
    Ok(d)
}

/// Parses an RMCP+ datagram: checks the integrity trailer and decrypts the payload when
/// the header says so (both need `keys`), and returns the header and the plain payload.
///
/// The caller decides whether an unprotected packet is acceptable at this point of the
/// session (inside a session with integrity, it is not).
pub fn decode_v20(datagram: &[u8], keys: Option<&SessionKeys>) -> Result<(V20Header, Vec<u8>)> {
    if session_format(datagram)? != SessionFormat::V20 {
        return Err(malformed("expected an RMCP+ session header"));
    }
    let covered = &datagram[4..];
    let mut r = Reader::new(covered, "RMCP+ session header");
    r.u8()?;
    let ptype = r.u8()?;
    let payload_type = PayloadType::from_id(ptype & 0x3F).ok_or_else(|| {
        malformed(format_args!(
            "unsupported RMCP+ payload type {:#04x}",
            ptype & 0x3F
        ))
    })?;
    let header = V20Header {
        payload_type,
        encrypted: ptype & 0x80 != 0,
        authenticated: ptype & 0x40 != 0,
        session_id: r.u32()?,
        session_seq: r.u32()?,
    };
    let len = usize::from(r.u16()?);
    let body = r.bytes(len)?;
    if header.authenticated {
        let k = keys.ok_or_else(|| malformed("authenticated RMCP+ packet outside a session"))?;
        let code_len = k.suite().integrity.code_len();
        let trailer = r.rest();
        if code_len == 0 || trailer.len() < code_len + 2 {
            return Err(malformed("RMCP+ integrity trailer too short"));
        }
        let (signed_tail, code) = trailer.split_at(trailer.len() - code_len);
        let pad_len = usize::from(signed_tail[signed_tail.len() - 2]);
        let next_header = signed_tail[signed_tail.len() - 1];
        if pad_len > 3 || signed_tail.len() != pad_len + 2 || next_header != RMCP_HEADER[3] {
            return Err(malformed("inconsistent RMCP+ integrity pad"));
        }
        let signed = &covered[..covered.len() - code_len];
        if signed.len() % 4 != 0 {
            return Err(malformed("RMCP+ integrity pad does not align the packet"));
        }
        if !ct_eq(&k.integrity_code(signed), code) {
            return Err(Error::misbehaved(
                "RMCP+ packet failed its integrity check (wrong session keys or tampered)",
            ));
        }
    } else {
        r.end()?;
    }
    let payload = if header.encrypted {
        let k = keys.ok_or_else(|| malformed("encrypted RMCP+ packet outside a session"))?;
        k.decrypt(body)?
    } else {
        body.to_vec()
    };
    Ok((header, payload))
}
