//! The one relay of the tests and benchmarks: it sits between a client (an agent) and a
//! device (a BMC, an SSH server, a Redfish service) on 127.0.0.1, counts what passes
//! outside the code under test, and injects the network's faults.
//!
//! - [`UdpRelay`] (IPMI): each client address gets its own socket towards the device, so
//!   the device sees one peer per client socket, as on a real network. Faults: seeded loss
//!   ([`UdpFault::Drop`], replayable from its seed), silence after a number of datagrams,
//!   a black hole, duplication. A [`UdpTap`] may read, rewrite, drop or answer any datagram
//!   (a forged answer, a stale session's reply, a record of what the client sent).
//! - [`TcpRelay`] (SSH, HTTPS): forwards byte for byte, never looking inside TLS. Faults: a
//!   device that accepts and says nothing, a stall or a cut after a number of bytes from the
//!   device. A watch function sees every byte the device sends on each connection (to
//!   recognise TLS handshakes), and [`TcpRelay::wait_closed`] waits until every relayed
//!   connection has been closed by both ends.
//!
//! A relay runs on a tokio runtime until it is dropped: [`UdpRelay::start`] and
//! [`TcpRelay::start`] on the current one, the `start_on` forms on a given handle (the
//! benchmarks run their relays on a runtime of their own). Test scaffolding: a relay that
//! cannot forward says so on stderr and goes on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a client socket may stay silent before its socket towards the device is dropped.
const UDP_IDLE: Duration = Duration::from_secs(30);
/// Bound on connecting to the TCP device.
const TCP_CONNECT: Duration = Duration::from_secs(5);
/// Bound on one relayed TCP connection (no test or benchmark run holds one this long).
const TCP_LIFETIME: Duration = Duration::from_secs(300);

/// A small seeded random generator (xorshift64*): the same seed loses the same datagrams.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Self {
        SeededRng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value in 0.0..1.0.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a relay saw: since it started ([`UdpRelay::counts`]) or since the last `take`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// UDP: datagrams received from clients. TCP: bytes received from clients.
    pub up: u64,
    /// UDP: datagrams received from the device. TCP: bytes received from the device.
    pub down: u64,
    /// UDP: client addresses seen. TCP: connections accepted.
    pub clients: u64,
    /// Datagrams lost on purpose (a fault or a tap's [`Verdict::Drop`]), either way.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    clients: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn get(&self) -> Counts {
        Counts {
            up: self.up.load(Ordering::SeqCst),
            down: self.down.load(Ordering::SeqCst),
            clients: self.clients.load(Ordering::SeqCst),
            dropped: self.dropped.load(Ordering::SeqCst),
        }
    }

    fn take(&self) -> Counts {
        Counts {
            up: self.up.swap(0, Ordering::SeqCst),
            down: self.down.swap(0, Ordering::SeqCst),
            clients: self.clients.swap(0, Ordering::SeqCst),
            dropped: self.dropped.swap(0, Ordering::SeqCst),
        }
    }
}

/// What a [`UdpRelay`] does to datagrams, besides what its tap does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UdpFault {
    /// Forward both ways.
    Forward,
    /// Forward both ways, losing each datagram (either direction) with probability
    /// `share`, decided by a generator seeded with `seed`.
    Drop {
        /// The share of datagrams lost, 0.0 to 1.0.
        share: f64,
        /// The seed of the generator.
        seed: u64,
    },
    /// Forward the first `n` datagrams from clients (and every answer to them), then
    /// nothing more: the device goes silent in the middle of a session.
    StopAfter(u64),
    /// Receive and never forward nor answer.
    BlackHole,
    /// Forward every datagram twice, both ways (a duplicating network: the second copy of
    /// an answer arrives while the client already waits for the next one).
    Duplicate,
}

/// What a [`UdpTap`] decides for one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass it on (as the tap may have rewritten it).
    Forward,
    /// Lose it (counted in [`Counts::dropped`]).
    Drop,
    /// Do not pass it on; send these bytes to the client instead.
    Answer(Vec<u8>),
}

/// Sees every datagram a [`UdpRelay`] passes, after the fault let it through. `client` is
/// the index of the client address in the order the relay first saw them (0 for the first).
pub trait UdpTap: Send + Sync + 'static {
    /// A datagram from a client on its way to the device.
    fn to_device(&self, client: usize, datagram: &mut Vec<u8>) -> Verdict {
        let _ = (client, datagram);
        Verdict::Forward
    }

    /// A datagram from the device on its way to a client.
    fn to_client(&self, client: usize, datagram: &mut Vec<u8>) -> Verdict {
        let _ = (client, datagram);
        Verdict::Forward
    }
}

