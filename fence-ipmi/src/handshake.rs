//! Establishing a session for [`crate::client::Session::open`]: RMCP+ Open Session and
//! RAKP 1-4 (with the probe that survives a lost RAKP 4), or v1.5 Get Session Challenge
//! and Activate Session; the exchanges are described in [`crate::client`].

use fence_core::{Answer, Error, Remedy, Result};

use crate::client::{State, accept_v15, accept_v20, completion_error, v20_datagram};
use crate::config::{CipherChoice, IpmiConfig};
use crate::transport::Transport;
use fence_ipmi_proto::commands::{ChannelAuthCapabilities, cc, cmd, netfn};
use fence_ipmi_proto::crypto::{
    CipherSuite, RakpInputs, SessionKeys, V15AuthType, ct_eq, v15_auth_code, v15_password,
};
use fence_ipmi_proto::message::{IpmiRequest, IpmiResponse};
use fence_ipmi_proto::rakp::{
    self, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4,
};
use fence_ipmi_proto::rmcp;
use fence_ipmi_proto::v15::{self, ActivatedSession, SessionChallenge, V15Packet};
use fence_ipmi_proto::v20::{self, PayloadType, V20Header};

/// The name-only lookup bit of RAKP message 1's role byte: the BMC looks the user up by
/// name and checks the requested privilege against the user's limit (as ipmitool does).
const NAME_ONLY_LOOKUP: u8 = 0x10;

fn random_nonzero_u32() -> u32 {
    loop {
        let v: u32 = rand::random();
        if v != 0 {
            return v;
        }
    }
}

/// Encodes an unprotected RMCP+ setup payload (Open Session, RAKP): outside any session.
fn setup_datagram(payload_type: PayloadType, payload: &[u8]) -> Result<Vec<u8>> {
    v20::encode_v20(&V20Header::setup(payload_type), payload, None, [0; 16])
}

/// Decodes an unprotected RMCP+ setup payload of type `expected`.
fn setup_payload(datagram: &[u8], expected: PayloadType) -> Result<Option<Vec<u8>>> {
    if rmcp::session_format(datagram)? != rmcp::SessionFormat::V20 {
        return Ok(None);
    }
    let (header, payload) = v20::decode_v20(datagram, None)?;
    Ok((header.payload_type == expected).then_some(payload))
}

/// Maps an RMCP+ status code of Open Session or RAKP to an error.
fn rmcp_status_error(address: &str, step: &str, status: u8) -> Error {
    let text = rakp::describe_rmcp_status(status);
    let detail = format!("{address}: {step} refused: {text} (RMCP+ status {status:#04x})");
    match status {
        0x01 | 0x0B => Error::unreachable(format!("{detail}; every session slot may be in use")),
        0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11 => Error::unsupported(detail),
        0x02 | 0x03 | 0x08 | 0x12 => Error::misbehaved(detail),
        _ => Error::login_refused(detail),
    }
    .in_request(step)
    .answered(Answer::Ipmi { code: status })
}

/// Turns "no answer within the bound" to the step that carries the credentials, after the
/// BMC answered the step before, into a login refusal: a BMC that is up but silent at
/// exactly that step is refusing the credentials. Other errors pass unchanged.
fn silence_is_refusal(e: Error, why: &str) -> Error {
    match e {
        Error::Unreachable {
            detail,
            source: None,
            context,
        } => Error::LoginRefused {
            detail: format!("{detail}; {why}"),
            context,
        },
        other => other,
    }
}

