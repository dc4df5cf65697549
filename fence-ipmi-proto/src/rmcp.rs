//! RMCP, the envelope of every IPMI datagram, and which session format follows it.

use fence_core::Result;

use crate::reader::malformed;

/// The RMCP header of every IPMI datagram: version 6, reserved, sequence 0xFF (no RMCP
/// acknowledgement), class IPMI.
pub const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xFF, 0x07];
/// The authentication-type byte that marks an RMCP+ (IPMI v2.0) session header.
pub const AUTH_TYPE_RMCP_PLUS: u8 = 0x06;

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
