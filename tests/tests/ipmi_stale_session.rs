//! A BMC that still holds a session for the client's source port (pyghmi's fake BMC keys
//! sessions by address and port and never drops them) answers a new client's session setup
//! from the old session. fence-ipmi then opens its session from a new source port instead of
//! failing (found by the benchmark: about 1 run in 100 against pyghmi).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fence_core::{FenceDevice, PowerState, Secret};
use fence_ipmi::{IpmiConfig, IpmiDevice};
use fence_sim::ipmi::{IpmiConfig as SimConfig, IpmiSim};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

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

/// A front for `bmc`: the first client port it sees gets only stale-session answers; other
/// client ports are relayed to the BMC.
async fn stale_front(bmc: SocketAddr) -> (SocketAddr, Arc<Mutex<u32>>) {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = front.local_addr().unwrap();
    let stale_answers = Arc::new(Mutex::new(0u32));
    let counter = stale_answers.clone();
    tokio::spawn(async move {
        let mut first_client: Option<SocketAddr> = None;
        let mut uplinks: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((len, client)) = front.recv_from(&mut buf).await else {
                return;
            };
            let first = *first_client.get_or_insert(client);
            if client == first {
                front
                    .send_to(&stale_session_packet(), client)
                    .await
                    .unwrap();
                *counter.lock().await += 1;
                continue;
            }
            let up = match uplinks.get(&client) {
                Some(up) => up.clone(),
                None => {
                    let up = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                    up.connect(bmc).await.unwrap();
                    let (down, up2) = (front.clone(), up.clone());
                    tokio::spawn(async move {
                        let mut b = vec![0u8; 2048];
                        while let Ok(n) = up2.recv(&mut b).await {
                            let _ = down.send_to(&b[..n], client).await;
                        }
                    });
                    uplinks.insert(client, up.clone());
                    up
                }
            };
            up.send(&buf[..len]).await.unwrap();
        }
    });
    (addr, stale_answers)
}

#[tokio::test]
async fn setup_answered_by_a_stale_session_is_retried_from_a_new_port() {
    let sim = IpmiSim::start(SimConfig {
        initial: PowerState::On,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (front, stale_answers) = stale_front(sim.bmcs()[0].addr).await;
    let mut config = IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("password"));
    config.port = front.port();
    let device = IpmiDevice::new(config).unwrap();
    let started = Instant::now();
    let state = device.power_state("").await;
    let took = started.elapsed();
    device.close().await.unwrap();
    assert_eq!(state.unwrap(), PowerState::On);
    assert!(
        *stale_answers.lock().await >= 1,
        "the stale answers were sent"
    );
    assert!(
        took < Duration::from_secs(10),
        "recovered within one setup bound: {took:?}"
    );
}
