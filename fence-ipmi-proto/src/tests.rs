//! Round trips and refusals of the packet formats, both directions.

use crate::commands::*;
use crate::crypto::*;
use crate::message::*;
use crate::rakp::*;
use crate::v15::*;
use crate::v20::*;

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
