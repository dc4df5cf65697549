//! Hostile JSON: a service that answers every request with random JSON documents (any
//! shape, any `PowerState`, huge numbers, deep nesting) or random bytes, under random
//! HTTP status codes. Properties: nothing panics, every call ends within its bound, and a
//! state is only ever read as Off when the document said `"PowerState": "Off"`, so the
//! engine never reports a verified off that the service did not state. "Stated" means a
//! `200 OK` answer with a JSON body: the only GET answer a state is read from (201, 204 and
//! the other 2xx codes are refused by the client, see `RedfishClient::get_json`).
//!
//! Bounded for CI: a fixed seed, `PROPTEST_CASES` (default 40 per property) cases, a few
//! seconds; `FENCE_PROPTEST_SEED=random` draws fresh cases (see
//! `fence_core::testkit::proptest_support`); found failures stay below as regression tests.
#![allow(clippy::unwrap_used)]

use fence_test_support::https::{self, Certificate, HttpsServer, Reply, fixture};

use std::time::Duration;

use fence_core::testkit::conformance::fast_timing;
use fence_core::{Action, Engine, FenceDevice, PowerState, Request};
use fence_redfish::{RedfishConfig, RedfishDevice, TlsVerify};
use proptest::prelude::*;
use serde_json::Value;

/// One canned answer: status and body bytes.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// What the hostile service answers, by request kind.
#[derive(Clone, Debug)]
struct Script {
    root: Answer,
    systems: Answer,
    system: Answer,
    reset: Answer,
}

/// Starts an HTTPS service answering from `script`; returns its port.
async fn serve(script: Script) -> u16 {
    HttpsServer::start(
        &Certificate::fixture("leaf"),
        move |request: &https::Request| {
            let answer = match (request.method.as_str(), request.path.trim_end_matches('/')) {
                ("GET", "/redfish/v1") => script.root.clone(),
                ("GET", "/redfish/v1/Systems") => script.systems.clone(),
                ("GET", _) => script.system.clone(),
                ("POST", _) => script.reset.clone(),
                _ => Answer {
                    status: 204,
                    body: Vec::new(),
                },
            };
            Reply::json(answer.status, answer.body)
        },
    )
    .await
    .port()
}

fn device(port: u16, systems_uri: Option<&str>) -> RedfishDevice {
    let mut c = RedfishConfig::new("127.0.0.1", "admin", "pw")
        .with_port(port)
        .with_tls(TlsVerify::Verify {
            ca_file: Some(fixture("ca.pem")),
        })
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(2));
    if let Some(uri) = systems_uri {
        c = c.with_systems_uri(uri);
    }
    RedfishDevice::new(c).unwrap()
}

/// Any JSON document, biased towards Redfish shapes.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("Off".to_owned()),
            Just("On".to_owned()),
            Just(" Off ".to_owned()),
            Just("off".to_owned()),
            Just("PoweringOff".to_owned()),
            Just("/redfish/v1/Systems/1".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("PowerState".to_owned()),
            Just("Members".to_owned()),
            Just("@odata.id".to_owned()),
            Just("Systems".to_owned()),
            Just("Actions".to_owned()),
            Just("#ComputerSystem.Reset".to_owned()),
            Just("target".to_owned()),
            Just("ResetType@Redfish.AllowableValues".to_owned()),
            Just("error".to_owned()),
            Just("message".to_owned()),
            Just("@Message.ExtendedInfo".to_owned()),
            Just("Message".to_owned()),
            "[a-zA-Z@.#]{1,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: a JSON document, or random bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => json().prop_map(|v| {
            // Truncated JSON.
            let mut b = serde_json::to_vec(&v).unwrap();
            b.truncate(b.len() / 2);
            b
        }),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => Just(200u16),
        1 => Just(201u16),
        1 => Just(204u16),
        1 => Just(400u16),
        1 => Just(401u16),
        1 => Just(404u16),
        1 => Just(500u16),
        1 => Just(503u16),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    (status(), body()).prop_map(|(status, body)| Answer { status, body })
}

