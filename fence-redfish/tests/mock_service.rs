//! The Redfish backend against an in-process HTTPS mock: request counts, headers, session
//! authentication, refused resets, discovery errors, TLS and timeouts.

use std::time::{Duration, Instant};

use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{
    Action, Answer, Engine, ErrorKind, FenceDevice, Outcome, PowerState, Request, Retry, Timing,
};
use fence_redfish::{AuthMethod, RedfishConfig, RedfishDevice, TlsVerify};
use fence_test_support::https::fixture;
use fence_test_support::redfish::{Mock, PASSWORD, System, USER, redfish_error};
use serde_json::{Value, json};

fn config(mock: &Mock) -> RedfishConfig {
    RedfishConfig::new("127.0.0.1", USER, PASSWORD)
        .with_port(mock.port())
        .with_tls(TlsVerify::Verify {
            ca_file: Some(fixture("ca.pem")),
        })
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(3))
}

fn device(mock: &Mock, systems_uri: Option<String>) -> RedfishDevice {
    let mut c = config(mock);
    if let Some(uri) = systems_uri {
        c = c.with_systems_uri(uri);
    }
    RedfishDevice::new(c).expect("device")
}

/// A device for the mock's first system with `auth_method=session`.
fn session_device(mock: &Mock) -> RedfishDevice {
    RedfishDevice::new(
        config(mock)
            .with_systems_uri(mock.system_uri(0))
            .with_auth(AuthMethod::Session),
    )
    .expect("device")
}

async fn run(device: &RedfishDevice, action: Action) -> fence_core::Report {
    Engine::new(fast_timing())
        .run(device, &Request::plugless(action))
        .await
}

#[tokio::test]
async fn status_costs_one_request_on_one_connection_with_the_redfish_headers() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    let report = run(&dev, Action::Status).await;
    assert_eq!(
        report.result.unwrap(),
        Outcome::Status {
            state: PowerState::On
        }
    );
    assert_eq!(mock.lines(), ["GET /redfish/v1/Systems/1"]);
    assert_eq!(mock.connections(), 1);
    assert_eq!(dev.requests_sent(), 1);
    let r = &mock.requests()[0];
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("odata-version"), Some("4.0"));
    assert!(r.header("authorization").unwrap().starts_with("Basic "));
    assert!(r.header("user-agent").unwrap().starts_with("fence-rs/"));
}

#[tokio::test]
async fn verified_off_costs_three_requests_on_one_connection() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    let report = run(&dev, Action::Off).await;
    assert_eq!(report.result.unwrap(), Outcome::PoweredOff);
    assert_eq!(
        mock.lines(),
        [
            "GET /redfish/v1/Systems/1",
            "POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
            "GET /redfish/v1/Systems/1",
        ]
    );
    assert_eq!(mock.connections(), 1, "one TLS handshake for the whole run");
    let post = &mock.requests()[1];
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("odata-version"), Some("4.0"));
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body, serde_json::json!({"ResetType": "ForceOff"}));
    assert_eq!(mock.power(0), "Off");
}

#[tokio::test]
async fn the_conformance_suite_passes_against_the_mock() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    conformance::run_all(&dev, "", fast_timing()).await;
    assert_eq!(mock.power(0), "On");
    assert_eq!(mock.connections(), 1);
    conformance::usable_after_close(&dev, "").await;
}

#[tokio::test]
async fn discovery_of_the_only_system_costs_two_requests_once() {
    let mock = Mock::start(vec![System::new("only", "Off")]).await;
    let dev = device(&mock, None);
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::Off);
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::Off);
    assert_eq!(
        mock.lines(),
        [
            "GET /redfish/v1",
            "GET /redfish/v1/Systems",
            "GET /redfish/v1/Systems/only",
            "GET /redfish/v1/Systems/only",
        ]
    );
    assert_eq!(dev.system_uri().await.unwrap(), "/redfish/v1/Systems/only");
}

