//! Property tests of the wire format: arbitrary bytes never make a decoder panic, and every
//! encoded packet decodes back to itself, for every cipher suite.
#![allow(clippy::unwrap_used)]

use fence_ipmi_proto::commands::{self, ChannelAuthCapabilities};
use fence_ipmi_proto::crypto::{CipherSuite, SessionKeys, aes_cbc_decrypt};
use fence_ipmi_proto::message::{IpmiRequest, IpmiResponse};
use fence_ipmi_proto::rakp::{OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4};
use fence_ipmi_proto::rmcp;
use fence_ipmi_proto::v15::{ActivatedSession, SessionChallenge, V15Packet};
use fence_ipmi_proto::v20::{self, PayloadType, V20Header};
use proptest::prelude::*;

fn all_decoders(bytes: &[u8]) {
    let k3 = SessionKeys::derive(CipherSuite::SUITE_3, &[1; 20]);
    let k17 = SessionKeys::derive(CipherSuite::SUITE_17, &[1; 32]);
    let k2 = SessionKeys::derive(CipherSuite::SUITE_2, &[1; 20]);
    let _ = rmcp::session_format(bytes);
    let _ = v20::decode_v20(bytes, None);
    let _ = v20::decode_v20(bytes, Some(&k3));
    let _ = v20::decode_v20(bytes, Some(&k17));
    let _ = v20::decode_v20(bytes, Some(&k2));
    let _ = V15Packet::decode(bytes);
    let _ = IpmiRequest::decode(bytes);
    let _ = IpmiResponse::decode(bytes);
    let _ = OpenSessionRequest::decode(bytes);
    let _ = OpenSessionResponse::decode(bytes);
    let _ = Rakp1::decode(bytes);
    let _ = Rakp2::decode(bytes);
    let _ = Rakp3::decode(bytes);
    let _ = Rakp4::decode(bytes);
    let _ = ChannelAuthCapabilities::decode(bytes);
    let _ = SessionChallenge::decode(bytes);
    let _ = ActivatedSession::decode(bytes);
    let _ = commands::chassis_power_is_on(bytes);
    let _ = aes_cbc_decrypt(&[7; 16], bytes);
    let _ = k3.decrypt(bytes);
}

proptest! {
    #![proptest_config(fence_core::testkit::proptest_support::config(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        all_decoders(&bytes);
    }

    /// Bytes behind a valid RMCP header and RMCP+ session header with a consistent length
    /// reach the deeper decoding paths.
    #[test]
    fn arbitrary_rmcp_plus_bodies_never_panic(
        ptype in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        trailer in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut d = vec![0x06, 0x00, 0xff, 0x07, 0x06, ptype, 1, 0, 0, 0, 2, 0, 0, 0];
        d.extend_from_slice(&(body.len() as u16).to_le_bytes());
        d.extend_from_slice(&body);
        d.extend_from_slice(&trailer);
        all_decoders(&d);
        all_decoders(&body);
    }

    #[test]
    fn ipmi_messages_round_trip(
        net_fn in 0u8..32, cmd in any::<u8>(), seq in 0u8..64, cc in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let req = IpmiRequest::new(net_fn << 1, cmd, data.clone(), seq);
        prop_assert_eq!(IpmiRequest::decode(&req.encode()).unwrap(), req.clone());
        let resp = IpmiResponse::to(&req, cc, data);
        let back = IpmiResponse::decode(&resp.encode()).unwrap();
        prop_assert!(back.answers(&req));
        prop_assert_eq!(back, resp);
    }

    #[test]
    fn session_packets_round_trip(
        suite_index in 0usize..5,
        sid in any::<u32>(), seq in any::<u32>(),
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        iv in any::<[u8; 16]>(),
        sik in any::<[u8; 20]>(),
    ) {
        let suite = CipherSuite::SUPPORTED[suite_index];
        let keys = SessionKeys::derive(suite, &sik);
        let header = V20Header {
            payload_type: PayloadType::Ipmi,
            encrypted: suite.confidentiality.id() != 0,
            authenticated: suite.integrity.id() != 0,
            session_id: sid,
            session_seq: seq,
        };
        let d = v20::encode_v20(&header, &payload, Some(&keys), iv).unwrap();
        let (h, p) = v20::decode_v20(&d, Some(&keys)).unwrap();
        prop_assert_eq!(h, header);
        prop_assert_eq!(p, payload.clone());
        let v15 = V15Packet {
            auth_type: 2,
            session_seq: seq,
            session_id: sid,
            auth_code: Some(iv),
            message: payload.clone(),
        };
        prop_assert_eq!(V15Packet::decode(&v15.encode().unwrap()).unwrap(), v15);
    }
}
