//! A BMC that still holds a session for the client's source port (pyghmi's fake BMC keys
//! sessions by address and port and never drops them) answers a new client's session setup
//! from the old session. fence-ipmi then opens its session from a new source port instead of
//! failing (found by the benchmark: about 1 run in 100 against pyghmi).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fence_core::{FenceDevice, PowerState, Secret};
use fence_ipmi::{IpmiConfig, IpmiDevice};
use fence_sim::ipmi::{IpmiConfig as SimConfig, IpmiSim};
use fence_test_support::relay::{UdpFault, UdpRelay, UdpTap, Verdict};

/// A datagram that looks like an authenticated RMCP+ packet of an existing session.
fn stale_session_packet() -> Vec<u8> {
    let mut p = vec![0x06, 0x00, 0xff, 0x07, 0x06, 0x40 | 0x11];
    p.extend_from_slice(&0x0102_0304u32.to_le_bytes()); // session ID
    p.extend_from_slice(&7u32.to_le_bytes()); // session sequence
    p.extend_from_slice(&0u16.to_le_bytes()); // no payload
    p.extend_from_slice(&[0xff, 0xff, 0x02, 0x07]); // pad, pad length, next header
    p.extend_from_slice(&[0u8; 12]); // integrity code
    p
}

/// A tap in front of the BMC: the first client port it sees gets only stale-session
/// answers (the BMC never hears it); other client ports are relayed to the BMC.
#[derive(Clone, Default)]
struct StaleFirstClient {
    stale_answers: Arc<AtomicU32>,
}

impl UdpTap for StaleFirstClient {
    fn to_device(&self, client: usize, _datagram: &mut Vec<u8>) -> Verdict {
        if client == 0 {
            self.stale_answers.fetch_add(1, Ordering::SeqCst);
            Verdict::Answer(stale_session_packet())
        } else {
            Verdict::Forward
        }
    }
}

#[tokio::test]
async fn setup_answered_by_a_stale_session_is_retried_from_a_new_port() {
    let sim = IpmiSim::start(SimConfig {
        initial: PowerState::On,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let tap = StaleFirstClient::default();
    let front = UdpRelay::start_tapped(sim.bmcs()[0].addr, UdpFault::Forward, tap.clone())
        .await
        .unwrap();
    let mut config = IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"));
    config.port = front.port();
    let device = IpmiDevice::new(config).unwrap();
    let started = Instant::now();
    let state = device.power_state("").await;
    let took = started.elapsed();
    device.close().await.unwrap();
    assert_eq!(state.unwrap(), PowerState::On);
    assert!(
        tap.stale_answers.load(Ordering::SeqCst) >= 1,
        "the stale answers were sent"
    );
    assert!(
        took < Duration::from_secs(10),
        "recovered within one setup bound: {took:?}"
    );
}