#[tokio::test]
async fn several_systems_without_systems_uri_fail_and_name_them() {
    let mock = Mock::start(vec![System::new("a", "On"), System::new("b", "Off")]).await;
    let dev = device(&mock, None);
    let report = run(&dev, Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(msg.contains("/redfish/v1/Systems/a"), "{msg}");
    assert!(msg.contains("/redfish/v1/Systems/b"), "{msg}");
    assert!(msg.contains("set systems_uri"), "{msg}");
    assert!(report.commands.is_empty());
    assert_eq!(mock.power(0), "On");
    assert_eq!(mock.power(1), "Off");
}

/// Issue 16: a Systems collection split over pages (one member a page) is read whole, so
/// two systems are two, not "the only system" of the first page, which would be fenced.
#[tokio::test]
async fn a_paged_systems_collection_is_read_whole() {
    let mock = Mock::start(vec![System::new("a", "On"), System::new("b", "On")]).await;
    mock.with_state(|s| s.paging.page_size = Some(1));
    let dev = device(&mock, None);
    let report = run(&dev, Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("/redfish/v1/Systems/a") && msg.contains("/redfish/v1/Systems/b"),
        "{msg}"
    );
    assert!(report.commands.is_empty());
    assert_eq!(
        (mock.power(0).as_str(), mock.power(1).as_str()),
        ("On", "On")
    );
    assert_eq!(
        mock.lines(),
        [
            "GET /redfish/v1",
            "GET /redfish/v1/Systems",
            "GET /redfish/v1/Systems?$skip=1"
        ]
    );

    // One system over one page of one: discovered as before.
    let mock = Mock::start(vec![System::new("only", "On")]).await;
    mock.with_state(|s| s.paging.page_size = Some(1));
    let dev = device(&mock, None);
    assert_eq!(dev.system_uri().await.unwrap(), "/redfish/v1/Systems/only");
}

/// A count that disagrees with the members read, or next links that loop, are refused
/// before anything is switched.
#[tokio::test]
async fn a_collection_that_miscounts_or_loops_is_refused() {
    let mock = Mock::start(vec![System::new("a", "On")]).await;
    mock.with_state(|s| s.paging.count = Some(2));
    let report = run(&device(&mock, None), Action::Off).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    assert!(
        err.to_string().contains("counts 2 members") && err.to_string().contains("1 were read"),
        "{err}"
    );
    assert_eq!(mock.power(0), "On");

    let mock = Mock::start(vec![System::new("a", "On")]).await;
    mock.with_state(|s| s.paging.loop_back = true);
    let report = run(&device(&mock, None), Action::Off).await;
    let err = report.result.unwrap_err();
    assert!(err.to_string().contains("leads back to"), "{err}");
    assert_eq!(mock.power(0), "On");
    assert!(mock.lines().len() <= 3, "{:?}", mock.lines());
}

#[tokio::test]
async fn a_service_root_without_systems_is_a_clear_error() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.with_state(|s| s.root_has_systems = false);
    let err = device(&mock, None).power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved);
    assert!(err.to_string().contains("no Systems collection"), "{err}");
}

#[tokio::test]
async fn an_empty_systems_collection_is_a_clear_error() {
    let mock = Mock::start(vec![]).await;
    let err = device(&mock, None).power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved);
    assert!(err.to_string().contains("no members"), "{err}");
}

/// Issue 16: a service that answers an error as HTTP/1.0 without Content-Length and closes
/// without TLS close_notify (DMTF's mockup server) still has its status shown: a mistyped
/// systems_uri is a 404 that says the URI does not exist, not a lost connection.
#[tokio::test]
async fn an_error_status_is_shown_also_when_the_connection_is_then_cut() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.with_state(|s| s.cut_errors = true);
    let dev = device(&mock, Some("/redfish/v1/Systems/NOPE".into()));
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{err:?}");
    let detail = format!("{err:?}");
    assert!(detail.contains("HTTP 404"), "{detail}");
    assert!(detail.contains("check systems_uri"), "{detail}");
    assert!(!detail.contains("close_notify"), "{detail}");
    match err.context().and_then(|c| c.answer.as_ref()) {
        Some(Answer::Http { status, .. }) => assert_eq!(*status, 404),
        other => panic!("{other:?}"),
    }
    // A refused reset, cut the same way, keeps its status and message too.
    mock.reply_to_reset(
        "ForceOff",
        400,
        redfish_error("The request is refused", &[]),
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let err = dev.set_power("", PowerState::Off).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 400"), "{err}");
    assert!(err.to_string().contains("The request is refused"), "{err}");
}