/// Opens an RMCP+ session: Open Session (suite 17, then 3, unless fixed), RAKP 1-4.
pub(crate) async fn open_v20(
    transport: &Transport,
    config: &IpmiConfig,
    choice: CipherChoice,
) -> Result<State> {
    let address = transport.address.as_str();
    let candidates: Vec<CipherSuite> = match choice {
        CipherChoice::Auto => vec![CipherSuite::SUITE_17, CipherSuite::SUITE_3],
        CipherChoice::Fixed(s) => vec![s],
    };
    let kuid = config.password.expose().as_bytes();
    let kg = config.kg_bytes()?;
    let username = config.username.as_bytes().to_vec();
    let role = config.privilege.id() | NAME_ONLY_LOOKUP;
    let mut tag: u8 = 0;

    // Open Session.
    let mut opened = None;
    for (i, proposed) in candidates.iter().enumerate() {
        tag = tag.wrapping_add(1);
        let console_session_id = random_nonzero_u32();
        let req = OpenSessionRequest {
            tag,
            max_privilege: config.privilege.id(),
            console_session_id,
            algorithms: (*proposed).into(),
        };
        let payload = req.encode();
        let resp = transport
            .exchange(
                "RMCP+ Open Session",
                |_| setup_datagram(PayloadType::OpenSessionRequest, &payload),
                |d| match setup_payload(d, PayloadType::OpenSessionResponse)? {
                    None => Ok(None),
                    Some(p) => {
                        let r = OpenSessionResponse::decode(&p)?;
                        let ours = r.tag == tag
                            && (r.console_session_id == console_session_id || r.status != 0);
                        Ok(ours.then_some(r))
                    }
                },
            )
            .await?;
        if resp.status != 0 {
            let algorithm_refused = matches!(resp.status, 0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11);
            if algorithm_refused && i + 1 < candidates.len() {
                tracing::debug!(
                    address,
                    suite = proposed.id,
                    status = resp.status,
                    "cipher suite refused; trying the next one"
                );
                continue;
            }
            return Err(rmcp_status_error(
                address,
                &format!("Open Session with cipher suite {}", proposed.id),
                resp.status,
            ));
        }
        let Some((bmc_session_id, algs)) = resp.accepted else {
            return Err(Error::misbehaved(format!(
                "{address}: Open Session accepted without a session ID"
            )));
        };
        let chosen = CipherSuite::from_algorithms(algs.auth, algs.integrity, algs.confidentiality);
        let acceptable = match (choice, chosen) {
            (CipherChoice::Fixed(want), Some(got)) => got == want,
            // A BMC that picks a suite on its own (pyghmi always answers suite 3) is
            // accepted when it is one we would have proposed.
            (CipherChoice::Auto, Some(got)) => candidates.contains(&got),
            (_, None) => false,
        };
        match chosen {
            Some(suite) if acceptable => {
                opened = Some((suite, console_session_id, bmc_session_id));
                break;
            }
            _ => {
                return Err(Error::misbehaved(format!(
                    "{address}: Open Session answered with algorithms {}/{}/{} instead of cipher suite {}",
                    algs.auth, algs.integrity, algs.confidentiality, proposed.id
                )));
            }
        }
    }
    let Some((suite, console_session_id, bmc_session_id)) = opened else {
        return Err(Error::unsupported(format!(
            "{address}: no cipher suite accepted"
        )));
    };

    // RAKP 1 / 2.
    tag = tag.wrapping_add(1);
    let rakp1 = Rakp1 {
        tag,
        bmc_session_id,
        console_random: rand::random(),
        role,
        username: username.clone(),
    };
    let payload = rakp1.encode()?;
    let rakp2 = transport
        .exchange(
            "RAKP message 1",
            |_| setup_datagram(PayloadType::Rakp1, &payload),
            |d| match setup_payload(d, PayloadType::Rakp2)? {
                None => Ok(None),
                Some(p) => {
                    let r = Rakp2::decode(&p)?;
                    Ok((r.tag == tag).then_some(r))
                }
            },
        )
        .await
        .map_err(|e| {
            silence_is_refusal(
                e,
                "the BMC answered Open Session but not RAKP message 1, which carries the user \
                 name: some BMCs (pyghmi's) ignore an unknown user name silently",
            )
        })?;
    if rakp2.status != 0 {
        return Err(rmcp_status_error(
            address,
            "RAKP message 1 (user name and role)",
            rakp2.status,
        ));
    }
    if rakp2.console_session_id != console_session_id {
        return Err(Error::misbehaved(format!(
            "{address}: RAKP message 2 names another session"
        )));
    }
    let inputs = RakpInputs {
        console_session_id,
        bmc_session_id,
        console_random: rakp1.console_random,
        bmc_random: rakp2.bmc_random,
        bmc_guid: rakp2.bmc_guid,
        role,
        username,
    };
    let expected = inputs.rakp2_auth_code(suite.auth, kuid);
    if !ct_eq(&expected, &rakp2.auth_code) {
        // Tell the BMC to drop the half-open session (RAKP 3 with an error status), without
        // waiting for an answer.
        let abort = Rakp3 {
            tag: tag.wrapping_add(1),
            status: 0x0F,
            bmc_session_id,
            auth_code: Vec::new(),
        };
        if let Ok(d) = setup_datagram(PayloadType::Rakp3, &abort.encode()) {
            let _ = transport.socket.send(&d).await;
        }
        return Err(Error::login_refused(format!(
            "{address}: RAKP message 2 does not match the password: wrong password for this user"
        )));
    }

    // RAKP 3 / 4.
    tag = tag.wrapping_add(1);
    let rakp3 = Rakp3 {
        tag,
        status: 0,
        bmc_session_id,
        auth_code: inputs.rakp3_auth_code(suite.auth, kuid),
    };
    let rakp3_datagram = setup_datagram(PayloadType::Rakp3, &rakp3.encode())?;
    let sik = inputs.sik(suite.auth, kuid, kg.as_ref().map(|k| &k[..]));
    let keys = SessionKeys::derive(suite, &sik);
    // If RAKP 4 is lost, the BMC has activated the session and may ignore a repeated RAKP 3.
    // So every retransmission of RAKP 3 comes with a probe inside the would-be session
    // (Set Session Privilege Level 0: "report the current level", changes nothing); an
    // answer that passes the session's integrity check proves the session as RAKP 4 would.
    let probe = IpmiRequest::new(netfn::APP, cmd::SET_SESSION_PRIVILEGE_LEVEL, vec![0], 0);
    let probe_message = probe.encode();
    let mut probe_seq = 0u32;
    let answer = transport
        .exchange_multi(
            "RAKP message 3",
            &transport.retry,
            |n| {
                let mut out = vec![rakp3_datagram.clone()];
                if n > 0 {
                    probe_seq += 1;
                    out.push(v20_datagram(
                        suite,
                        &keys,
                        bmc_session_id,
                        probe_seq,
                        &probe_message,
                    )?);
                }
                Ok(out)
            },
            |d| {
                if rmcp::session_format(d)? != rmcp::SessionFormat::V20 {
                    return Ok(None);
                }
                let (header, payload) = v20::decode_v20(d, Some(&keys))?;
                match header.payload_type {
                    PayloadType::Rakp4 => {
                        let r = Rakp4::decode(&payload)?;
                        Ok((r.tag == tag).then_some(Some(r)))
                    }
                    PayloadType::Ipmi => {
                        Ok(accept_v20(d, suite, &keys, console_session_id, &probe)?.map(|_| None))
                    }
                    _ => Ok(None),
                }
            },
        )
        .await?;
    match answer {
        Some(rakp4) => {
            verify_rakp4(transport, &inputs, suite, kuid, kg.is_some(), &sik, &rakp4).await?
        }
        None => tracing::debug!(
            address,
            "RAKP message 4 lost; the session answered the probe"
        ),
    }
    Ok(State::V20 {
        suite,
        keys,
        console_session_id,
        bmc_session_id,
        next_seq: probe_seq + 1,
    })
}

