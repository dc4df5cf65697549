//! The wire format of IPMI over LAN: RMCP, the IPMI v1.5 and v2.0 (RMCP+) session
//! headers, IPMI messages, the RMCP+ session-setup payloads, and the data of the few
//! commands fencing needs.
//!
//! Every type encodes **and** decodes, in both directions (console → BMC and BMC →
//! console), so the same code serves a client and a simulated BMC. Decoding never panics:
//! short, long or inconsistent input gives [`Error::Misbehaved`] with what was wrong.
//!
//! Layout of a datagram:
//!
//! ```text
//! RMCP header   06 00 FF 07
//! v1.5 session  auth_type(1) seq(4) id(4) [auth_code(16)] len(1) message
//! v2.0 session  06 payload_type(1) id(4) seq(4) len(2) payload
//!               [pad(0-3, FF) pad_len(1) next_header(07) auth_code]   (authenticated)
//! message       rsAddr netFn/LUN chk1 rqAddr rqSeq/LUN cmd data... chk2      (request)
//!               rqAddr netFn/LUN chk1 rsAddr rqSeq/LUN cmd cc data... chk2   (response)
//! ```
//!
//! Integers are little-endian; session IDs and sequence numbers are `u32`.

use fence_core::{Error, Result};

use crate::crypto::{AES_BLOCK, GUID_LEN, RANDOM_LEN, SessionKeys, ct_eq};

/// The RMCP header of every IPMI datagram: version 6, reserved, sequence 0xFF (no RMCP
/// acknowledgement), class IPMI.
pub const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xFF, 0x07];
/// The authentication-type byte that marks an RMCP+ (IPMI v2.0) session header.
pub const AUTH_TYPE_RMCP_PLUS: u8 = 0x06;
/// The BMC's responder address.
pub const BMC_ADDR: u8 = 0x20;
/// The remote console's software ID, used as requester address.
pub const CONSOLE_ADDR: u8 = 0x81;
/// The longest IPMI user name.
pub const USERNAME_MAX_LEN: usize = 16;

/// Network function codes (requests; a response uses the code + 1).
pub mod netfn {
    /// Chassis commands.
    pub const CHASSIS: u8 = 0x00;
    /// Application commands (sessions, channels).
    pub const APP: u8 = 0x06;
}

/// Command codes used by fencing.
pub mod cmd {
    /// Chassis: Get Chassis Status.
    pub const GET_CHASSIS_STATUS: u8 = 0x01;
    /// Chassis: Chassis Control.
    pub const CHASSIS_CONTROL: u8 = 0x02;
    /// App: Get Channel Authentication Capabilities.
    pub const GET_CHANNEL_AUTH_CAPABILITIES: u8 = 0x38;
    /// App: Get Session Challenge (v1.5).
    pub const GET_SESSION_CHALLENGE: u8 = 0x39;
    /// App: Activate Session (v1.5).
    pub const ACTIVATE_SESSION: u8 = 0x3A;
    /// App: Set Session Privilege Level.
    pub const SET_SESSION_PRIVILEGE_LEVEL: u8 = 0x3B;
    /// App: Close Session.
    pub const CLOSE_SESSION: u8 = 0x3C;
}

/// The name of a command this module knows, for messages and logs.
pub fn command_name(net_fn: u8, command: u8) -> Option<&'static str> {
    match (net_fn & !1, command) {
        (netfn::CHASSIS, cmd::GET_CHASSIS_STATUS) => Some("Get Chassis Status"),
        (netfn::CHASSIS, cmd::CHASSIS_CONTROL) => Some("Chassis Control"),
        (netfn::APP, cmd::GET_CHANNEL_AUTH_CAPABILITIES) => {
            Some("Get Channel Authentication Capabilities")
        }
        (netfn::APP, cmd::GET_SESSION_CHALLENGE) => Some("Get Session Challenge"),
        (netfn::APP, cmd::ACTIVATE_SESSION) => Some("Activate Session"),
        (netfn::APP, cmd::SET_SESSION_PRIVILEGE_LEVEL) => Some("Set Session Privilege Level"),
        (netfn::APP, cmd::CLOSE_SESSION) => Some("Close Session"),
        _ => None,
    }
}

/// Completion codes with a meaning for fencing.
pub mod cc {
    /// Command completed normally.
    pub const OK: u8 = 0x00;
    /// Invalid command (not supported by this BMC).
    pub const INVALID_COMMAND: u8 = 0xC1;
    /// Invalid data field in request.
    pub const INVALID_DATA_FIELD: u8 = 0xCC;
    /// Insufficient privilege level.
    pub const INSUFFICIENT_PRIVILEGE: u8 = 0xD4;
    /// Command not supported in present state.
    pub const NOT_SUPPORTED_IN_PRESENT_STATE: u8 = 0xD5;