/// The tap that passes everything unchanged.
struct NoTap;

impl UdpTap for NoTap {}

/// A UDP relay in front of one device; clients send to [`addr`](Self::addr).
#[derive(Debug)]
pub struct UdpRelay {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
    answers: Tasks,
}

/// The answer tasks of a UDP relay (one per client), aborted with it.
type Tasks = Arc<Mutex<Vec<JoinHandle<()>>>>;

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.task.abort();
        for t in self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            t.abort();
        }
    }
}

/// What every task of one UDP relay shares.
struct UdpShared {
    front: UdpSocket,
    device: SocketAddr,
    fault: UdpFault,
    tap: Box<dyn UdpTap>,
    counters: Arc<Counters>,
    rng: Mutex<SeededRng>,
    /// Client address -> (its index, its socket towards the device).
    clients: Mutex<HashMap<SocketAddr, (usize, Arc<UdpSocket>)>>,
    /// Answer tasks, aborted with the relay.
    answers: Tasks,
    /// Datagrams from clients since the start, for [`UdpFault::StopAfter`] (the counts
    /// can be reset by `take`; the fault's count cannot).
    from_clients: AtomicU64,
}

impl UdpShared {
    fn lose(&self) -> bool {
        match self.fault {
            UdpFault::Drop { share, .. } => {
                self.rng
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .next_f64()
                    < share
            }
            _ => false,
        }
    }

    fn copies(&self) -> usize {
        if self.fault == UdpFault::Duplicate {
            2
        } else {
            1
        }
    }

    fn dropped(&self) {
        self.counters.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl UdpRelay {
    /// Starts a relay to `device` with this fault, on the current tokio runtime.
    pub async fn start(device: SocketAddr, fault: UdpFault) -> std::io::Result<UdpRelay> {
        Self::start_on(&Handle::current(), device, fault, NoTap)
    }

    /// Starts a relay to `device` with this fault and tap, on the current tokio runtime.
    pub async fn start_tapped(
        device: SocketAddr,
        fault: UdpFault,
        tap: impl UdpTap,
    ) -> std::io::Result<UdpRelay> {
        Self::start_on(&Handle::current(), device, fault, tap)
    }

    /// Starts a relay on the runtime `rt` (callable from outside it).
    pub fn start_on(
        rt: &Handle,
        device: SocketAddr,
        fault: UdpFault,
        tap: impl UdpTap,
    ) -> std::io::Result<UdpRelay> {
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
        std_sock.set_nonblocking(true)?;
        let addr = std_sock.local_addr()?;
        let _guard = rt.enter();
        let counters = Arc::new(Counters::default());
        let answers = Tasks::default();
        let shared = Arc::new(UdpShared {
            front: UdpSocket::from_std(std_sock)?,
            device,
            fault,
            tap: Box::new(tap),
            counters: Arc::clone(&counters),
            rng: Mutex::new(SeededRng::new(match fault {
                UdpFault::Drop { seed, .. } => seed,
                _ => 1,
            })),
            clients: Mutex::default(),
            answers: Arc::clone(&answers),
            from_clients: AtomicU64::new(0),
        });
        let task = rt.spawn(udp_from_clients(shared));
        Ok(UdpRelay {
            addr,
            counters,
            task,
            answers,
        })
    }

    /// The address clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients send to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The counts since the start or the last [`take`](Self::take).
    pub fn counts(&self) -> Counts {
        self.counters.get()
    }

    /// The counts since the start or the last call, resetting them.
    pub fn take(&self) -> Counts {
        self.counters.take()
    }
}

async fn udp_from_clients(shared: Arc<UdpShared>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match shared.front.recv_from(&mut buf).await {
            Ok(x) => x,
            // An ICMP port unreachable from an earlier send to a client that went away.
            Err(_) => continue,
        };
        shared.counters.up.fetch_add(1, Ordering::SeqCst);
        let seen = shared.from_clients.fetch_add(1, Ordering::SeqCst) + 1;
        let Some((index, upstream)) = upstream_for(&shared, from).await else {
            continue;
        };
        let passes = match shared.fault {
            UdpFault::Forward | UdpFault::Duplicate => true,
            UdpFault::BlackHole => false,
            UdpFault::StopAfter(limit) => seen <= limit,
            UdpFault::Drop { .. } => !shared.lose(),
        };
        if !passes {
            shared.dropped();
            continue;
        }
        let mut datagram = buf[..n].to_vec();
        match shared.tap.to_device(index, &mut datagram) {
            Verdict::Forward => {
                for _ in 0..shared.copies() {
                    if let Err(e) = upstream.send(&datagram).await {
                        eprintln!("relay: send to {}: {e}", shared.device);
                    }
                }
            }
            Verdict::Drop => shared.dropped(),
            Verdict::Answer(answer) => {
                let _ = shared.front.send_to(&answer, from).await;
            }
        }
    }
}

/// The socket towards the device for the client `from`, made (with its answer task) on
/// its first datagram.
async fn upstream_for(
    shared: &Arc<UdpShared>,
    from: SocketAddr,
) -> Option<(usize, Arc<UdpSocket>)> {
    let known = shared
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&from)
        .cloned();
    if known.is_some() {
        return known;
    }
    let sock = match UdpSocket::bind("127.0.0.1:0").await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("relay: cannot open a socket towards {}: {e}", shared.device);
            return None;
        }
    };
    if let Err(e) = sock.connect(shared.device).await {
        eprintln!("relay: cannot connect to {}: {e}", shared.device);
        return None;
    }
    let sock = Arc::new(sock);
    let index = {
        let mut clients = shared.clients.lock().unwrap_or_else(|e| e.into_inner());
        let index = usize::try_from(shared.counters.clients.fetch_add(1, Ordering::SeqCst))
            .unwrap_or(usize::MAX);
        clients.insert(from, (index, Arc::clone(&sock)));
        index
    };
    let task = tokio::spawn(udp_to_client(
        Arc::clone(shared),
        Arc::clone(&sock),
        from,
        index,
    ));
    shared
        .answers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(task);
    Some((index, sock))
}

