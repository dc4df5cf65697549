//! fence_redfish (the fence-agent binary) against misbehaving Redfish services: fence-sim's
//! fault modes (silent, lie, refuse, drop) and TCP relays that accept and never speak,
//! stall, or cut the connection in the middle of a request; wrong credentials; a
//! certificate from a CA that is not trusted. Every failure is exit 1 with a `Failed:` line
//! within a stated bound; nothing but a read `PowerState: Off` is ever reported as success.
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::time::Duration;

use fault_kit::{PASSWORD, assert_failed, cli, redfish_args, redfish_service, temp_dir, with};
use fence_core::PowerState;
use fence_test_support::relay::{TcpFault, TcpRelay};

/// Slack for process start and scheduling on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_accepts_and_never_answers_fails_within_the_request_bound() {
    let dir = temp_dir("rf-silent");
    let (sim, ca) = redfish_service(&["silent"], &dir).await;
    let port = sim.services()[0].addr.port();
    // The TLS handshake never completes: bounded by login_timeout + shell_timeout.
    let args = with(
        redfish_args("off", port, PASSWORD, &ca),
        &["--login-timeout=2", "--shell-timeout=1"],
    );
    let run = cli("fence_redfish", args).await;
    assert_failed(
        &run,
        "Unable to connect/login to fencing device",
        Duration::from_secs(3) + SLACK,
    );
    assert!(run.stderr.contains("within"), "{}", run.all());
    assert_eq!(sim.services()[0].systems[0].power(), PowerState::On);

    // A bare TCP listener in front (the relay never connects upstream, never sends a byte).
    let relay = TcpRelay::start(sim.services()[0].addr, TcpFault::Silent)
        .await
        .unwrap();
    let args = with(
        redfish_args("status", relay.port(), PASSWORD, &ca),
        &["--login-timeout=1", "--shell-timeout=1"],
    );
    let run = cli("fence_redfish", args).await;
    assert_failed(
        &run,
        "Unable to connect/login to fencing device",
        Duration::from_secs(2) + SLACK,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_stalls_after_the_handshake_fails_within_the_request_bound() {
    let dir = temp_dir("rf-stall");
    let (sim, ca) = redfish_service(&[], &dir).await;
    // Let the TLS handshake through (a few KB from the server), then nothing.
    let relay = TcpRelay::start(sim.services()[0].addr, TcpFault::StallAfter(1200))
        .await
        .unwrap();
    let args = with(
        redfish_args("off", relay.port(), PASSWORD, &ca),
        &["--login-timeout=2", "--shell-timeout=1"],
    );
    let run = cli("fence_redfish", args).await;
    assert_failed(&run, "Failed:", Duration::from_secs(3) + SLACK);
    assert_eq!(sim.services()[0].systems[0].power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_in_the_middle_fails_clearly() {
    let dir = temp_dir("rf-cut");
    let (sim, ca) = redfish_service(&[], &dir).await;
    let machine = &sim.services()[0].systems[0];
    // How many bytes a whole verified off takes from the service.
    let whole = TcpRelay::start(sim.services()[0].addr, TcpFault::Forward)
        .await
        .unwrap();
    let run = cli(
        "fence_redfish",
        redfish_args("off", whole.port(), PASSWORD, &ca),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let total = whole.counts().down;
    assert!(total > 1000, "{total} bytes");
    // Cut during the handshake, the first read, the reset and the verifying read.
    for cut in [total / 4, total / 2, total * 3 / 4, total - 40] {
        machine.force(PowerState::On);
        let relay = TcpRelay::start(sim.services()[0].addr, TcpFault::CutAfter(cut))
            .await
            .unwrap();
        let run = cli(
            "fence_redfish",
            redfish_args("off", relay.port(), PASSWORD, &ca),
        )
        .await;
        if run.code == 0 {
            // A cut after the service switched off: the agent reads the state on a new
            // connection and may succeed, but only on a read Off.
            assert_eq!(run.stdout, "Success: Powered OFF\n", "{}", run.all());
            assert_eq!(
                machine.power(),
                PowerState::Off,
                "success without Off:\n{}",
                run.all()
            );
            assert!(
                cut > total / 2,
                "cut at {cut} of {total} cannot succeed:\n{}",
                run.all()
            );
        } else {
            assert_failed(&run, "Failed:", SLACK);
            assert!(
                run.stderr.contains("127.0.0.1"),
                "names the device:\n{}",
                run.all()
            );
        }
    }
    // fence-sim dropping every request (connection closed without an answer).
    let (sim, ca) = redfish_service(&["drop=1"], &dir).await;
    let run = cli(
        "fence_redfish",
        redfish_args("off", sim.services()[0].addr.port(), PASSWORD, &ca),
    )
    .await;
    assert_failed(&run, "Failed:", SLACK * 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_accepts_off_and_stays_on_times_out_and_never_succeeds() {
    let dir = temp_dir("rf-lie");
    let (sim, ca) = redfish_service(&["lie"], &dir).await;
    let port = sim.services()[0].addr.port();
    let run = cli(
        "fence_redfish",
        with(
            redfish_args("off", port, PASSWORD, &ca),
            &["--power-timeout=3"],
        ),
    )
    .await;
    assert_failed(
        &run,
        "Failed: Timed out waiting to power OFF",
        Duration::from_secs(3) + SLACK,
    );
    assert!(run.elapsed >= Duration::from_secs(3), "{:?}", run.elapsed);
    let run = cli(
        "fence_redfish",
        with(
            redfish_args("reboot", port, PASSWORD, &ca),
            &["--power-timeout=2"],
        ),
    )
    .await;
    assert_failed(
        &run,
        "Failed: Timed out waiting to power OFF",
        Duration::from_secs(2) + SLACK,
    );
    assert_eq!(sim.services()[0].systems[0].power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_answered_with_500_fails_at_once_with_the_service_message() {
    let dir = temp_dir("rf-refuse");
    let (sim, ca) = redfish_service(&["refuse"], &dir).await;
    let port = sim.services()[0].addr.port();
    for action in ["off", "reboot", "on"] {
        if action == "on" {
            sim.services()[0].systems[0].force(PowerState::Off);
        }
        let run = cli("fence_redfish", redfish_args(action, port, PASSWORD, &ca)).await;
        assert_failed(&run, "HTTP 500", SLACK);
        assert!(
            run.stderr
                .contains("The request failed due to an internal service error."),
            "{}",
            run.all()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_fail_fast_as_a_login_failure() {
    let dir = temp_dir("rf-creds");
    let (sim, ca) = redfish_service(&[], &dir).await;
    let port = sim.services()[0].addr.port();
    let run = cli("fence_redfish", redfish_args("off", port, "wrong-pw", &ca)).await;
    assert_failed(&run, "Unable to connect/login to fencing device", SLACK);
    assert!(run.stderr.contains("HTTP 401"), "{}", run.all());
    let run = cli(
        "fence_redfish",
        with(
            redfish_args("off", port, "wrong-pw", &ca),
            &["--auth-method=session"],
        ),
    )
    .await;
    assert_failed(&run, "session login refused (HTTP 401 Unauthorized)", SLACK);
    assert_eq!(sim.services()[0].systems[0].power(), PowerState::On);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_an_untrusted_ca_is_refused() {
    let dir = temp_dir("rf-tls");
    let (sim, _ca) = redfish_service(&[], &dir).await;
    let port = sim.services()[0].addr.port();
    // The system roots only.
    let mut args = redfish_args("off", port, PASSWORD, "");
    args.drain(10..12);
    let run = cli("fence_redfish", args).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    // Another service's CA (each fence-sim start makes its own): a certificate that does
    // not chain to the CA given.
    let (_other, other_ca) = redfish_service(&[], &temp_dir("rf-tls-other")).await;
    let run = cli(
        "fence_redfish",
        redfish_args("off", port, PASSWORD, &other_ca),
    )
    .await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    // ssl_insecure=0 keeps verification on.
    let lines = fault_kit::strings(&[
        "action=off",
        "ip=127.0.0.1",
        &format!("ipport={port}"),
        "username=admin",
        &format!("password={PASSWORD}"),
        &format!("ssl_ca_file={other_ca}"),
        "ssl_insecure=0",
        "systems_uri=/redfish/v1/Systems/1",
    ]);
    let run = fault_kit::cli_stdin("fence_redfish", lines).await;
    assert_failed(&run, "TLS certificate not accepted", SLACK);
    assert_eq!(sim.services()[0].systems[0].power(), PowerState::On);
}