    /// A short description of a completion code, for error messages.
    pub fn describe(code: u8) -> &'static str {
        match code {
            OK => "ok",
            0x80..=0xBE => "command-specific error",
            0xC0 => "node busy",
            INVALID_COMMAND => "invalid command",
            0xC3 => "timeout while processing command",
            0xC7 => "request data length invalid",
            0xC9 => "parameter out of range",
            INVALID_DATA_FIELD => "invalid data field in request",
            0xCE => "command response could not be provided",
            INSUFFICIENT_PRIVILEGE => "insufficient privilege level",
            NOT_SUPPORTED_IN_PRESENT_STATE => "command not supported in present state",
            0xFF => "unspecified error",
            _ => "error",
        }
    }
}

/// Chassis Control command values.
pub mod chassis_control {
    /// Power down (hard off).
    pub const POWER_DOWN: u8 = 0x00;
    /// Power up.
    pub const POWER_UP: u8 = 0x01;
    /// Power cycle.
    pub const POWER_CYCLE: u8 = 0x02;
    /// Hard reset.
    pub const HARD_RESET: u8 = 0x03;
    /// Pulse a diagnostic interrupt (NMI).
    pub const DIAGNOSTIC_INTERRUPT: u8 = 0x04;
    /// Soft shutdown through ACPI.
    pub const SOFT_SHUTDOWN: u8 = 0x05;
}

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::misbehaved(format!("malformed IPMI packet: {what}"))
}

/// A bounds-checked reader over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(malformed(format_args!(
                "{} truncated ({} bytes, needed {} more at offset {})",
                self.what,
                self.buf.len(),
                n,
                self.pos
            ))),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.array::<2>()?;
        Ok(u16::from_le_bytes(b))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.array::<4>()?;
        Ok(u32::from_le_bytes(b))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn end(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(malformed(format_args!(
                "{}: {} unexpected trailing bytes",
                self.what,
                self.remaining()
            )))
        }
    }
}

/// The IPMI two's-complement checksum: the byte that makes the sum of `bytes` and itself 0.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

/// An IPMI privilege level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    /// Callback (1).
    Callback,
    /// User (2): enough for Get Chassis Status.
    User,
    /// Operator (3): enough for Chassis Control.
    Operator,
    /// Administrator (4).
    Administrator,
}

impl Privilege {
    /// The number used on the wire.
    pub const fn id(self) -> u8 {
        match self {
            Privilege::Callback => 1,
            Privilege::User => 2,
            Privilege::Operator => 3,
            Privilege::Administrator => 4,
        }
    }

    /// The level with this number.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Privilege::Callback),
            2 => Some(Privilege::User),
            3 => Some(Privilege::Operator),
            4 => Some(Privilege::Administrator),
            _ => None,
        }
    }

    /// The name fence_ipmilan's `privlvl` uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Privilege::Callback => "callback",
            Privilege::User => "user",
            Privilege::Operator => "operator",
            Privilege::Administrator => "administrator",
        }
    }
}

/// An IPMI request message (LAN format, with both checksums).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpmiRequest {
    /// Responder address (the BMC, 0x20).
    pub rs_addr: u8,
    /// Network function (even: a request).
    pub net_fn: u8,
    /// Responder LUN (0-3).
    pub rs_lun: u8,
    /// Requester address (0x81).
    pub rq_addr: u8,
    /// Requester sequence number (0-63), echoed in the response.
    pub rq_seq: u8,
    /// Requester LUN (0-3).
    pub rq_lun: u8,
    /// Command code.
    pub cmd: u8,
    /// Request data.
    pub data: Vec<u8>,
}

impl IpmiRequest {
    /// A request from the remote console to the BMC, LUN 0.
    pub fn new(net_fn: u8, cmd: u8, data: Vec<u8>, rq_seq: u8) -> Self {
        IpmiRequest {
            rs_addr: BMC_ADDR,
            net_fn,
            rs_lun: 0,
            rq_addr: CONSOLE_ADDR,
            rq_seq: rq_seq & 0x3F,
            rq_lun: 0,
            cmd,
            data,
        }
    }

    /// The message bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(7 + self.data.len());
        m.push(self.rs_addr);
        m.push((self.net_fn << 2) | (self.rs_lun & 3));
        m.push(checksum(&m[..2]));
        m.push(self.rq_addr);
        m.push((self.rq_seq << 2) | (self.rq_lun & 3));
        m.push(self.cmd);
        m.extend_from_slice(&self.data);
        m.push(checksum(&m[3..]));
        m
    }

    /// Parses a request message, checking both checksums.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (head, body) = split_message(bytes, "IPMI request")?;
        if head[1] >> 2 & 1 != 0 {
            return Err(malformed("IPMI request with a response network function"));
        }
        Ok(IpmiRequest {
            rs_addr: head[0],
            net_fn: head[1] >> 2,
            rs_lun: head[1] & 3,
            rq_addr: body[0],
            rq_seq: body[1] >> 2,
            rq_lun: body[1] & 3,
            cmd: body[2],
            data: body[3..].to_vec(),
        })
    }
}