/// Forwards the device's answers to one client until the device has been silent towards it
/// for [`UDP_IDLE`].
async fn udp_to_client(
    shared: Arc<UdpShared>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    index: usize,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            // The device's port is closed (ICMP): it may open again.
            Ok(Err(_)) => continue,
            Err(_) => break,
        };
        shared.counters.down.fetch_add(1, Ordering::SeqCst);
        let passes = match shared.fault {
            UdpFault::Forward | UdpFault::Duplicate => true,
            UdpFault::BlackHole => false,
            UdpFault::StopAfter(limit) => shared.from_clients.load(Ordering::SeqCst) <= limit,
            UdpFault::Drop { .. } => !shared.lose(),
        };
        if !passes {
            shared.dropped();
            continue;
        }
        let mut datagram = buf[..n].to_vec();
        let out = match shared.tap.to_client(index, &mut datagram) {
            Verdict::Forward => datagram,
            Verdict::Answer(other) => other,
            Verdict::Drop => {
                shared.dropped();
                continue;
            }
        };
        for _ in 0..shared.copies() {
            let _ = shared.front.send_to(&out, client).await;
        }
    }
    shared
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&client);
}

/// What a [`TcpRelay`] does to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFault {
    /// Forward both ways.
    Forward,
    /// Accept connections, never connect to the device and never send a byte: a hung
    /// device whose TCP stack still accepts.
    Silent,
    /// Forward until `n` bytes came from the device, then forward nothing more either way
    /// and keep the connection open: the device stalls in the middle of a conversation.
    StallAfter(u64),
    /// Forward until `n` bytes came from the device, then close the connection (the client
    /// sees the connection dropped in the middle of a command).
    CutAfter(u64),
}

/// Sees every chunk of bytes the device sends on one connection, in order.
pub type Seen = Box<dyn FnMut(&[u8]) + Send>;

/// Makes, for each relayed connection, the function that sees what the device sends on it.
pub type Watch = Arc<dyn Fn() -> Seen + Send + Sync>;

