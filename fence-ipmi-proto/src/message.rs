//! IPMI messages (requests and responses inside a session), their checksums, addresses
//! and privilege levels.

use fence_core::Result;

use crate::reader::malformed;

/// The BMC's responder address.
pub const BMC_ADDR: u8 = 0x20;
/// The remote console's software ID, used as requester address.
pub const CONSOLE_ADDR: u8 = 0x81;
/// The longest IPMI user name.
pub const USERNAME_MAX_LEN: usize = 16;

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