/// True when the body is a JSON object whose `PowerState` says Off.
fn says_off(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("PowerState")
                .and_then(Value::as_str)
                .map(|s| s.trim() == "Off")
        })
        .unwrap_or(false)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Fixed seed in CI, regressions kept (see `fence_core::testkit::proptest_support`).
fn config() -> ProptestConfig {
    fence_core::testkit::proptest_support::config(40)
}

/// The state read from a system answer, with the stateless parts of the service answering
/// `404`.
fn state_from(system: Answer) -> fence_core::Result<PowerState> {
    let rt = runtime();
    let port = rt.block_on(serve(Script {
        root: Answer {
            status: 404,
            body: Vec::new(),
        },
        systems: Answer {
            status: 404,
            body: Vec::new(),
        },
        system,
        reset: Answer {
            status: 204,
            body: Vec::new(),
        },
    }));
    let dev = device(port, Some("/redfish/v1/Systems/1"));
    let state = rt.block_on(dev.power_state(""));
    let _ = rt.block_on(dev.close());
    state
}

/// Regression (a fresh clone's CI run drew it): a Systems answer with HTTP 201 and
/// `"PowerState": " Off "` was read as Off while the oracle said "not stated". A state is
/// read only from a 200 OK answer: 201, 202, 203, 204 and 206 are refused.
#[test]
fn a_get_answered_with_another_2xx_than_200_is_no_state() {
    let off = br#"{"PowerState": " Off "}"#.to_vec();
    for status in [201u16, 202, 203, 204, 206] {
        let state = state_from(Answer {
            status,
            body: off.clone(),
        });
        let e = state.expect_err(&format!("HTTP {status} must not give a state"));
        assert_eq!(e.kind(), fence_core::ErrorKind::Misbehaved, "{status}: {e}");
        assert!(e.to_string().contains("200 OK"), "{status}: {e}");
    }
    assert_eq!(
        state_from(Answer {
            status: 200,
            body: off
        })
        .unwrap(),
        PowerState::Off
    );
    let e = state_from(Answer {
        status: 204,
        body: Vec::new(),
    })
    .unwrap_err();
    assert_eq!(e.kind(), fence_core::ErrorKind::Misbehaved, "{e}");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_state_is_off_only_when_the_service_says_off(system in answer()) {
        let rt = runtime();
        let said_off = system.status == 200 && says_off(&system.body);
        let port = rt.block_on(serve(Script {
            root: Answer { status: 404, body: Vec::new() },
            systems: Answer { status: 404, body: Vec::new() },
            system: system.clone(),
            reset: Answer { status: 204, body: Vec::new() },
        }));
        let dev = device(port, Some("/redfish/v1/Systems/1"));
        let started = std::time::Instant::now();
        let state = rt.block_on(dev.power_state(""));
        prop_assert!(started.elapsed() < Duration::from_secs(5));
        if let Ok(PowerState::Off) = state {
            prop_assert!(said_off, "read Off from {:?}", String::from_utf8_lossy(&system.body));
        }
        if let Err(e) = &state {
            prop_assert!(!e.to_string().is_empty());
        }
        let _ = rt.block_on(dev.close());
    }

    #[test]
    fn discovery_and_resets_never_panic_and_never_fake_a_verified_off(
        root in answer(), systems in answer(), system in answer(), reset in answer(),
        discover in any::<bool>(),
    ) {
        let rt = runtime();
        let said_off = system.status == 200 && says_off(&system.body);
        let port = rt.block_on(serve(Script { root, systems, system, reset }));
        let dev = device(port, (!discover).then_some("/redfish/v1/Systems/1"));
        let timing = fence_core::Timing {
            power_timeout: Some(Duration::from_millis(300)),
            ..fast_timing()
        };
        let report = rt.block_on(Engine::new(timing).run(&dev, &Request::plugless(Action::Off)));
        if report.is_success() {
            prop_assert!(said_off, "off succeeded: {:?}", report);
            prop_assert!(report.off_verified(), "{:?}", report);
        }
        let _ = rt.block_on(dev.close());
    }
}