/// Checks the two checksums of a message and splits it into its first three bytes and
/// the bytes between the first checksum and the last (at least 3 long).
fn split_message<'a>(bytes: &'a [u8], what: &str) -> Result<(&'a [u8], &'a [u8])> {
    if bytes.len() < 7 {
        return Err(malformed(format_args!(
            "{what} of {} bytes is shorter than 7",
            bytes.len()
        )));
    }
    if checksum(&bytes[..3]) != 0 {
        return Err(malformed(format_args!("{what}: bad header checksum")));
    }
    if checksum(&bytes[3..]) != 0 {
        return Err(malformed(format_args!("{what}: bad data checksum")));
    }
    Ok((&bytes[..3], &bytes[3..bytes.len() - 1]))
}

/// An IPMI response message (LAN format, with both checksums).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpmiResponse {
    /// Requester address (the console, 0x81).
    pub rq_addr: u8,
    /// Network function of the request + 1 (odd).
    pub net_fn: u8,
    /// Requester LUN.
    pub rq_lun: u8,
    /// Responder address (the BMC, 0x20).
    pub rs_addr: u8,
    /// The request's sequence number.
    pub rq_seq: u8,
    /// Responder LUN.
    pub rs_lun: u8,
    /// Command code of the request.
    pub cmd: u8,
    /// Completion code.
    pub completion_code: u8,
    /// Response data after the completion code.
    pub data: Vec<u8>,
}

impl IpmiResponse {
    /// The response to `request` with this completion code and data.
    pub fn to(request: &IpmiRequest, completion_code: u8, data: Vec<u8>) -> Self {
        IpmiResponse {
            rq_addr: request.rq_addr,
            net_fn: request.net_fn | 1,
            rq_lun: request.rq_lun,
            rs_addr: request.rs_addr,
            rq_seq: request.rq_seq,
            rs_lun: request.rs_lun,
            cmd: request.cmd,
            completion_code,
            data,
        }
    }

    /// True when this is the response to `request` (same command, network function and
    /// sequence number).
    pub fn answers(&self, request: &IpmiRequest) -> bool {
        self.net_fn == request.net_fn | 1
            && self.cmd == request.cmd
            && self.rq_seq == request.rq_seq
    }

    /// The message bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(8 + self.data.len());
        m.push(self.rq_addr);
        m.push((self.net_fn << 2) | (self.rq_lun & 3));
        m.push(checksum(&m[..2]));
        m.push(self.rs_addr);
        m.push((self.rq_seq << 2) | (self.rs_lun & 3));
        m.push(self.cmd);
        m.push(self.completion_code);
        m.extend_from_slice(&self.data);
        m.push(checksum(&m[3..]));
        m
    }

    /// Parses a response message, checking both checksums.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (head, body) = split_message(bytes, "IPMI response")?;
        if head[1] >> 2 & 1 != 1 {
            return Err(malformed("IPMI response with a request network function"));
        }
        let completion_code = *body
            .get(3)
            .ok_or_else(|| malformed("IPMI response without a completion code"))?;
        Ok(IpmiResponse {
            rq_addr: head[0],
            net_fn: head[1] >> 2,
            rq_lun: head[1] & 3,
            rs_addr: body[0],
            rq_seq: body[1] >> 2,
            rs_lun: body[1] & 3,
            cmd: body[2],
            completion_code,
            data: body[4..].to_vec(),
        })
    }
}

/// Which session format a datagram uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFormat {
    /// IPMI v1.5 session header.
    V15,
    /// IPMI v2.0 RMCP+ session header.
    V20,
}

/// Checks the RMCP header and tells which session format follows.
pub fn session_format(datagram: &[u8]) -> Result<SessionFormat> {
    let header = datagram
        .get(..5)
        .ok_or_else(|| malformed(format_args!("datagram of {} bytes", datagram.len())))?;
    if header[..4] != RMCP_HEADER {
        return Err(malformed(format_args!(
            "not an RMCP IPMI-class header: {:02x?}",
            &header[..4]
        )));
    }
    Ok(if header[4] == AUTH_TYPE_RMCP_PLUS {
        SessionFormat::V20
    } else {
        SessionFormat::V15
    })
}

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

/// The three algorithm numbers proposed in or chosen by Open Session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Algorithms {
    /// Authentication (RAKP) algorithm number.
    pub auth: u8,
    /// Integrity algorithm number.
    pub integrity: u8,
    /// Confidentiality algorithm number.
    pub confidentiality: u8,
}

impl From<crate::crypto::CipherSuite> for Algorithms {
    fn from(s: crate::crypto::CipherSuite) -> Self {
        Algorithms {
            auth: s.auth.id(),
            integrity: s.integrity.id(),
            confidentiality: s.confidentiality.id(),
        }
    }
}

