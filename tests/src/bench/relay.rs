//! Counting relays between an agent and a peer, so that round trips are counted outside the
//! agent under test.
//!
//! - [`UdpRelay`]: forwards datagrams between the agent and a BMC (IPMI over UDP). Each
//!   client address gets its own upstream socket, so the BMC sees one peer per agent socket
//!   (one per `ipmitool` process for the Python agent). Counts datagrams each way, client
//!   sockets, and RMCP+ Open Session requests (the only header field it reads: the payload
//!   type, which is never encrypted), i.e. the sessions opened.
//! - [`TcpRelay`]: forwards TCP connections (HTTPS for Redfish) byte for byte. Counts
//!   connections, which are TLS handshakes, since the relay never looks inside TLS.
//!
//! Both run on a tokio runtime of their own; the agents are timed elsewhere, without the
//! relay in their path (see `run.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;

/// How long a UDP client socket may stay silent before its upstream socket is dropped.
const UDP_IDLE: Duration = Duration::from_secs(30);
/// Bound on connecting to the TCP peer.
const TCP_CONNECT: Duration = Duration::from_secs(5);
/// Bound on one relayed TCP connection (a benchmark run never takes this long).
const TCP_LIFETIME: Duration = Duration::from_secs(120);

/// What a relay saw since the last [`take`](UdpRelay::take).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Datagrams (UDP) from the agent to the peer; 0 for TCP.
    pub up: u64,
    /// Datagrams (UDP) from the peer to the agent; 0 for TCP.
    pub down: u64,
    /// New client sockets (UDP) or accepted connections (TCP).
    pub clients: u64,
    /// UDP datagrams agent -> peer that are RMCP+ Open Session requests (IPMI v2.0 sessions
    /// opened); 0 for TCP.
    pub open_sessions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    clients: AtomicU64,
    open_sessions: AtomicU64,
}

impl Counters {
    fn take(&self) -> Counts {
        Counts {
            up: self.up.swap(0, Ordering::SeqCst),
            down: self.down.swap(0, Ordering::SeqCst),
            clients: self.clients.swap(0, Ordering::SeqCst),
            open_sessions: self.open_sessions.swap(0, Ordering::SeqCst),
        }
    }
}

/// A UDP relay: agents send to [`addr`](Self::addr), the relay forwards to the peer.
#[derive(Debug)]
pub struct UdpRelay {
    addr: SocketAddr,
    counters: Arc<Counters>,
}

impl UdpRelay {
    /// Binds 127.0.0.1 on a free port and starts relaying to `upstream` on `rt`.
    pub fn start(rt: &tokio::runtime::Handle, upstream: SocketAddr) -> std::io::Result<Self> {
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
        std_sock.set_nonblocking(true)?;
        let addr = std_sock.local_addr()?;
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let _guard = rt.enter();
        let listener = Arc::new(UdpSocket::from_std(std_sock)?);
        rt.spawn(udp_loop(listener, upstream, c));
        Ok(UdpRelay { addr, counters })
    }

    /// The address agents should send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts since the last call, resetting them.
    pub fn take(&self) -> Counts {
        self.counters.take()
    }
}

type ClientMap = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

async fn udp_loop(listener: Arc<UdpSocket>, upstream: SocketAddr, counters: Arc<Counters>) {
    let clients: ClientMap = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match listener.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("bench relay: udp receive failed: {e}");
                continue;
            }
        };
        let existing = clients.lock().ok().and_then(|m| m.get(&from).cloned());
        let sock = match existing {
            Some(s) => s,
            None => match new_upstream(upstream).await {
                Ok(s) => {
                    counters.clients.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut m) = clients.lock() {
                        m.insert(from, Arc::clone(&s));
                    }
                    tokio::spawn(udp_back(
                        Arc::clone(&s),
                        Arc::clone(&listener),
                        from,
                        Arc::clone(&counters),
                        Arc::clone(&clients),
                    ));
                    s
                }
                Err(e) => {
                    eprintln!("bench relay: cannot open an upstream socket: {e}");
                    continue;
                }
            },
        };
        counters.up.fetch_add(1, Ordering::SeqCst);
        if is_open_session_request(&buf[..n]) {
            counters.open_sessions.fetch_add(1, Ordering::SeqCst);
        }
        if let Err(e) = sock.send(&buf[..n]).await {
            eprintln!("bench relay: udp send to {upstream} failed: {e}");
        }
    }
}

/// An RMCP+ Open Session Request: RMCP header (version 6, class IPMI 7), authentication
/// type 6 (RMCP+), payload type 0x10 (the encryption/authentication bits masked off).
fn is_open_session_request(d: &[u8]) -> bool {
    d.len() > 5 && d[0] == 0x06 && d[3] & 0x1f == 0x07 && d[4] == 0x06 && d[5] & 0x3f == 0x10
}

async fn new_upstream(upstream: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    let s = UdpSocket::bind("127.0.0.1:0").await?;
    s.connect(upstream).await?;
    Ok(Arc::new(s))
}

/// Forwards the peer's answers for one client until the peer has been silent for
/// [`UDP_IDLE`].
async fn udp_back(
    sock: Arc<UdpSocket>,
    listener: Arc<UdpSocket>,
    client: SocketAddr,
    counters: Arc<Counters>,
    clients: ClientMap,
) {
    let mut buf = vec![0u8; 65536];
    // Ends when the BMC has been silent for UDP_IDLE, or its port is closed (ICMP).
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, sock.recv(&mut buf)).await {
        counters.down.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = listener.send_to(&buf[..n], client).await {
            eprintln!("bench relay: udp send to {client} failed: {e}");
        }
    }
    if let Ok(mut m) = clients.lock() {
        m.remove(&client);
    }
}