#[tokio::test]
async fn an_unknown_systems_uri_is_plug_not_found() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = device(&mock, Some("/redfish/v1/Systems/nope".into()));
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlugNotFound, "{err}");
}

#[tokio::test]
async fn a_refused_reset_fails_at_once_with_the_services_message() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.reply_to_reset(
        "ForceOff",
        400,
        redfish_error(
            "A general error has occurred. See ExtendedInfo for more information.",
            &[(
                "Base.1.8.ActionNotSupported",
                Some("The action ForceOff is locked by the administrator."),
            )],
        ),
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let mut timing: Timing = fast_timing();
    timing.power_timeout = Some(Duration::from_secs(20));
    let started = Instant::now();
    let report = Engine::new(timing)
        .run(&dev, &Request::plugless(Action::Off))
        .await;
    assert!(started.elapsed() < Duration::from_secs(2), "not at once");
    let err = report.result.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("The action ForceOff is locked by the administrator."),
        "{msg}"
    );
    assert!(msg.contains("HTTP 400"), "{msg}");
    // status, refused POST, the engine's read after the refusal: nothing more.
    assert_eq!(mock.lines().len(), 3, "{:?}", mock.lines());
    assert_eq!(mock.power(0), "On");
    // The same as data: the request as the service logged it, the answer as it sent it,
    // and where (said by the engine from the device).
    let c = err.context().expect("a refused reset carries its exchange");
    assert_eq!(
        c.request.as_ref(),
        Some(&mock.lines()[1]),
        "the refused POST"
    );
    match &c.answer {
        Some(Answer::Http {
            status,
            message_ids,
            message,
        }) => {
            assert_eq!(*status, 400);
            assert!(
                message_ids.contains(&"Base.1.8.ActionNotSupported".to_owned()),
                "{message_ids:?}"
            );
            assert_eq!(
                message.as_deref(),
                Some("The action ForceOff is locked by the administrator.")
            );
        }
        other => panic!("not an HTTP answer: {other:?}"),
    }
    assert_eq!(c.backend, Some("redfish"));
    assert_eq!(c.address.as_deref(), Some(dev.address().as_str()));
    assert!(
        c.address
            .as_deref()
            .unwrap()
            .contains(&mock.port().to_string())
    );
}