impl Algorithms {
    fn encode(&self, out: &mut Vec<u8>) {
        for (kind, alg) in [
            (0u8, self.auth),
            (1, self.integrity),
            (2, self.confidentiality),
        ] {
            out.extend_from_slice(&[kind, 0, 0, 8, alg, 0, 0, 0]);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut algs = [0u8; 3];
        for (kind, slot) in algs.iter_mut().enumerate() {
            let rec = r.array::<8>()?;
            if usize::from(rec[0]) != kind || rec[3] != 8 {
                return Err(malformed(format_args!(
                    "Open Session algorithm record {kind} is {rec:02x?}"
                )));
            }
            *slot = rec[4] & 0x3F;
        }
        Ok(Algorithms {
            auth: algs[0],
            integrity: algs[1],
            confidentiality: algs[2],
        })
    }
}

/// RMCP+ Open Session Request (payload type 0x10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSessionRequest {
    /// Message tag, echoed by the BMC.
    pub tag: u8,
    /// Requested maximum privilege (0: the highest the proposed algorithms allow).
    pub max_privilege: u8,
    /// The console's session ID (`SIDm`), chosen at random.
    pub console_session_id: u32,
    /// The proposed algorithms.
    pub algorithms: Algorithms,
}

impl OpenSessionRequest {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = vec![self.tag, self.max_privilege, 0, 0];
        p.extend_from_slice(&self.console_session_id.to_le_bytes());
        self.algorithms.encode(&mut p);
        p
    }

    /// Parses the payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "Open Session Request");
        let tag = r.u8()?;
        let max_privilege = r.u8()? & 0x0F;
        r.bytes(2)?;
        let console_session_id = r.u32()?;
        let algorithms = Algorithms::decode(&mut r)?;
        r.end()?;
        Ok(OpenSessionRequest {
            tag,
            max_privilege,
            console_session_id,
            algorithms,
        })
    }
}

/// RMCP+ Open Session Response (payload type 0x11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSessionResponse {
    /// The request's message tag.
    pub tag: u8,
    /// RMCP+ status code (0: success; 0x01 no resources, 0x04 invalid authentication
    /// algorithm, 0x05 invalid integrity algorithm, 0x10 invalid confidentiality
    /// algorithm, 0x11 no matching cipher suite, ...).
    pub status: u8,
    /// The maximum privilege granted.
    pub max_privilege: u8,
    /// The console's session ID (`SIDm`).
    pub console_session_id: u32,
    /// The BMC's session ID (`SIDc`) and the chosen algorithms; present on success only.
    pub accepted: Option<(u32, Algorithms)>,
}

impl OpenSessionResponse {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = vec![self.tag, self.status, self.max_privilege, 0];
        p.extend_from_slice(&self.console_session_id.to_le_bytes());
        if let Some((bmc_id, algs)) = &self.accepted {
            p.extend_from_slice(&bmc_id.to_le_bytes());
            algs.encode(&mut p);
        }
        p
    }

    /// Parses the payload. An error status may come with a short payload (some BMCs send
    /// only tag and status).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "Open Session Response");
        let tag = r.u8()?;
        let status = r.u8()?;
        if status != 0 {
            let max_privilege = if r.remaining() > 0 { r.u8()? & 0x0F } else { 0 };
            let console_session_id = if r.remaining() >= 5 {
                r.u8()?;
                r.u32()?
            } else {
                0
            };
            return Ok(OpenSessionResponse {
                tag,
                status,
                max_privilege,
                console_session_id,
                accepted: None,
            });
        }
        let max_privilege = r.u8()? & 0x0F;
        r.u8()?;
        let console_session_id = r.u32()?;
        let bmc_session_id = r.u32()?;
        let algorithms = Algorithms::decode(&mut r)?;
        r.end()?;
        Ok(OpenSessionResponse {
            tag,
            status,
            max_privilege,
            console_session_id,
            accepted: Some((bmc_session_id, algorithms)),
        })
    }
}

/// RAKP Message 1 (payload type 0x12), console → BMC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rakp1 {
    /// Message tag.
    pub tag: u8,
    /// The BMC's session ID (`SIDc`).
    pub bmc_session_id: u32,
    /// The console's random number (`Rm`).
    pub console_random: [u8; RANDOM_LEN],
    /// The role byte (`ROLEm`): requested maximum privilege, plus 0x10 for name-only lookup.
    pub role: u8,
    /// The user name (at most 16 bytes; empty for the anonymous user).
    pub username: Vec<u8>,
}

