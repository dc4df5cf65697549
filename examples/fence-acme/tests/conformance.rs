//! The ACME backend passes fence-core's conformance suite against its simulator, error
//! paths included.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fence_acme::sim::AcmeSim;
use fence_acme::{AcmeConfig, AcmeDevice};
use fence_core::testkit::conformance::{self, fast_timing};
use fence_core::{FenceDevice, PowerState, Secret};

fn device(sim: &AcmeSim, password: &str) -> AcmeDevice {
    let mut config = AcmeConfig::new("127.0.0.1", "admin", Secret::new(password));
    config.port = sim.addr.port();
    config.timeout = Duration::from_secs(2);
    AcmeDevice::new(config)
}

#[tokio::test]
async fn the_conformance_suite_passes() {
    let sim = AcmeSim::start("admin", "s3cret", Duration::from_millis(50))
        .await
        .unwrap();
    let dev = device(&sim, "s3cret");
    conformance::run_all(&dev, "", fast_timing()).await;
    assert!(sim.is_on(), "run_all leaves the machine on");
    assert_eq!(dev.power_state("").await.unwrap(), PowerState::On);
    conformance::close_twice_is_safe(&dev).await;
    conformance::usable_after_close(&dev, "").await;
}

#[tokio::test]
async fn error_paths_are_classified_and_bounded() {
    let sim = AcmeSim::start("admin", "s3cret", Duration::ZERO)
        .await
        .unwrap();
    let wrong = device(&sim, "wrong");
    conformance::wrong_password_is_refused_once(&wrong, "", fast_timing(), Duration::from_secs(1))
        .await;
    conformance::close_twice_is_safe(&wrong).await;

    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = AcmeConfig::new("127.0.0.1", "admin", Secret::new("s3cret"));
    config.port = silent.local_addr().unwrap().port();
    config.timeout = Duration::from_millis(300);
    let dead = AcmeDevice::new(config);
    conformance::unreachable_is_bounded(&dead, "", Duration::from_secs(1)).await;
    // unknown_plug_is_not_found does not apply: a board switches one machine, no plugs.
    drop(silent);
}