#[tokio::test]
async fn a_400_is_never_retried_but_a_503_may_pass() {
    // `on` retries what may pass until power_timeout; an HTTP 400 is refused again, so the
    // same request is not sent twice.
    let mock = Mock::start(vec![System::new("1", "Off")]).await;
    mock.reply_to_reset(
        "On",
        400,
        redfish_error("Bad request", &[("Base.1.8.PropertyValueNotInList", None)]),
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let mut timing: Timing = fast_timing();
    timing.power_timeout = Some(Duration::from_secs(20));
    let started = Instant::now();
    let report = Engine::new(timing.clone())
        .run(&dev, &Request::plugless(Action::On))
        .await;
    let err = report.result.unwrap_err();
    assert_eq!(err.retry(), Retry::Never, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "not at once");
    let posts = |m: &Mock| m.lines().iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(posts(&mock), 1, "{:?}", mock.lines());

    let mock = Mock::start(vec![System::new("1", "Off")]).await;
    mock.reply_to_reset("On", 503, redfish_error("Service busy", &[]), None);
    let dev = device(&mock, Some(mock.system_uri(0)));
    timing.power_timeout = Some(Duration::from_millis(1500));
    let report = Engine::new(timing)
        .run(&dev, &Request::plugless(Action::On))
        .await;
    let err = report.result.unwrap_err();
    assert!(posts(&mock) >= 2, "a 503 is sent again: {:?}", mock.lines());
    assert_eq!(err.retry(), Retry::Later, "{err}");

    // iLO refuses a reset during a power transition with a 400 that names the state: that
    // one may pass, so `on` keeps its retries.
    let mock = Mock::start(vec![System::new("1", "Off")]).await;
    mock.reply_to_reset(
        "On",
        400,
        redfish_error(
            "See @Message.ExtendedInfo for more information.",
            &[("iLO.2.14.InvalidOperationForSystemState", None)],
        ),
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let mut timing: Timing = fast_timing();
    timing.power_timeout = Some(Duration::from_millis(1500));
    let report = Engine::new(timing)
        .run(&dev, &Request::plugless(Action::On))
        .await;
    let err = report.result.unwrap_err();
    assert_eq!(err.retry(), Retry::Later, "{err}");
    assert!(posts(&mock) >= 2, "sent again: {:?}", mock.lines());
}

#[tokio::test]
async fn an_ilo_style_400_for_a_system_already_off_is_settled_by_a_read() {
    // The first read says PoweringOff (on, for fencing); by the time the reset arrives the
    // system is off and the service refuses ForceOff as iLO does.
    let mock = Mock::start(vec![System::new("1", "PoweringOff")]).await;
    mock.reply_to_reset(
        "ForceOff",
        400,
        redfish_error(
            "See @Message.ExtendedInfo for more information.",
            &[("iLO.2.14.InvalidOperationForSystemState", None)],
        ),
        Some("Off"),
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let report = run(&dev, Action::Off).await;
    assert_eq!(report.result.as_ref().ok(), Some(&Outcome::PoweredOff));
    assert!(!report.commands[0].accepted);
    assert!(report.off_verified());
}

#[tokio::test]
async fn diag_answered_501_fails_at_once_with_the_message() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.reply_to_reset(
        "Nmi",
        501,
        redfish_error("Power state Nmi is not supported", &[]),
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let report = run(&dev, Action::Diag).await;
    let err = report.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(
        err.to_string().contains("Power state Nmi is not supported"),
        "{err}"
    );
    assert_eq!(mock.lines().len(), 2);
}

#[tokio::test]
async fn reset_types_come_from_the_allowable_values() {
    let mut sys = System::new("1", "Off");
    sys.allowed = Some(vec![
        "ForceOn".into(),
        "ForceOff".into(),
        "PowerCycle".into(),
    ]);
    let mock = Mock::start(vec![sys]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    assert_eq!(
        run(&dev, Action::On).await.result.unwrap(),
        Outcome::PoweredOn
    );
    dev.power_cycle("").await.unwrap();
    let bodies: Vec<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body)
        .collect();
    assert_eq!(
        bodies,
        [
            r#"{"ResetType":"ForceOn"}"#,
            r#"{"ResetType":"PowerCycle"}"#
        ]
    );
    // No Nmi offered: diag is refused before anything is sent.
    let before = mock.lines().len();
    let err = dev.diag("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(mock.lines().len(), before);
}

/// Issue 16: a service that lists its ResetTypes in an ActionInfo resource (OpenBMC's
/// bmcweb: `@Redfish.ActionInfo`, no AllowableValues annotation) gets one of those: here
/// only ForceOn and PowerCycle, where the preferred On and ForceRestart are refused with 400.
#[tokio::test]
async fn reset_types_come_from_the_action_info_when_the_system_lists_none() {
    let mut sys = System::new("1", "Off");
    sys.allowed = Some(vec![
        "ForceOn".into(),
        "ForceOff".into(),
        "PowerCycle".into(),
    ]);
    sys.action_info = true;
    let mock = Mock::start(vec![sys]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    assert_eq!(
        run(&dev, Action::On).await.result.unwrap(),
        Outcome::PoweredOn
    );
    dev.power_cycle("").await.unwrap();
    assert_eq!(
        run(&dev, Action::Off).await.result.unwrap(),
        Outcome::PoweredOff
    );
    let posts: Vec<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body)
        .collect();
    assert_eq!(
        posts,
        [
            r#"{"ResetType":"ForceOn"}"#,
            r#"{"ResetType":"PowerCycle"}"#,
            r#"{"ResetType":"ForceOff"}"#
        ]
    );
    let info_reads = mock
        .lines()
        .iter()
        .filter(|l| l.ends_with("/ResetActionInfo"))
        .count();
    assert_eq!(info_reads, 1, "read once: {:?}", mock.lines());
}

/// Issue 16: a reset answered `202 Accepted` with a task monitor (iDRAC, newer iLO) is
/// followed until the task ends; a task that ends in Exception fails with the service's
/// message, before any power-state wait.
#[tokio::test]
async fn a_reset_task_is_followed_and_its_failure_shown() {
    let running = json!({"TaskState": "Running", "PercentComplete": 50});
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.reply_to_reset_with_task(
        "ForceOff",
        "/redfish/v1/TaskService/TaskMonitors/7",
        vec![
            (202, running.clone()),
            (200, json!({"TaskState": "Completed", "TaskStatus": "OK"})),
        ],
        Some("Off"),
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    assert_eq!(
        run(&dev, Action::Off).await.result.unwrap(),
        Outcome::PoweredOff
    );
    let polls = mock
        .lines()
        .iter()
        .filter(|l| l.as_str() == "GET /redfish/v1/TaskService/TaskMonitors/7")
        .count();
    assert_eq!(polls, 2, "{:?}", mock.lines());

    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.reply_to_reset_with_task(
        "ForceOff",
        "/redfish/v1/TaskService/TaskMonitors/8",
        vec![
            (202, running),
            (
                200,
                json!({"TaskState": "Exception", "TaskStatus": "Critical",
                       "Messages": [{"MessageId": "Base.1.8.GeneralError",
                                     "Message": "The power controller did not respond."}]}),
            ),
        ],
        None,
    );
    let dev = device(&mock, Some(mock.system_uri(0)));
    let started = Instant::now();
    let mut timing: Timing = fast_timing();
    timing.power_timeout = Some(Duration::from_secs(3));
    timing.retry_on = 0;
    let report = Engine::new(timing)
        .run(&dev, &Request::plugless(Action::Off))
        .await;
    let err = report.result.unwrap_err();
    assert!(
        err.to_string()
            .contains("the task ended Exception: The power controller did not respond."),
        "{err}"
    );
    assert_eq!(mock.power(0), "On");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A monitor that fails to answer (500, or gone) ends the following, not the fence: the
    // power state decides, and the machine goes off a moment later (review: a failed poll
    // failed the reset, and the one read after it still saw On).
    for (status, body) in [
        (500, redfish_error("Internal error", &[])),
        (410, Value::Null),
    ] {
        let mock = Mock::start(vec![System::new("1", "On")]).await;
        mock.reply_to_reset_with_task(
            "ForceOff",
            "/redfish/v1/TaskService/TaskMonitors/9",
            vec![(status, body)],
            None,
        );
        mock.set_power_after(0, "Off", Duration::from_millis(1500));
        let dev = device(&mock, Some(mock.system_uri(0)));
        assert_eq!(
            run(&dev, Action::Off).await.result.unwrap(),
            Outcome::PoweredOff,
            "monitor answering {status}"
        );
    }
}

#[tokio::test]
async fn a_reset_without_a_prior_read_reads_the_system_first() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = device(&mock, Some(mock.system_uri(0)));
    dev.set_power("", PowerState::Off).await.unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /redfish/v1/Systems/1",
            "POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        ]
    );
}

#[tokio::test]
async fn a_wrong_password_is_login_refused_and_never_shown() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let c = RedfishConfig::new("127.0.0.1", USER, "wrong-pw-123")
        .with_port(mock.port())
        .with_tls(TlsVerify::Insecure)
        .with_systems_uri(mock.system_uri(0));
    let dev = RedfishDevice::new(c).unwrap();
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
    let shown = format!("{err} {err:?} {dev:?}");
    // A login refusal shows the HTTP status, never the service's prose (a scrubbed word of
    // it would tell the password).
    assert!(shown.contains("HTTP 401 Unauthorized"), "{shown}");
    assert!(!shown.contains("Incorrect username or password"), "{shown}");
    assert!(!shown.contains("wrong-pw-123"), "{shown}");
}

#[tokio::test]
async fn session_auth_logs_in_once_uses_the_token_and_deletes_the_session() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = session_device(&mock);
    assert_eq!(
        run(&dev, Action::Off).await.result.unwrap(),
        Outcome::PoweredOff
    );
    dev.close().await.unwrap();
    assert_eq!(
        mock.lines(),
        [
            "POST /redfish/v1/SessionService/Sessions",
            "GET /redfish/v1/Systems/1",
            "POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
            "GET /redfish/v1/Systems/1",
            "DELETE /redfish/v1/SessionService/Sessions/1",
        ]
    );
    let requests = mock.requests();
    let login: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(login["UserName"], USER);
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    for r in &requests[1..] {
        assert_eq!(r.header("x-auth-token"), Some("token-1"), "{r:?}");
        assert_eq!(
            r.header("authorization"),
            None,
            "no basic auth with sessions"
        );
    }
    mock.with_state(|s| assert!(s.sessions.is_empty(), "session left behind"));
    assert_eq!(mock.connections(), 1);
}

#[tokio::test]
async fn the_session_is_deleted_after_a_failure_too() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.reply_to_reset("ForceOff", 500, redfish_error("Internal error", &[]), None);
    let dev = session_device(&mock);
    assert!(run(&dev, Action::Off).await.result.is_err());
    dev.close().await.unwrap();
    mock.with_state(|s| {
        assert_eq!(s.sessions_created, 1);
        assert!(s.sessions.is_empty(), "session left behind");
    });
    assert_eq!(
        mock.lines().last().map(String::as_str),
        Some("DELETE /redfish/v1/SessionService/Sessions/1")
    );
}