impl Rakp1 {
    /// The payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.username.len() > USERNAME_MAX_LEN {
            return Err(Error::invalid_input("IPMI user names are at most 16 bytes"));
        }
        let mut p = vec![self.tag, 0, 0, 0];
        p.extend_from_slice(&self.bmc_session_id.to_le_bytes());
        p.extend_from_slice(&self.console_random);
        p.extend_from_slice(&[self.role, 0, 0, self.username.len() as u8]);
        p.extend_from_slice(&self.username);
        Ok(p)
    }

    /// Parses the payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "RAKP message 1");
        let tag = r.u8()?;
        r.bytes(3)?;
        let bmc_session_id = r.u32()?;
        let console_random = r.array()?;
        let role = r.u8()?;
        r.bytes(2)?;
        let len = usize::from(r.u8()?);
        if len > USERNAME_MAX_LEN {
            return Err(malformed(format_args!("RAKP 1 user name of {len} bytes")));
        }
        let username = r.bytes(len)?.to_vec();
        r.end()?;
        Ok(Rakp1 {
            tag,
            bmc_session_id,
            console_random,
            role,
            username,
        })
    }
}

/// RAKP Message 2 (payload type 0x13), BMC → console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rakp2 {
    /// The request's message tag.
    pub tag: u8,
    /// RMCP+ status code (0 success; 0x0D unauthorized name, 0x09 inactive role, ...).
    pub status: u8,
    /// The console's session ID (`SIDm`).
    pub console_session_id: u32,
    /// The BMC's random number (`Rc`); zero when `status` is not 0 and the BMC sent none.
    pub bmc_random: [u8; RANDOM_LEN],
    /// The BMC's GUID (`GUIDc`).
    pub bmc_guid: [u8; GUID_LEN],
    /// The key-exchange authentication code (20 bytes for SHA-1, 32 for SHA-256, none
    /// for RAKP-none).
    pub auth_code: Vec<u8>,
}

impl Rakp2 {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = vec![self.tag, self.status, 0, 0];
        p.extend_from_slice(&self.console_session_id.to_le_bytes());
        if self.status == 0 {
            p.extend_from_slice(&self.bmc_random);
            p.extend_from_slice(&self.bmc_guid);
            p.extend_from_slice(&self.auth_code);
        }
        p
    }

    /// Parses the payload; the authentication code is whatever follows the GUID (its
    /// length is checked against the negotiated algorithm by the caller).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "RAKP message 2");
        let tag = r.u8()?;
        let status = r.u8()?;
        if status != 0 {
            // Error replies may stop after the status or after the session ID.
            let console_session_id = if r.remaining() >= 6 {
                r.bytes(2)?;
                r.u32()?
            } else {
                0
            };
            return Ok(Rakp2 {
                tag,
                status,
                console_session_id,
                bmc_random: [0; RANDOM_LEN],
                bmc_guid: [0; GUID_LEN],
                auth_code: Vec::new(),
            });
        }
        r.bytes(2)?;
        let console_session_id = r.u32()?;
        let bmc_random = r.array()?;
        let bmc_guid = r.array()?;
        let auth_code = r.rest().to_vec();
        Ok(Rakp2 {
            tag,
            status,
            console_session_id,
            bmc_random,
            bmc_guid,
            auth_code,
        })
    }
}

/// RAKP Message 3 (payload type 0x14), console → BMC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rakp3 {
    /// Message tag.
    pub tag: u8,
    /// RMCP+ status code: 0, or the reason the console gives up.
    pub status: u8,
    /// The BMC's session ID (`SIDc`).
    pub bmc_session_id: u32,
    /// The key-exchange authentication code.
    pub auth_code: Vec<u8>,
}

impl Rakp3 {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = vec![self.tag, self.status, 0, 0];
        p.extend_from_slice(&self.bmc_session_id.to_le_bytes());
        p.extend_from_slice(&self.auth_code);
        p
    }

    /// Parses the payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "RAKP message 3");
        let tag = r.u8()?;
        let status = r.u8()?;
        r.bytes(2)?;
        let bmc_session_id = r.u32()?;
        let auth_code = r.rest().to_vec();
        Ok(Rakp3 {
            tag,
            status,
            bmc_session_id,
            auth_code,
        })
    }
}

/// RAKP Message 4 (payload type 0x15), BMC → console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rakp4 {
    /// The request's message tag.
    pub tag: u8,
    /// RMCP+ status code (0 success; 0x02 invalid session ID, 0x0F invalid integrity
    /// check value, ...).
    pub status: u8,
    /// The console's session ID (`SIDm`).
    pub console_session_id: u32,
    /// The integrity check value.
    pub icv: Vec<u8>,
}

impl Rakp4 {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = vec![self.tag, self.status, 0, 0];
        p.extend_from_slice(&self.console_session_id.to_le_bytes());
        p.extend_from_slice(&self.icv);
        p
    }

    /// Parses the payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "RAKP message 4");
        let tag = r.u8()?;
        let status = r.u8()?;
        if status != 0 && r.remaining() < 6 {
            return Ok(Rakp4 {
                tag,
                status,
                console_session_id: 0,
                icv: Vec::new(),
            });
        }
        r.bytes(2)?;
        let console_session_id = r.u32()?;
        let icv = r.rest().to_vec();
        Ok(Rakp4 {
            tag,
            status,
            console_session_id,
            icv,
        })
    }
}