/// Checks RAKP message 4: its status, and its integrity check value under the SIK.
async fn verify_rakp4(
    transport: &Transport,
    inputs: &RakpInputs,
    suite: CipherSuite,
    kuid: &[u8],
    kg_given: bool,
    sik: &[u8],
    rakp4: &Rakp4,
) -> Result<()> {
    let address = transport.address.as_str();
    if rakp4.status != 0 {
        return Err(rmcp_status_error(address, "RAKP message 3", rakp4.status));
    }
    if ct_eq(&inputs.rakp4_icv(suite.auth, sik), &rakp4.icv) {
        return Ok(());
    }
    // The BMC considers the session open. If it simply has no Kg, its keys come from the
    // password: close the session with them rather than leave it to time out.
    let plain_sik = inputs.sik(suite.auth, kuid, None);
    if kg_given && ct_eq(&inputs.rakp4_icv(suite.auth, &plain_sik), &rakp4.icv) {
        let keys = SessionKeys::derive(suite, &plain_sik);
        let (bmc_session_id, console_session_id) =
            (inputs.bmc_session_id, inputs.console_session_id);
        let req = IpmiRequest::new(
            netfn::APP,
            cmd::CLOSE_SESSION,
            bmc_session_id.to_le_bytes().to_vec(),
            1,
        );
        let message = req.encode();
        let closed = transport
            .exchange(
                "Close Session",
                |n| v20_datagram(suite, &keys, bmc_session_id, 1 + n as u32, &message),
                |d| accept_v20(d, suite, &keys, console_session_id, &req),
            )
            .await;
        tracing::debug!(
            closed = closed.is_ok(),
            "closed the session opened without Kg"
        );
        return Err(Error::login_refused(format!(
            "{address}: RAKP message 4 does not match the BMC key: the BMC uses no Kg, \
             but hexadecimal_kg was given"
        )));
    }
    Err(Error::login_refused(format!(
        "{address}: RAKP message 4 does not match: wrong BMC key (hexadecimal_kg)"
    )))
}

