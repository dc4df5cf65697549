//! Hostile datagrams against an established session: valid RMCP+ packets of every cipher
//! suite with a byte changed, truncated, extended, or sealed with another session's keys.
//! Properties: decoding never panics, and for suites with integrity no changed packet is
//! ever accepted as anything but the original (a forged "power is off" answer cannot get
//! in). Bounded for CI: `PROPTEST_CASES` (default 300) cases.
#![allow(clippy::unwrap_used)]

use fence_ipmi_proto::commands;
use fence_ipmi_proto::crypto::{CipherSuite, SessionKeys};
use fence_ipmi_proto::message::{IpmiRequest, IpmiResponse};
use fence_ipmi_proto::v20::{self, PayloadType, V20Header};
use proptest::prelude::*;

/// Fixed seed in CI, regressions kept (see `fence_core::testkit::proptest_support`).
fn config() -> ProptestConfig {
    fence_core::testkit::proptest_support::config(300)
}

/// A Get Chassis Status answer saying "power on" (byte 0 bit 0), sealed for `suite`.
fn sealed(suite: CipherSuite, sik: &[u8], seq: u32, iv: [u8; 16]) -> (Vec<u8>, V20Header, Vec<u8>) {
    let keys = SessionKeys::derive(suite, sik);
    let req = IpmiRequest::new(0x00 << 2, 0x01, Vec::new(), 5);
    let message = IpmiResponse::to(&req, 0, vec![0x01, 0x00, 0x00, 0x00]).encode();
    let header = V20Header {
        payload_type: PayloadType::Ipmi,
        encrypted: suite.confidentiality.id() != 0,
        authenticated: suite.integrity.id() != 0,
        session_id: 0x0102_0304,
        session_seq: seq,
    };
    let d = v20::encode_v20(&header, &message, Some(&keys), iv).unwrap();
    (d, header, message)
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    (0..CipherSuite::SUPPORTED.len()).prop_map(|i| CipherSuite::SUPPORTED[i])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_changed_byte_is_refused_or_changes_nothing(
        suite in suite(), sik in any::<[u8; 32]>(), seq in any::<u32>(), iv in any::<[u8; 16]>(),
        at in any::<prop::sample::Index>(), xor in 1u8..=255,
    ) {
        let (mut d, header, message) = sealed(suite, &sik, seq, iv);
        let keys = SessionKeys::derive(suite, &sik);
        let i = at.index(d.len());
        d[i] ^= xor;
        let decoded = v20::decode_v20(&d, Some(&keys));
        if suite.integrity.id() != 0 && i >= 4 {
            // Everything after the RMCP header is covered by the integrity check.
            if let Ok((h, p)) = &decoded {
                prop_assert!(
                    h == &header && p == &message,
                    "byte {} changed and accepted as {:?} {:?}", i, h, p
                );
            }
        }
        if let Ok((_, p)) = decoded {
            let _ = IpmiResponse::decode(&p).map(|r| commands::chassis_power_is_on(&r.data));
        }
    }

    #[test]
    fn truncated_or_extended_packets_never_panic_nor_pass_integrity(
        suite in suite(), sik in any::<[u8; 20]>(), seq in any::<u32>(), iv in any::<[u8; 16]>(),
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        let (d, header, message) = sealed(suite, &sik, seq, iv);
        let keys = SessionKeys::derive(suite, &sik);
        let short = &d[..cut.index(d.len())];
        let r = v20::decode_v20(short, Some(&keys));
        if suite.integrity.id() != 0 {
            prop_assert!(r.is_err(), "a truncated packet was accepted");
        }
        let mut long = d.clone();
        long.extend_from_slice(&tail);
        if let Ok((h, p)) = v20::decode_v20(&long, Some(&keys)) {
            if suite.integrity.id() != 0 {
                prop_assert!(h == header && p == message, "an extended packet changed meaning");
            }
        }
    }

    #[test]
    fn another_sessions_keys_are_refused(
        suite in suite(), sik in any::<[u8; 20]>(), other in any::<[u8; 20]>(),
        seq in any::<u32>(), iv in any::<[u8; 16]>(),
    ) {
        prop_assume!(sik != other);
        let (d, _, _) = sealed(suite, &sik, seq, iv);
        let theirs = SessionKeys::derive(suite, &other);
        let r = v20::decode_v20(&d, Some(&theirs));
        if suite.integrity.id() != 0 {
            prop_assert!(r.is_err(), "sealed with other keys and accepted");
        }
    }
}