/// A short description of an RMCP+ status code (Open Session and RAKP responses).
pub fn describe_rmcp_status(code: u8) -> &'static str {
    match code {
        0x00 => "no errors",
        0x01 => "insufficient resources to create a session",
        0x02 => "invalid session ID",
        0x03 => "invalid payload type",
        0x04 => "invalid authentication algorithm",
        0x05 => "invalid integrity algorithm",
        0x06 => "no matching authentication payload",
        0x07 => "no matching integrity payload",
        0x08 => "inactive session ID",
        0x09 => "invalid role",
        0x0A => "unauthorized role or privilege level requested",
        0x0B => "insufficient resources to create a session at the requested role",
        0x0C => "invalid name length",
        0x0D => "unauthorized name",
        0x0E => "unauthorized GUID",
        0x0F => "invalid integrity check value",
        0x10 => "invalid confidentiality algorithm",
        0x11 => "no cipher suite match with proposed security algorithms",
        0x12 => "illegal or unrecognized parameter",
        _ => "unknown status",
    }
}

/// Get Channel Authentication Capabilities: the answer's fields that matter for login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAuthCapabilities {
    /// The channel number.
    pub channel: u8,
    /// Bit mask of the supported v1.5 authentication types (bit n = type n).
    pub auth_types: u8,
    /// The channel supports IPMI v2.0 (RMCP+) sessions.
    pub ipmi20: bool,
}

impl ChannelAuthCapabilities {
    /// Request data for the current channel and `privilege`; `ipmi20` asks for the v2.0
    /// extended data.
    pub fn request(privilege: Privilege, ipmi20: bool) -> Vec<u8> {
        vec![0x0E | if ipmi20 { 0x80 } else { 0 }, privilege.id()]
    }

    /// The response data (after the completion code).
    pub fn encode(&self) -> Vec<u8> {
        let v20 = if self.ipmi20 { 0x80 } else { 0 };
        vec![
            self.channel,
            self.auth_types | v20,
            0x04,
            if self.ipmi20 { 0x02 } else { 0 },
            0,
            0,
            0,
            0,
        ]
    }