/// A sessionless v1.5 request (authentication type none, session 0).
async fn sessionless_v15(
    transport: &Transport,
    what: &str,
    rq_seq: u8,
    command: u8,
    data: Vec<u8>,
) -> Result<IpmiResponse> {
    let req = IpmiRequest::new(netfn::APP, command, data, rq_seq);
    let packet = V15Packet {
        auth_type: 0,
        session_seq: 0,
        session_id: 0,
        auth_code: None,
        message: req.encode(),
    };
    transport
        .exchange(what, |_| packet.encode(), |d| accept_v15(d, None, 0, &req))
        .await
}

/// The v1.5 authentication type taken when `auth` is not given: MD5, and nothing weaker.
///
/// The capabilities answer is not authenticated, so anyone on the path can forge it. ipmitool
/// (`lan.c`, `ipmi_get_auth_capabilities_cmd`) and with it fence-agents' `fence_ipmilan`
/// without `--auth` fall back to the straight password (sent in clear in every packet) and
/// then to none when the MD5 bit is missing; a forged answer would make them give the
/// password away. Here the straight password is sent only when `auth=password` is given.
fn automatic_v15_auth(address: &str, offered: u8) -> Result<V15AuthType> {
    if offered & V15AuthType::Md5.support_bit() != 0 {
        return Ok(V15AuthType::Md5);
    }
    let mut names = Vec::new();
    for (t, name) in [
        (V15AuthType::Password, "password"),
        (V15AuthType::None, "none"),
    ] {
        if offered & t.support_bit() != 0 {
            names.push(name);
        }
    }
    if offered == 0 {
        return Err(Error::unsupported(format!(
            "{address}: the BMC offers no authentication type for IPMI v1.5 (lan): IPMI v1.5 \
             looks switched off there"
        ))
        .with_remedy(lanplus_remedy()));
    }
    let offers = if names.is_empty() {
        "nothing we support".to_owned()
    } else {
        names.join(", ")
    };
    Err(Error::unsupported(format!(
        "{address}: the BMC does not offer MD5 authentication for IPMI v1.5 (it offers: \
         {offers}); the straight password travels in clear and is sent only when asked for \
         with auth=password"
    ))
    .with_remedy(lanplus_remedy()))
}

/// The hint of a v1.5 session the BMC refuses in a way that BMCs with IPMI v1.5 switched
/// off (lanplus only) do: set `lanplus` (the CLI spells it as the user gave options:
/// `--lanplus` on a command line, `lanplus=1` on stdin).
pub(crate) fn lanplus_remedy() -> Remedy {
    Remedy::new("the BMC may require IPMI v2.0", crate::LANPLUS.name, "")
}