#[tokio::test]
async fn an_expired_session_token_leads_to_one_new_login() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = session_device(&mock);
    dev.power_state("").await.unwrap();
    mock.with_state(|s| s.sessions.clear());
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::On);
    mock.with_state(|s| assert_eq!(s.sessions_created, 2));
    dev.close().await.unwrap();
    mock.with_state(|s| assert!(s.sessions.is_empty()));
}

#[tokio::test]
async fn session_login_refused_and_missing_session_service() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let c = RedfishConfig::new("127.0.0.1", USER, "bad")
        .with_port(mock.port())
        .with_tls(TlsVerify::Insecure)
        .with_systems_uri(mock.system_uri(0))
        .with_auth(AuthMethod::Session);
    let dev = RedfishDevice::new(c).unwrap();
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(
        err.to_string()
            .contains("session login refused (HTTP 401 Unauthorized)")
            && !err.to_string().contains("Invalid username or password"),
        "{err}"
    );
    dev.close().await.unwrap();
    assert!(!mock.lines().iter().any(|l| l.starts_with("DELETE")));
    // The refused login is checked against the service root (read without credentials).
    let root = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/redfish/v1")
        .unwrap();
    assert_eq!(root.header("authorization"), None);

    mock.with_state(|s| s.sessions_enabled = false);
    let dev = session_device(&mock);
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("auth_method=basic"), "{err}");
}

