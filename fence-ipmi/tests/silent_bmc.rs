//! A BMC that never answers, and a port where nothing listens: the bounds of
//! [`RetryPolicy`](fence_ipmi::RetryPolicy). The "BMC" is a UDP socket of this test that
//! counts what it receives and never replies.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fence_core::params::{ParamTable, common};
use fence_core::{ErrorKind, FenceDevice, Secret};
use fence_ipmi::{IpmiConfig, IpmiDevice};
use tokio::net::UdpSocket;

/// How long the silent "BMC" waits for one more datagram before it reports: well beyond
/// the longest pause between two transmissions to a BMC that has not answered (0.6 s), or
/// a loaded machine loses the last transmission to the race (a flaky count).
const SILENT_BMC_PATIENCE: Duration = Duration::from_millis(1500);

/// Binds a silent "BMC" and counts the datagrams it gets until none comes for
/// [`SILENT_BMC_PATIENCE`].
async fn silent_bmc() -> (u16, tokio::task::JoinHandle<Vec<Duration>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let mut arrivals = Vec::new();
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        while let Ok(Ok(_)) =
            tokio::time::timeout(SILENT_BMC_PATIENCE, socket.recv_from(&mut buf)).await
        {
            arrivals.push(start.elapsed());
        }
        arrivals
    });
    (port, handle)
}

/// A device for the BMC at 127.0.0.1:`port`, built from options as the CLI builds it.
fn device_from_options(port: u16, extra: &[(&str, &str)]) -> IpmiDevice {
    let table = ParamTable::new()
        .with(&common::every_agent())
        .with(&fence_ipmi::params());
    let port = port.to_string();
    let mut pairs = vec![("ip", "127.0.0.1"), ("ipport", port.as_str())];
    pairs.extend_from_slice(extra);
    let options = table.parse(pairs).unwrap();
    IpmiDevice::new(IpmiConfig::from_options(&options).unwrap()).unwrap()
}

/// fence_ipmilan's defaults: `ipmitool_timeout` 2 s, `login_timeout` 5 s bound; to a BMC
/// that has not answered, the first retry after 0.3 s and the waits doubling up to 0.6 s:
/// transmissions at 0, 0.3, 0.9, 1.5, 2.1, 2.7, 3.3, 3.9, 4.5 s, then Unreachable at 5 s,
/// with a message that names the address, the bound and the transmissions.
#[tokio::test]
async fn silent_bmc_is_unreachable_after_the_default_bound() {
    let (port, counter) = silent_bmc().await;
    let device = device_from_options(
        port,
        &[
            ("username", "admin"),
            ("password", "secret-pw"),
            ("lanplus", "1"),
        ],
    );
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.is_retryable());
    assert!(
        took >= Duration::from_millis(4900) && took < Duration::from_millis(5600),
        "{took:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("within 5.0 s (9 transmissions)"), "{msg}");
    assert!(!msg.contains("secret-pw"), "{msg}");
    device.close().await.unwrap();
    let arrivals = counter.await.unwrap();
    assert_eq!(arrivals.len(), 9, "transmissions: {arrivals:?}");
    for (got, want) in arrivals
        .iter()
        .zip([0, 300, 900, 1500, 2100, 2700, 3300, 3900, 4500])
    {
        let want = Duration::from_millis(want);
        assert!(
            *got + Duration::from_millis(5) >= want && *got < want + Duration::from_millis(300),
            "{arrivals:?}"
        );
    }
}

/// `ipmitool_timeout=1` and `login_timeout=2`: transmissions at 0, 0.3, 0.9, 1.5 s;
/// Unreachable at 2 s. `ipmitool_timeout=0.25`: the waits are cut to 0.25 s.
#[tokio::test]
async fn options_shorten_the_bound() {
    let (port, counter) = silent_bmc().await;
    let device = device_from_options(port, &[("ipmitool_timeout", "1"), ("login_timeout", "2")]);
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(
        took >= Duration::from_millis(1950) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert_eq!(counter.await.unwrap().len(), 4);
    let (port, counter) = silent_bmc().await;
    let device = device_from_options(
        port,
        &[("ipmitool_timeout", "0.25"), ("login_timeout", "1")],
    );
    let err = device.power_state("").await.unwrap_err();
    assert!(err.to_string().contains("(4 transmissions)"), "{err}");
    assert_eq!(counter.await.unwrap().len(), 4, "0, 0.25, 0.5, 0.75 s");
}

/// Nothing listens: the kernel's ICMP port-unreachable ends the attempt at once.
#[tokio::test]
async fn closed_port_fails_at_once() {
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let device = IpmiDevice::new(
        IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("pw")).with_port(port),
    )
    .unwrap();
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("connection refused"), "{err}");
}

/// A "BMC" that answers every datagram with garbage: the garbage is ignored (and does not
/// crash the decoder), and the bound ends in `Misbehaved` naming what was wrong.
#[tokio::test]
async fn garbage_answers_are_misbehaviour_after_the_bound() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut n = 0u8;
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            n = n.wrapping_add(1);
            // An RMCP header, then the request cut short and scribbled on.
            let mut answer = buf[..len.min(20)].to_vec();
            answer.iter_mut().skip(5).for_each(|b| *b ^= n);
            let _ = socket.send_to(&answer, from).await;
            let _ = socket
                .send_to(&[0x06, 0x00, 0xff, 0x07, 0x06, 0x11], from)
                .await;
        }
    });
    let device = IpmiDevice::new(
        IpmiConfig::lanplus("127.0.0.1", "admin", Secret::new("pw"))
            .with_port(port)
            .with_retry(fence_ipmi::RetryPolicy {
                first: Duration::from_millis(100),
                interval: Duration::from_millis(200),
                request_timeout: Duration::from_millis(700),
            }),
    )
    .unwrap();
    let started = Instant::now();
    let err = device.power_state("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Misbehaved, "{err}");
    assert!(
        err.to_string()
            .contains("no valid answer to RMCP+ Open Session"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