/// Opens an IPMI v1.5 session: [Get Channel Authentication Capabilities], Get Session
/// Challenge, Activate Session.
pub(crate) async fn open_v15(
    transport: &Transport,
    config: &IpmiConfig,
    auth: Option<V15AuthType>,
) -> Result<State> {
    let address = transport.address.as_str();
    let password = v15_password(config.password.expose().as_bytes())?;
    let auth = match auth {
        Some(a) => a,
        None => {
            let resp = sessionless_v15(
                transport,
                "Get Channel Authentication Capabilities",
                1,
                cmd::GET_CHANNEL_AUTH_CAPABILITIES,
                ChannelAuthCapabilities::request(config.privilege, false),
            )
            .await?;
            if resp.completion_code != cc::OK {
                return Err(completion_error(
                    address,
                    "Get Channel Authentication Capabilities",
                    "Get Channel Authentication Capabilities",
                    resp.completion_code,
                ));
            }
            let caps = ChannelAuthCapabilities::decode(&resp.data)?;
            automatic_v15_auth(address, caps.auth_types)?
        }
    };

    let resp = sessionless_v15(
        transport,
        "Get Session Challenge",
        2,
        cmd::GET_SESSION_CHALLENGE,
        v15::session_challenge_request(auth.id(), config.username.as_bytes())?,
    )
    .await?;
    match resp.completion_code {
        cc::OK => {}
        0x81 | 0x82 => {
            return Err(Error::login_refused(format!(
                "{address}: Get Session Challenge refused: {} (cc {:#04x})",
                if resp.completion_code == 0x81 {
                    "invalid user name"
                } else {
                    "null user name not enabled"
                },
                resp.completion_code
            )));
        }
        code => {
            // Not about the user: the BMC does not take this v1.5 session at all.
            return Err(completion_error(
                address,
                "Get Session Challenge",
                "Get Session Challenge",
                code,
            )
            .with_remedy(lanplus_remedy()));
        }
    }
    let challenge = SessionChallenge::decode(&resp.data)?;

    let initial_outbound_seq = random_nonzero_u32();
    let req = IpmiRequest::new(
        netfn::APP,
        cmd::ACTIVATE_SESSION,
        v15::activate_session_request(
            auth.id(),
            config.privilege,
            &challenge.challenge,
            initial_outbound_seq,
        ),
        3,
    );
    let message = req.encode();
    let sid = challenge.temp_session_id;
    let packet = V15Packet {
        auth_type: auth.id(),
        session_seq: 0,
        session_id: sid,
        auth_code: v15_auth_code(auth, &password, sid, 0, &message),
        message,
    };
    // The answer to Activate Session carries the new session ID, so it is matched by the
    // request's sequence number and verified below rather than by session ID.
    let resp = transport
        .exchange(
            "Activate Session",
            |_| packet.encode(),
            |d| {
                if rmcp::session_format(d)? != rmcp::SessionFormat::V15 {
                    return Ok(None);
                }
                let p = V15Packet::decode(d)?;
                let r = IpmiResponse::decode(&p.message)?;
                Ok(r.answers(&req).then_some((p, r)))
            },
        )
        .await
        .map_err(|e| {
            silence_is_refusal(
                e,
                "the BMC answered Get Session Challenge but not Activate Session, which proves \
                 the password: IPMI v1.5 BMCs (ipmi_sim, ipmitool -I lan sees the same) ignore a \
                 wrong password silently",
            )
        })?;
    let (packet, resp) = resp;
    match resp.completion_code {
        cc::OK => {}
        code @ (0x81..=0x83) => {
            return Err(Error::unreachable(format!(
                "{address}: Activate Session refused: no session slot available (cc {code:#04x})"
            )));
        }
        code @ (0x84..=0x86) => {
            return Err(Error::login_refused(format!(
                "{address}: Activate Session refused (cc {code:#04x}): wrong password or privilege level not allowed"
            )));
        }
        code => {
            return Err(completion_error(
                address,
                "Activate Session",
                "Activate Session",
                code,
            ));
        }
    }
    let activated = ActivatedSession::decode(&resp.data)?;
    if auth != V15AuthType::None {
        let expected = v15_auth_code(
            auth,
            &password,
            packet.session_id,
            packet.session_seq,
            &packet.message,
        );
        let verified =
            matches!((expected, packet.auth_code), (Some(e), Some(got)) if ct_eq(&e, &got));
        if !verified {
            return Err(Error::misbehaved(format!(
                "{address}: the answer to Activate Session has a wrong authentication code"
            )));
        }
    }
    if activated.auth_type != auth.id() {
        return Err(Error::misbehaved(format!(
            "{address}: Activate Session switched authentication type {} to {}",
            auth.id(),
            activated.auth_type
        )));
    }
    Ok(State::V15 {
        auth,
        password,
        session_id: activated.session_id,
        next_seq: activated.initial_inbound_seq.max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fence_core::ErrorKind;

    #[test]
    fn md5_is_taken_whenever_it_is_offered() {
        assert_eq!(automatic_v15_auth("bmc", 0x17).unwrap(), V15AuthType::Md5);
        assert_eq!(
            automatic_v15_auth("bmc", V15AuthType::Md5.support_bit()).unwrap(),
            V15AuthType::Md5
        );
    }

    #[test]
    fn without_md5_nothing_is_chosen_and_the_message_names_the_option() {
        for offered in [0x11, V15AuthType::Password.support_bit(), 0x01, 0x02] {
            let e = automatic_v15_auth("bmc", offered).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{offered:#x}");
            assert!(e.to_string().contains("auth=password"), "{e}");
        }
        let e = automatic_v15_auth("bmc", 0x11).unwrap_err().to_string();
        assert!(e.contains("it offers: password, none"), "{e}");
        let e = automatic_v15_auth("bmc", 0).unwrap_err();
        assert!(
            e.to_string().contains("offers no authentication type"),
            "{e}"
        );
        let remedies = &e.context().unwrap().remedies;
        assert_eq!(remedies.len(), 1, "{remedies:?}");
        assert_eq!(remedies[0].option, "lanplus");
    }
}