#[tokio::test]
async fn certificates_are_verified_unless_ssl_insecure() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let base = RedfishConfig::new("127.0.0.1", USER, PASSWORD)
        .with_port(mock.port())
        .with_systems_uri(mock.system_uri(0));

    let err = RedfishDevice::new(base.clone())
        .unwrap()
        .power_state("")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(
        mock.lines().is_empty(),
        "nothing sent to an unverified peer"
    );

    let with_ca = base.clone().with_tls(TlsVerify::Verify {
        ca_file: Some(fixture("ca.pem")),
    });
    assert_eq!(
        RedfishDevice::new(with_ca)
            .unwrap()
            .power_state("")
            .await
            .unwrap(),
        PowerState::On
    );
    let insecure = base.with_tls(TlsVerify::Insecure);
    assert_eq!(
        RedfishDevice::new(insecure)
            .unwrap()
            .power_state("")
            .await
            .unwrap(),
        PowerState::On
    );
}

#[tokio::test]
async fn the_host_name_must_match_the_certificate() {
    // A certificate from the trusted CA, but for bmc.invalid, not for 127.0.0.1.
    let mock = Mock::start_with_cert(vec![System::new("1", "On")], "wrongname").await;
    let c = RedfishConfig::new("127.0.0.1", USER, PASSWORD)
        .with_port(mock.port())
        .with_tls(TlsVerify::Verify {
            ca_file: Some(fixture("ca.pem")),
        })
        .with_systems_uri(mock.system_uri(0));
    let err = RedfishDevice::new(c)
        .unwrap()
        .power_state("")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert!(err.to_string().contains("connect by a name"), "{err}");
    assert!(mock.lines().is_empty());
}