    /// Parses the response data.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, "Get Channel Authentication Capabilities");
        let channel = r.u8()?;
        let types = r.u8()?;
        r.u8()?;
        let ext = if r.remaining() > 0 { r.u8()? } else { 0 };
        Ok(ChannelAuthCapabilities {
            channel,
            auth_types: types & 0x3F,
            ipmi20: types & 0x80 != 0 && ext & 0x02 != 0,
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

/// Get Chassis Status response: whether the system power is on (bit 0 of byte 0).
pub fn chassis_power_is_on(data: &[u8]) -> Result<bool> {
    let b = data
        .first()
        .ok_or_else(|| malformed("Get Chassis Status answered without data"))?;
    Ok(b & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CipherSuite;

    fn keys(suite: CipherSuite) -> SessionKeys {
        SessionKeys::derive(suite, &[0x5a; 20])
    }

    #[test]
    fn request_and_response_round_trip() {
        let req = IpmiRequest::new(netfn::CHASSIS, cmd::GET_CHASSIS_STATUS, vec![], 5);
        let bytes = req.encode();
        // Known encoding: 20 00<<2 chk 81 05<<2 01 chk
        assert_eq!(bytes, vec![0x20, 0x00, 0xE0, 0x81, 0x14, 0x01, 0x6A]);
        assert_eq!(IpmiRequest::decode(&bytes).unwrap(), req);
        let resp = IpmiResponse::to(&req, 0, vec![0x01, 0x00, 0x00]);
        let rb = resp.encode();
        assert_eq!(rb[..3], [0x81, 0x04, 0x7B]);
        let back = IpmiResponse::decode(&rb).unwrap();
        assert_eq!(back, resp);
        assert!(back.answers(&req));
        assert!(chassis_power_is_on(&back.data).unwrap());
        assert!(
            IpmiResponse::decode(&bytes).is_err(),
            "a request is not a response"
        );
    }

    #[test]
    fn message_checksums_are_checked() {
        let mut b = IpmiRequest::new(netfn::APP, cmd::CLOSE_SESSION, vec![1, 2, 3, 4], 1).encode();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(IpmiRequest::decode(&b).is_err());
        b[last] ^= 1;
        b[2] ^= 1;
        assert!(IpmiRequest::decode(&b).is_err());
    }

    #[test]
    fn v15_round_trip_and_known_bytes() {
        let p = V15Packet {
            auth_type: 0,
            session_seq: 0,
            session_id: 0,
            auth_code: None,
            message: IpmiRequest::new(
                netfn::APP,
                cmd::GET_CHANNEL_AUTH_CAPABILITIES,
                ChannelAuthCapabilities::request(Privilege::Administrator, false),
                0,
            )
            .encode(),
        };
        let d = p.encode().unwrap();
        // The bytes ipmitool sends for Get Channel Auth Capabilities (v1.5, admin).
        assert_eq!(
            d,
            vec![
                0x06, 0x00, 0xFF, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x20, 0x18, 0xC8, 0x81,
                0x00, 0x38, 0x0E, 0x04, 0x35
            ]
        );
        assert_eq!(V15Packet::decode(&d).unwrap(), p);
        let with_code = V15Packet {
            auth_type: 2,
            auth_code: Some([9; 16]),
            session_id: 7,
            session_seq: 8,
            ..p
        };
        let d2 = with_code.encode().unwrap();
        assert_eq!(V15Packet::decode(&d2).unwrap(), with_code);
        let bad = V15Packet {
            auth_code: None,
            ..with_code
        };
        assert!(bad.encode().is_err());
    }

    #[test]
    fn v20_round_trip_for_every_suite() {
        let payload = IpmiRequest::new(netfn::CHASSIS, cmd::CHASSIS_CONTROL, vec![0], 9).encode();
        for suite in CipherSuite::SUPPORTED {
            let k = keys(suite);
            let h = V20Header {
                payload_type: PayloadType::Ipmi,
                encrypted: suite.confidentiality.id() != 0,
                authenticated: suite.integrity.id() != 0,
                session_id: 0x1234_5678,
                session_seq: 42,
            };
            let d = encode_v20(&h, &payload, Some(&k), [3; 16]).unwrap();
            if h.authenticated {
                // auth type .. next header is a multiple of 4
                let code = suite.integrity.code_len();
                assert_eq!((d.len() - 4 - code) % 4, 0, "suite {}", suite.id);
            }
            let (h2, p2) = decode_v20(&d, Some(&k)).unwrap();
            assert_eq!(h2, h, "suite {}", suite.id);
            assert_eq!(p2, payload, "suite {}", suite.id);
            if h.authenticated {
                // Any flipped bit is caught.
                for i in 4..d.len() {
                    let mut t = d.clone();
                    t[i] ^= 0x01;
                    assert!(
                        decode_v20(&t, Some(&k)).is_err(),
                        "suite {} byte {i}",
                        suite.id
                    );
                }
                // Another key is caught.
                let other = SessionKeys::derive(suite, &[0x5b; 20]);
                assert!(decode_v20(&d, Some(&other)).is_err());
                assert!(decode_v20(&d, None).is_err());
            }
        }
    }

    #[test]
    fn v20_setup_packets_known_bytes() {
        let req = OpenSessionRequest {
            tag: 0,
            max_privilege: 4,
            console_session_id: 0xa0a1_a2a3,
            algorithms: CipherSuite::SUITE_3.into(),
        };
        let d = encode_v20(
            &V20Header::setup(PayloadType::OpenSessionRequest),
            &req.encode(),
            None,
            [0; 16],
        )
        .unwrap();
        assert_eq!(
            d,
            vec![
                0x06, 0x00, 0xFF, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00, 0x00, 0x04,
                0x00, 0x00, 0xa3, 0xa2, 0xa1, 0xa0, 0x00, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00,
                0x01, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x08, 0x01, 0x00,
                0x00, 0x00
            ]
        );
        let (h, p) = decode_v20(&d, None).unwrap();
        assert_eq!(h.payload_type, PayloadType::OpenSessionRequest);
        assert_eq!(OpenSessionRequest::decode(&p).unwrap(), req);
    }

    #[test]
    fn setup_payloads_round_trip() {
        let osr = OpenSessionResponse {
            tag: 1,
            status: 0,
            max_privilege: 4,
            console_session_id: 7,
            accepted: Some((9, CipherSuite::SUITE_17.into())),
        };
        assert_eq!(OpenSessionResponse::decode(&osr.encode()).unwrap(), osr);
        let refused = OpenSessionResponse {
            status: 0x11,
            accepted: None,
            ..osr.clone()
        };
        assert_eq!(
            OpenSessionResponse::decode(&refused.encode()).unwrap(),
            refused
        );
        assert_eq!(OpenSessionResponse::decode(&[1, 0x04]).unwrap().status, 4);
        let r1 = Rakp1 {
            tag: 2,
            bmc_session_id: 9,
            console_random: [1; 16],
            role: 0x14,
            username: b"admin".to_vec(),
        };
        assert_eq!(Rakp1::decode(&r1.encode().unwrap()).unwrap(), r1);
        assert!(
            Rakp1 {
                username: vec![b'a'; 17],
                ..r1.clone()
            }
            .encode()
            .is_err()
        );
        let r2 = Rakp2 {
            tag: 2,
            status: 0,
            console_session_id: 7,
            bmc_random: [2; 16],
            bmc_guid: [3; 16],
            auth_code: vec![4; 20],
        };
        assert_eq!(Rakp2::decode(&r2.encode()).unwrap(), r2);
        let r2e = Rakp2::decode(&[2, 0x0D, 0, 0, 7, 0, 0, 0]).unwrap();
        assert_eq!((r2e.status, r2e.console_session_id), (0x0D, 7));
        let r3 = Rakp3 {
            tag: 3,
            status: 0,
            bmc_session_id: 9,
            auth_code: vec![5; 32],
        };
        assert_eq!(Rakp3::decode(&r3.encode()).unwrap(), r3);
        let r4 = Rakp4 {
            tag: 3,
            status: 0,
            console_session_id: 7,
            icv: vec![6; 12],
        };
        assert_eq!(Rakp4::decode(&r4.encode()).unwrap(), r4);
    }

    #[test]
    fn v15_command_payloads_round_trip() {
        let c = ChannelAuthCapabilities {
            channel: 1,
            auth_types: 0x17,
            ipmi20: true,
        };
        assert_eq!(ChannelAuthCapabilities::decode(&c.encode()).unwrap(), c);
        let s = SessionChallenge {
            temp_session_id: 0x0102_0304,
            challenge: [8; 16],
        };
        assert_eq!(SessionChallenge::decode(&s.encode()).unwrap(), s);
        let a = ActivatedSession {
            auth_type: 2,
            session_id: 5,
            initial_inbound_seq: 6,
            max_privilege: 4,
        };
        assert_eq!(ActivatedSession::decode(&a.encode()).unwrap(), a);
        assert_eq!(session_challenge_request(2, b"admin").unwrap().len(), 17);
        assert!(session_challenge_request(2, &[b'x'; 17]).is_err());
    }

    /// Every prefix and every single-byte corruption of valid packets decodes to an error
    /// or a value, never a panic.
    #[test]
    fn malformed_input_never_panics() {
        let k = keys(CipherSuite::SUITE_3);
        let mut samples = vec![
            encode_v20(
                &V20Header {
                    payload_type: PayloadType::Ipmi,
                    encrypted: true,
                    authenticated: true,
                    session_id: 1,
                    session_seq: 2,
                },
                &IpmiResponse::to(&IpmiRequest::new(0, 1, vec![], 1), 0, vec![1, 2, 3]).encode(),
                Some(&k),
                [1; 16],
            )
            .unwrap(),
            V15Packet {
                auth_type: 2,
                session_seq: 1,
                session_id: 2,
                auth_code: Some([0; 16]),
                message: IpmiRequest::new(6, 0x3c, vec![1, 2, 3, 4], 3).encode(),
            }
            .encode()
            .unwrap(),
        ];
        samples.push(
            encode_v20(
                &V20Header::setup(PayloadType::Rakp2),
                &Rakp2 {
                    tag: 0,
                    status: 0,
                    console_session_id: 1,
                    bmc_random: [0; 16],
                    bmc_guid: [0; 16],
                    auth_code: vec![0; 20],
                }
                .encode(),
                None,
                [0; 16],
            )
            .unwrap(),
        );
        let decoders: &[fn(&[u8])] = &[
            |b| drop(decode_v20(b, None)),
            |b| drop(decode_v20(b, Some(&keys(CipherSuite::SUITE_3)))),
            |b| drop(decode_v20(b, Some(&keys(CipherSuite::SUITE_17)))),
            |b| drop(V15Packet::decode(b)),
            |b| drop(IpmiRequest::decode(b)),
            |b| drop(IpmiResponse::decode(b)),
            |b| drop(OpenSessionRequest::decode(b)),
            |b| drop(OpenSessionResponse::decode(b)),
            |b| drop(Rakp1::decode(b)),
            |b| drop(Rakp2::decode(b)),
            |b| drop(Rakp3::decode(b)),
            |b| drop(Rakp4::decode(b)),
            |b| drop(ChannelAuthCapabilities::decode(b)),
            |b| drop(SessionChallenge::decode(b)),
            |b| drop(ActivatedSession::decode(b)),
            |b| drop(chassis_power_is_on(b)),
        ];
        for s in &samples {
            for len in 0..=s.len() {
                for d in decoders {
                    d(&s[..len]);
                    d(&s[len.min(4)..len]);
                }
            }
            for i in 0..s.len() {
                for bit in [0x01u8, 0x80, 0xFF] {
                    let mut t = s.clone();
                    t[i] ^= bit;
                    for d in decoders {
                        d(&t);
                    }
                }
            }
        }
        // Lengths that point past the end.
        let mut long = samples[0].clone();
        long[14] = 0xFF;
        long[15] = 0xFF;
        assert!(decode_v20(&long, Some(&k)).is_err());
    }
}
