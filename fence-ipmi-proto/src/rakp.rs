//! RMCP+ session set-up: Open Session and the RAKP messages 1-4 (the key exchange of
//! IPMI v2.0), and the RMCP+ status codes.

use crate::crypto::GUID_LEN;
use crate::crypto::RANDOM_LEN;
use crate::message::USERNAME_MAX_LEN;
use fence_core::{Error, Result};

use crate::reader::{Reader, malformed};

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