/// A TCP relay in front of one device; clients connect to [`addr`](Self::addr).
#[derive(Debug)]
pub struct TcpRelay {
    addr: SocketAddr,
    counters: Arc<Counters>,
    open: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TcpRelay {
    /// Starts a relay to `device` with this fault, on the current tokio runtime.
    pub async fn start(device: SocketAddr, fault: TcpFault) -> std::io::Result<TcpRelay> {
        Self::start_on(&Handle::current(), device, fault, None)
    }

    /// Starts a relay to `device` whose connections are watched by `watch`, on the current
    /// tokio runtime.
    pub async fn start_watched(
        device: SocketAddr,
        fault: TcpFault,
        watch: Watch,
    ) -> std::io::Result<TcpRelay> {
        Self::start_on(&Handle::current(), device, fault, Some(watch))
    }

    /// Starts a relay on the runtime `rt` (callable from outside it).
    pub fn start_on(
        rt: &Handle,
        device: SocketAddr,
        fault: TcpFault,
        watch: Option<Watch>,
    ) -> std::io::Result<TcpRelay> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let _guard = rt.enter();
        let listener = TcpListener::from_std(std_listener)?;
        let counters = Arc::new(Counters::default());
        let (open_tx, open) = watch::channel(0u64);
        let task = rt.spawn(tcp_accept(
            listener,
            device,
            fault,
            watch,
            Arc::clone(&counters),
            Arc::new(open_tx),
        ));
        Ok(TcpRelay {
            addr,
            counters,
            open,
            task,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The counts since the start or the last [`take`](Self::take).
    pub fn counts(&self) -> Counts {
        self.counters.get()
    }

    /// The counts since the start or the last call, resetting them.
    pub fn take(&self) -> Counts {
        self.counters.take()
    }

    /// Waits until every relayed connection has been closed by both ends (the device has
    /// finished with it, so its access log is complete), at most `bound`, blocking the
    /// calling thread (call it from outside `rt`). Returns whether that happened in time.
    pub fn wait_closed(&self, rt: &Handle, bound: Duration) -> bool {
        let mut open = self.open.clone();
        rt.block_on(async move {
            tokio::time::timeout(bound, open.wait_for(|n| *n == 0))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }
}

async fn tcp_accept(
    listener: TcpListener,
    device: SocketAddr,
    fault: TcpFault,
    watch: Option<Watch>,
    counters: Arc<Counters>,
    open: Arc<watch::Sender<u64>>,
) {
    let mut held = Vec::new();
    let mut connections = Vec::new();
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                eprintln!("relay: accept failed: {e}");
                continue;
            }
        };
        counters.clients.fetch_add(1, Ordering::SeqCst);
        if fault == TcpFault::Silent {
            held.push(client);
            continue;
        }
        open.send_modify(|n| *n += 1);
        let (open, counters) = (Arc::clone(&open), Arc::clone(&counters));
        let seen = watch.as_ref().map(|w| w());
        connections.retain(|c: &AbortOnDrop| !c.0.is_finished());
        connections.push(AbortOnDrop(tokio::spawn(async move {
            let relayed = tokio::time::timeout(
                TCP_LIFETIME,
                tcp_connection(client, device, fault, seen, counters),
            )
            .await;
            if let Ok(Err(e)) = relayed {
                eprintln!("relay: connection to {device}: {e}");
            }
            open.send_modify(|n| *n = n.saturating_sub(1));
        })));
    }
}

/// A task aborted when dropped (with the relay's accept task).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Relays one connection until the device closes it (or the fault ends it).
async fn tcp_connection(
    client: TcpStream,
    device: SocketAddr,
    fault: TcpFault,
    mut seen: Option<Seen>,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let upstream = tokio::time::timeout(TCP_CONNECT, TcpStream::connect(device))
        .await
        .map_err(|_| std::io::Error::other(format!("no connection within {TCP_CONNECT:?}")))??;
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut up_rd, mut up_wr) = upstream.into_split();
    let limit = match fault {
        TcpFault::StallAfter(n) | TcpFault::CutAfter(n) => Some(n),
        _ => None,
    };
    let stalled = Arc::new(AtomicBool::new(false));
    let to_device = {
        let (stalled, counters) = (Arc::clone(&stalled), Arc::clone(&counters));
        AbortOnDrop(tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            while let Ok(n) = client_rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                counters.up.fetch_add(n as u64, Ordering::SeqCst);
                if stalled.load(Ordering::SeqCst) {
                    continue; // the device no longer hears
                }
                if up_wr.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            if stalled.load(Ordering::SeqCst) {
                // Stalled: the device hears nothing more, not even the end.
                std::future::pending::<()>().await;
            }
            let _ = up_wr.shutdown().await;
        }))
    };
    let mut buf = vec![0u8; 16384];
    let mut total: u64 = 0;
    let mut client_gone = false;
    while let Ok(n) = up_rd.read(&mut buf).await {
        if n == 0 {
            break;
        }
        counters.down.fetch_add(n as u64, Ordering::SeqCst);
        if let Some(seen) = seen.as_mut() {
            seen(&buf[..n]);
        }
        let allowed = match limit {
            Some(l) => usize::try_from(l.saturating_sub(total))
                .unwrap_or(usize::MAX)
                .min(n),
            None => n,
        };
        total += n as u64;
        // A client that went away abruptly: read the device to its end all the same, so
        // that the connection counts as closed once the device has finished with it.
        if !client_gone && allowed > 0 && client_wr.write_all(&buf[..allowed]).await.is_err() {
            client_gone = true;
        }
        if limit.is_some_and(|l| total >= l) {
            if matches!(fault, TcpFault::CutAfter(_)) {
                let _ = client_wr.shutdown().await;
                return Ok(());
            }
            stalled.store(true, Ordering::SeqCst);
            // The client hears nothing more: discard what the device still says, and keep
            // the connection open until the relay is dropped.
            while let Ok(n) = up_rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            std::future::pending::<()>().await;
        }
    }
    let _ = client_wr.shutdown().await;
    drop(to_device);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_losses() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        let xs: Vec<f64> = (0..100).map(|_| a.next_f64()).collect();
        let ys: Vec<f64> = (0..100).map(|_| b.next_f64()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let low = xs.iter().filter(|x| **x < 0.3).count();
        assert!((15..=45).contains(&low), "{low} of 100 below 0.3");
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    /// An echo "BMC" on a thread of its own.
    fn echo_udp() -> SocketAddr {
        let bmc = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = bmc.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = bmc.recv_from(&mut buf) {
                bmc.send_to(&buf[..n], from).unwrap();
            }
        });
        addr
    }

    fn client() -> std::net::UdpSocket {
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    #[test]
    fn udp_relay_counts_datagrams_each_way_and_client_sockets() {
        let rt = runtime();
        let relay = UdpRelay::start_on(rt.handle(), echo_udp(), UdpFault::Forward, NoTap).unwrap();
        for client_no in 0..2 {
            let agent = client();
            for i in 0..3u8 {
                agent.send_to(&[client_no, i], relay.addr()).unwrap();
                let mut buf = [0u8; 8];
                let (n, from) = agent.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&[client_no, i][..], relay.addr()));
            }
        }
        let expected = Counts {
            up: 6,
            down: 6,
            clients: 2,
            dropped: 0,
        };
        assert_eq!(relay.counts(), expected, "counts() keeps them");
        assert_eq!(relay.take(), expected);
        assert_eq!(relay.take(), Counts::default(), "take() resets");
    }

    /// Rewrites answers, answers the second client itself, drops a marked datagram.
    struct Rewrite;

    impl UdpTap for Rewrite {
        fn to_device(&self, client: usize, d: &mut Vec<u8>) -> Verdict {
            if d.first() == Some(&0xdd) {
                Verdict::Drop
            } else if client == 1 {
                Verdict::Answer(b"from the relay".to_vec())
            } else {
                Verdict::Forward
            }
        }

        fn to_client(&self, _client: usize, d: &mut Vec<u8>) -> Verdict {
            d.push(b'!');
            Verdict::Forward
        }
    }

    #[test]
    fn a_tap_rewrites_answers_drops_and_answers_in_the_devices_place() {
        let rt = runtime();
        let relay =
            UdpRelay::start_on(rt.handle(), echo_udp(), UdpFault::Forward, Rewrite).unwrap();
        let (first, second) = (client(), client());
        let mut buf = [0u8; 32];
        first.send_to(b"hi", relay.addr()).unwrap();
        let n = first.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi!");
        second.send_to(b"hi", relay.addr()).unwrap();
        let n = second.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"from the relay");
        first.send_to(&[0xdd], relay.addr()).unwrap();
        first.send_to(b"again", relay.addr()).unwrap();
        let n = first.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"again!", "the marked datagram was lost");
        let c = relay.counts();
        assert_eq!((c.up, c.down, c.clients, c.dropped), (4, 2, 2, 1));
    }

    #[test]
    fn udp_faults_lose_silence_and_duplicate() {
        let rt = runtime();
        let device = echo_udp();
        let mut buf = [0u8; 8];
        // StopAfter(2): two answers, then silence.
        let relay = UdpRelay::start_on(rt.handle(), device, UdpFault::StopAfter(2), NoTap).unwrap();
        let agent = client();
        for i in 0..2u8 {
            agent.send_to(&[i], relay.addr()).unwrap();
            assert_eq!(agent.recv(&mut buf).unwrap(), 1);
            // Reading the counts does not restart the fault's count.
            relay.take();
        }
        agent
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        agent.send_to(&[9], relay.addr()).unwrap();
        assert!(agent.recv(&mut buf).is_err(), "answered after the stop");
        assert_eq!(relay.counts().dropped, 1);
        // Duplicate: two copies of one answer to one datagram sent twice = 4.
        let relay = UdpRelay::start_on(rt.handle(), device, UdpFault::Duplicate, NoTap).unwrap();
        agent.send_to(&[1], relay.addr()).unwrap();
        let mut copies = 0;
        while agent.recv(&mut buf).is_ok() {
            copies += 1;
        }
        assert_eq!(copies, 4);
        // Drop: the same seed loses the same datagrams.
        let lost = |seed| {
            let relay = UdpRelay::start_on(
                rt.handle(),
                device,
                UdpFault::Drop { share: 0.3, seed },
                NoTap,
            )
            .unwrap();
            let agent = client();
            agent
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut buf = [0u8; 8];
            (0..16u8)
                .map(|i| {
                    agent.send_to(&[i], relay.addr()).unwrap();
                    agent.recv(&mut buf).is_err()
                })
                .collect::<Vec<bool>>()
        };
        let once = lost(5);
        assert_eq!(once, lost(5));
        assert!(
            once.iter().any(|l| *l) && once.iter().any(|l| !*l),
            "{once:?}"
        );
    }

    /// A TCP echo server that closes when the client closes.
    fn echo_tcp() -> SocketAddr {
        use std::io::{Read, Write};
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in server.incoming() {
                let mut conn = conn.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn tcp_relay_counts_watches_and_sees_connections_closed() {
        use std::io::{Read, Write};
        let rt = runtime();
        let watched = Arc::new(AtomicU64::new(0));
        let w = Arc::clone(&watched);
        let watch: Watch = Arc::new(move || {
            let w = Arc::clone(&w);
            Box::new(move |bytes: &[u8]| {
                w.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            })
        });
        let relay =
            TcpRelay::start_on(rt.handle(), echo_tcp(), TcpFault::Forward, Some(watch)).unwrap();
        for _ in 0..3 {
            let mut c = std::net::TcpStream::connect(relay.addr()).unwrap();
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
        }
        assert!(relay.wait_closed(rt.handle(), Duration::from_secs(5)));
        let c = relay.take();
        assert_eq!((c.clients, c.up, c.down), (3, 12, 12));
        assert_eq!(watched.load(Ordering::SeqCst), 12);
        // a connection left open is reported as such
        let mut open = std::net::TcpStream::connect(relay.addr()).unwrap();
        open.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        open.read_exact(&mut buf).unwrap();
        assert!(!relay.wait_closed(rt.handle(), Duration::from_millis(200)));
    }

    #[test]
    fn tcp_faults_cut_stall_and_stay_silent() {
        use std::io::{Read, Write};
        let rt = runtime();
        let device = echo_tcp();
        let timeout = Some(Duration::from_millis(300));
        // CutAfter(3): three bytes of the answer, then the end.
        let relay = TcpRelay::start_on(rt.handle(), device, TcpFault::CutAfter(3), None).unwrap();
        let mut c = std::net::TcpStream::connect(relay.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hel");
        // StallAfter(3): three bytes, then nothing, and no end.
        let relay = TcpRelay::start_on(rt.handle(), device, TcpFault::StallAfter(3), None).unwrap();
        let mut c = std::net::TcpStream::connect(relay.addr()).unwrap();
        c.set_read_timeout(timeout).unwrap();
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        while let Ok(n) = c.read(&mut buf) {
            assert!(n > 0, "the stalled connection ended");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"hel");
        // Silent: accepted, never a byte.
        let relay = TcpRelay::start_on(rt.handle(), device, TcpFault::Silent, None).unwrap();
        let mut c = std::net::TcpStream::connect(relay.addr()).unwrap();
        c.set_read_timeout(timeout).unwrap();
        c.write_all(b"hello").unwrap();
        assert!(c.read(&mut buf).is_err(), "a silent relay answered");
        assert_eq!(relay.counts().clients, 1);
    }
}