#[tokio::test]
async fn a_silent_service_is_unreachable_within_the_request_timeout() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    mock.with_state(|s| s.silent = true);
    let dev = RedfishDevice::new(
        config(&mock)
            .with_systems_uri(mock.system_uri(0))
            .with_timeouts(Duration::from_millis(300), Duration::from_millis(500)),
    )
    .unwrap();
    let started = Instant::now();
    let err = dev.power_state("").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.to_string().contains("within 0.5 s"), "{err}");
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn a_listener_that_never_accepts_is_unreachable_within_the_connect_timeout() {
    // The kernel completes the TCP handshake; the TLS handshake never gets an answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dev = RedfishDevice::new(
        RedfishConfig::new("127.0.0.1", USER, PASSWORD)
            .with_port(port)
            .with_tls(TlsVerify::Insecure)
            .with_systems_uri("/redfish/v1/Systems/1")
            .with_timeouts(Duration::from_millis(300), Duration::from_secs(5)),
    )
    .unwrap();
    let started = Instant::now();
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dev = RedfishDevice::new(
        RedfishConfig::new("127.0.0.1", USER, PASSWORD)
            .with_port(port)
            .with_tls(TlsVerify::Insecure)
            .with_systems_uri("/redfish/v1/Systems/1"),
    )
    .unwrap();
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_bad_ca_file_is_an_input_error_before_any_io() {
    let c = RedfishConfig::new("127.0.0.1", USER, PASSWORD).with_tls(TlsVerify::Verify {
        ca_file: Some(fixture("no-such-ca.pem")),
    });
    let err = RedfishDevice::new(c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no-such-ca.pem"), "{err}");
}

#[tokio::test]
async fn a_session_left_open_is_deleted_when_the_device_is_dropped() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let dev = session_device(&mock);
    dev.power_state("").await.unwrap();
    drop(dev);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let open = mock.state.lock().unwrap().sessions.len();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "session never deleted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        mock.lines().last().map(String::as_str),
        Some("DELETE /redfish/v1/SessionService/Sessions/1")
    );
}

/// Regression: redirects were followed to any host, and reqwest strips only the
/// `Authorization` header on the way: a service (or whoever answers for it) could send
/// the session login (password in the body) or the `X-Auth-Token` to another server.
#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_server() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let elsewhere = Mock::start(vec![System::new("1", "On")]).await;
    let sessions = "/redfish/v1/SessionService/Sessions";
    let system = mock.system_uri(0);
    let away = |path: &str| format!("https://127.0.0.1:{}{path}", elsewhere.port());
    mock.with_state(|s| {
        s.redirects.insert(sessions.to_owned(), away(sessions));
    });
    let dev = session_device(&mock);
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");

    // A session opened on the service itself, and then the system redirected away.
    mock.with_state(|s| {
        s.redirects.clear();
        s.redirects.insert(system.clone(), away(&system));
    });
    let err = dev.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    dev.close().await.unwrap();
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

/// A redirect within the configured service is still followed.
#[tokio::test]
async fn a_redirect_on_the_same_service_is_followed() {
    let mock = Mock::start(vec![System::new("1", "On")]).await;
    let system = mock.system_uri(0);
    let moved = format!("https://127.0.0.1:{}{system}", mock.port());
    mock.with_state(|s| {
        s.redirects
            .insert("/redfish/v1/Systems/old".to_owned(), moved);
    });
    let dev = device(&mock, Some("/redfish/v1/Systems/old".to_owned()));
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::On);
    assert_eq!(
        mock.lines(),
        ["GET /redfish/v1/Systems/old", "GET /redfish/v1/Systems/1"]
    );
}

/// Regression: the whole answer was read into memory whatever its size; a service sending
/// gigabytes could exhaust the agent's memory. Announced or not, more than 4 MiB is refused.
#[tokio::test]
async fn an_oversized_answer_is_refused_not_read_whole() {
    for announced in [true, false] {
        let mock = Mock::start(vec![System::new("1", "On")]).await;
        mock.with_state(|s| s.oversized = Some((64 << 20, announced)));
        let dev = device(&mock, Some(mock.system_uri(0)));
        let started = Instant::now();
        let err = dev.power_state("").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