/// A TCP relay: agents connect to [`addr`](Self::addr), the relay connects to the peer.
#[derive(Debug)]
pub struct TcpRelay {
    addr: SocketAddr,
    counters: Arc<Counters>,
    open: watch::Receiver<u64>,
}

impl TcpRelay {
    /// Binds 127.0.0.1 on a free port and starts relaying to `upstream` on `rt`.
    pub fn start(rt: &tokio::runtime::Handle, upstream: SocketAddr) -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let (open_tx, open) = watch::channel(0u64);
        let _guard = rt.enter();
        let listener = TcpListener::from_std(std_listener)?;
        rt.spawn(tcp_loop(
            listener,
            upstream,
            Arc::clone(&counters),
            Arc::new(open_tx),
        ));
        Ok(TcpRelay {
            addr,
            counters,
            open,
        })
    }

    /// The address agents should connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts since the last call, resetting them.
    pub fn take(&self) -> Counts {
        self.counters.take()
    }

    /// Waits until every relayed connection has been closed by both ends (the peer has
    /// finished with it, so its access log is complete), at most `bound`. Returns whether
    /// that happened in time.
    pub fn wait_closed(&self, rt: &tokio::runtime::Handle, bound: Duration) -> bool {
        let mut open = self.open.clone();
        rt.block_on(async move {
            tokio::time::timeout(bound, open.wait_for(|n| *n == 0))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }
}

async fn tcp_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    counters: Arc<Counters>,
    open: Arc<watch::Sender<u64>>,
) {
    loop {
        let (client, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("bench relay: accept failed: {e}");
                continue;
            }
        };
        counters.clients.fetch_add(1, Ordering::SeqCst);
        open.send_modify(|n| *n += 1);
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            if let Err(e) = tcp_pipe(client, upstream).await {
                eprintln!("bench relay: connection to {upstream}: {e}");
            }
            open.send_modify(|n| *n = n.saturating_sub(1));
        });
    }
}

async fn tcp_pipe(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    let mut server = tokio::time::timeout(TCP_CONNECT, TcpStream::connect(upstream))
        .await
        .map_err(|_| std::io::Error::other(format!("no connection within {TCP_CONNECT:?}")))??;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    match tokio::time::timeout(
        TCP_LIFETIME,
        tokio::io::copy_bidirectional(&mut client, &mut server),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        // The client went away abruptly (a reset is how some clients close). The connection
        // counts as closed once the peer has finished with it too.
        Ok(Err(_)) => {
            drain(&mut server).await;
            Ok(())
        }
        Err(_) => Err(std::io::Error::other(format!(
            "still open after {TCP_LIFETIME:?}"
        ))),
    }
}

/// Half-closes `server` and reads it until it closes, at most [`TCP_CONNECT`].
async fn drain(server: &mut TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = server.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(TCP_CONNECT, async {
        while let Ok(n) = server.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn udp_relay_counts_datagrams_each_way_and_client_sockets() {
        let rt = runtime();
        // an echo "BMC"
        let bmc = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let bmc_addr = bmc.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = bmc.recv_from(&mut buf) {
                bmc.send_to(&buf[..n], from).unwrap();
            }
        });
        let relay = UdpRelay::start(rt.handle(), bmc_addr).unwrap();
        let timeout = Some(Duration::from_secs(5));
        for client in 0..2 {
            let agent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            agent.set_read_timeout(timeout).unwrap();
            for i in 0..3u8 {
                agent.send_to(&[client, i], relay.addr()).unwrap();
                let mut buf = [0u8; 8];
                let (n, from) = agent.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&[client, i][..], relay.addr()));
            }
        }
        assert_eq!(
            relay.take(),
            Counts {
                up: 6,
                down: 6,
                clients: 2,
                open_sessions: 0,
            }
        );
        assert_eq!(relay.take(), Counts::default(), "take() resets");
    }

    #[test]
    fn open_session_requests_are_recognised() {
        // ipmitool's Open Session Request (RMCP+, payload type 0x10, session id 0)
        let open = [
            0x06, 0x00, 0xff, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00,
        ];
        assert!(is_open_session_request(&open));
        let mut rakp1 = open;
        rakp1[5] = 0x12;
        assert!(!is_open_session_request(&rakp1));
        // an IPMI v1.5 packet (authentication type 0): Get Channel Authentication Capabilities
        let mut v15 = open;
        v15[4] = 0x00;
        assert!(!is_open_session_request(&v15));
    }

    #[test]
    fn tcp_relay_counts_connections_and_sees_them_closed() {
        use std::io::{Read, Write};
        let rt = runtime();
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in server.incoming() {
                let mut conn = conn.unwrap();
                let mut buf = [0u8; 16];
                let n = conn.read(&mut buf).unwrap();
                conn.write_all(&buf[..n]).unwrap();
                // reads until the client closes, then closes
                while conn.read(&mut buf).unwrap_or(0) > 0 {}
            }
        });
        let relay = TcpRelay::start(rt.handle(), server_addr).unwrap();
        for _ in 0..3 {
            let mut c = std::net::TcpStream::connect(relay.addr()).unwrap();
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
        }
        assert!(relay.wait_closed(rt.handle(), Duration::from_secs(5)));
        assert_eq!(relay.take().clients, 3);
        // a connection left open is reported as such
        let mut open = std::net::TcpStream::connect(relay.addr()).unwrap();
        open.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        open.read_exact(&mut buf).unwrap(); // relayed, so the relay holds it open
        assert!(!relay.wait_closed(rt.handle(), Duration::from_millis(200)));
    }
}
