#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! Decoding never panics: short, long or inconsistent input gives
//! [`fence_core::Error::Misbehaved`] saying what was wrong. By concern:
//! - [`rmcp`]: the RMCP envelope and which session format follows it;
//! - [`message`]: IPMI messages (requests, responses), checksums, addresses, privileges;
//! - [`commands`]: the commands fencing needs and the data of their answers;
//! - [`v15`]: IPMI v1.5 sessions (header, Get Session Challenge, Activate Session);
//! - [`v20`]: IPMI v2.0 (RMCP+) session packets, integrity and confidentiality;
//! - [`rakp`]: RMCP+ session set-up (Open Session, RAKP 1-4);
//! - [`crypto`]: cipher suites, the RAKP key derivation, HMACs, AES-CBC-128, v1.5 MD5.
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
//! Integers are little-endian; session IDs and sequence numbers are `u32`. The sources
//! followed are the IPMI v2.0 specification (rev. 1.1: 13.6 RMCP, 13.8 and 13.9 the session
//! headers, 13.17-13.23 Open Session and RAKP, 13.28-13.33 the algorithms) and ipmitool's
//! and FreeIPMI's implementations, which the interop tests use as judges.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod commands;
pub mod crypto;
pub mod message;
pub mod rakp;
mod reader;
pub mod rmcp;
pub mod v15;
pub mod v20;

#[cfg(test)]
mod tests;
