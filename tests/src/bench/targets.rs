//! The benchmarked agents and their peers: the options both implementations get, how the
//! opposite power state is set before a state-changing run, and how the round trips of a run
//! are counted outside the agent (relay counters, the peers' own logs).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fence_test_support::relay::{TcpFault, TcpRelay, UdpFault, UdpRelay};

use super::run::{Invocation, helper};
use super::sessions::OpenSessions;
use super::sim::{self, FenceSim};

/// Bound on one prepare command (curl, ipmitool, ssh).
const HELPER_LIMIT: Duration = Duration::from_secs(15);
/// Bound on waiting for a prepared state to become visible.
const PREPARE_LIMIT: Duration = Duration::from_secs(10);
/// Bound on waiting for the Redfish peer to finish with the relayed connections.
const SETTLE_LIMIT: Duration = Duration::from_secs(3);
/// Marks the prepare steps' requests in sushy's access log, so they are never counted.
const PREPARE_MARK: &str = "bench-prepare";

/// A power state, as the prepare steps set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// Powered on (VM running).
    On,
    /// Powered off.
    Off,
}

/// The benchmarked actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `action=metadata`: the process start and the XML, no device contact.
    Metadata,
    /// `action=status` on a machine that is on.
    Status,
    /// `action=off` on a machine that is on.
    Off,
    /// `action=on` on a machine that is off.
    On,
    /// `action=reboot` on a machine that is on.
    Reboot,
}

impl Op {
    /// Every action, in table order.
    pub const ALL: [Op; 5] = [Op::Metadata, Op::Status, Op::Off, Op::On, Op::Reboot];

    /// The `action=` value.
    pub fn action(self) -> &'static str {
        match self {
            Op::Metadata => "metadata",
            Op::Status => "status",
            Op::Off => "off",
            Op::On => "on",
            Op::Reboot => "reboot",
        }
    }

    /// Parses an `action=` value.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.action() == s)
    }

    /// The state set before each run (excluded from the timing).
    pub fn prepared(self) -> Option<Power> {
        match self {
            Op::Metadata => None,
            Op::Status | Op::Off | Op::Reboot => Some(Power::On),
            Op::On => Some(Power::Off),
        }
    }

    /// Checks a run's exit code and output against fence-agents' contract.
    pub fn check(self, code: Option<i32>, stdout: &str) -> Result<(), String> {
        let want = match self {
            Op::Metadata => "<resource-agent",
            Op::Status => "Status: ON",
            Op::Off => "Success: Powered OFF",
            Op::On => "Success: Powered ON",
            Op::Reboot => "Success: Rebooted",
        };
        if code == Some(0) && stdout.contains(want) {
            Ok(())
        } else {
            Err(format!(
                "exit {code:?}, expected 0 and {want:?} on stdout, got {:?}",
                first_line(stdout)
            ))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// The round trips of one run, counted outside the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trips {
    /// Metadata: no device contact is expected; `contacts` counts any there were.
    None {
        /// Datagrams, connections or sessions seen anyway.
        contacts: u64,
    },
    /// IPMI over UDP, counted by the relay.
    Ipmi {
        /// Datagrams agent -> BMC.
        up: u64,
        /// Datagrams BMC -> agent.
        down: u64,
        /// RMCP+ sessions opened (Open Session requests seen by the relay).
        sessions: u64,
        /// Calls of ipmi_sim's chassis-control script (a fork of /bin/sh each); None for
        /// peers without one.
        bmc_forks: Option<u64>,
    },
    /// Redfish over HTTPS: connections counted by the relay, requests from sushy's log.
    Redfish {
        /// HTTP requests (sushy's access log).
        requests: u64,
        /// TCP connections, each a full TLS handshake.
        connections: u64,
    },
    /// A hypervisor over SSH: sessions from sshd's log, commands from the host tool's call
    /// log (the fake VBoxManage's, the virsh wrapper's).
    Ssh {
        /// Authenticated SSH sessions ("Accepted ..." lines of sshd's log).
        sessions: u64,
        /// Calls of the host tool.
        commands: u64,
        /// The host tool (`VBoxManage`, `virsh`).
        tool: &'static str,
    },
}

impl fmt::Display for Trips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Trips::None { contacts: 0 } => write!(f, "none"),
            Trips::None { contacts } => write!(f, "{contacts} device contacts"),
            Trips::Ipmi {
                up,
                down,
                sessions,
                bmc_forks,
            } => {
                write!(f, "{up} req / {down} resp UDP, {sessions} session")?;
                if sessions != 1 {
                    write!(f, "s")?;
                }
                if let Some(n) = bmc_forks {
                    write!(f, " ({n} BMC script forks)")?;
                }
                Ok(())
            }
            Trips::Redfish {
                requests,
                connections,
            } => write!(f, "{requests} HTTP req, {connections} TLS conn"),
            Trips::Ssh {
                sessions,
                commands,
                tool,
            } => {
                write!(f, "{sessions} SSH session")?;
                if sessions != 1 {
                    write!(f, "s")?;
                }
                write!(f, ", {commands} {tool} cmd")?;
                if commands != 1 {
                    write!(f, "s")?;
                }
                Ok(())
            }
        }
    }
}

impl Trips {
    /// The issue's round-trip target for `op`, and whether these counts meet it.
    pub fn target(&self, op: Op) -> Option<(String, bool)> {
        match (*self, op) {
            (Trips::Ipmi { up, down, .. }, Op::Status) => {
                Some(("7 UDP round trips".into(), up <= 7 && down == up))
            }
            (Trips::Ipmi { up, down, .. }, Op::Off) => {
                Some(("8 UDP round trips".into(), up <= 8 && down == up))
            }
            (
                Trips::Redfish {
                    requests,
                    connections,
                },
                Op::Status,
            ) => Some(("1 request".into(), requests == 1 && connections == 1)),
            (
                Trips::Redfish {
                    requests,
                    connections,
                },
                Op::Off,
            ) => Some((
                "<= 3 requests, 1 TLS conn".into(),
                requests <= 3 && connections == 1,
            )),
            (Trips::Redfish { connections, .. }, _) => {
                Some(("1 TLS conn".into(), connections == 1))
            }
            (
                Trips::Ssh {
                    sessions, commands, ..
                },
                Op::Status,
            ) => Some((
                "1 SSH session, <= 2 cmds".into(),
                sessions == 1 && commands <= 2,
            )),
            (Trips::Ssh { sessions, .. }, _) => Some(("1 SSH session".into(), sessions == 1)),
            (Trips::Ipmi { sessions, .. }, _) => Some(("1 session".into(), sessions == 1)),
            (Trips::None { contacts }, _) => Some(("no device contact".into(), contacts == 0)),
        }
    }
}

/// A position in a log file; [`since`](LogMark::since) reads what was appended after it.
#[derive(Debug)]
struct LogMark {
    path: PathBuf,
    offset: u64,
}

impl LogMark {
    fn new(path: &Path) -> LogMark {
        let offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        LogMark {
            path: path.to_owned(),
            offset,
        }
    }

    fn since(&self) -> Result<String, String> {
        let data = std::fs::read(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let start = usize::try_from(self.offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        Ok(String::from_utf8_lossy(&data[start..]).into_owned())
    }
}

/// Whose access log counts the Redfish requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccessLog {
    /// sushy-emulator (werkzeug's access log).
    Sushy,
    /// fence-sim's `--events` lines.
    FenceSim,
}

/// Which protocol family a target speaks.
#[derive(Debug)]
enum Kind {
    Redfish {
        relay: TcpRelay,
        port: u16,
        ca: PathBuf,
        systems_uri: String,
        log: PathBuf,
        format: AccessLog,
    },
    Ipmi {
        relay: UdpRelay,
        sessions: OpenSessions,
        port: u16,
        chassis_log: Option<PathBuf>,
    },
    Ssh {
        host: &'static SshHost,
        port: u16,
        key: PathBuf,
        wrapper: PathBuf,
        known_hosts: PathBuf,
        sshd_log: PathBuf,
        call_log: PathBuf,
    },
}

/// A hypervisor host reached over SSH, as data: the benchmarked machine and the commands that
/// read and set its state through the peer's own tool (not through an agent).
#[derive(Debug)]
struct SshHost {
    /// The host tool, as the round-trip counts name it.
    tool: &'static str,
    /// The plug the agents fence.
    plug: &'static str,
    /// Reads the machine's state.
    status: &'static str,
    /// What `status` prints for a running machine, and for a stopped one.
    on_word: &'static str,
    off_word: &'static str,
    /// Start and stop the machine.
    on: &'static str,
    off: &'static str,
    /// The floor: one SSH command with the tool, as a shell user would run it.
    floor: &'static str,
    /// The floor, as the table names it.
    floor_label: &'static str,
}

const VBOX_HOST: SshHost = SshHost {
    tool: "VBoxManage",
    plug: "vm1",
    status: "VBoxManage showvminfo vm1 --machinereadable",
    on_word: "VMState=\"running\"",
    off_word: "VMState=\"poweroff\"",
    on: "VBoxManage startvm vm1 --type headless",
    off: "VBoxManage controlvm vm1 poweroff",
    floor: "VBoxManage list runningvms",
    floor_label: "OpenSSH: ssh -i key host VBoxManage list runningvms",
};

const VIRSH_HOST: SshHost = SshHost {
    tool: "virsh",
    plug: "kvm-bench",
    status: "virsh domstate kvm-bench",
    on_word: "running",
    off_word: "shut off",
    on: "virsh start kvm-bench",
    off: "virsh destroy kvm-bench",
    floor: "virsh domstate kvm-bench",
    floor_label: "OpenSSH: ssh -i key host virsh domstate kvm-bench",
};

/// One benchmarked agent against one peer.
#[derive(Debug)]
pub struct Target {
    /// Short name used on the command line (`redfish`, `ipmisim`, `fakebmc`, `vbox`, `virsh`).
    pub key: &'static str,
    /// The agent name (`fence_redfish`); Debian's Python agent is `/usr/sbin/<agent>`.
    pub agent: &'static str,
    /// The peer, for the table (`sushy-emulator`).
    pub peer: &'static str,
    kind: Kind,
    marks: Vec<LogMark>,
}

/// The peer settings written by tests/scripts/start-peers.sh to `$PEERS_DIR/peers.env`.
#[derive(Debug)]
pub struct PeerEnv;

impl PeerEnv {
    fn var(name: &str) -> Result<String, String> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(format!(
                "{name} is not set: run `bash tests/bench/agents.sh`, or start the peers with \
                 `bash tests/scripts/start-peers.sh` and `. $PEERS_DIR/peers.env` first"
            )),
        }
    }

    fn port(name: &str) -> Result<u16, String> {
        let v = Self::var(name)?;
        v.parse().map_err(|_| format!("{name}={v} is not a port"))
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Target {
    /// Builds the target called `key` from the peer settings in the environment (and
    /// `fence_sim` for `fencesim`), starting its relay on `rt`.
    pub fn new(
        key: &str,
        rt: &tokio::runtime::Handle,
        fence_sim: Option<&FenceSim>,
    ) -> Result<Target, String> {
        let peers = PathBuf::from(PeerEnv::var("PEERS_DIR")?);
        let io = |e: std::io::Error| format!("cannot start a relay: {e}");
        let (key, agent, peer, kind) = match key {
            "redfish" => {
                let port = PeerEnv::port("REDFISH_PORT")?;
                (
                    "redfish",
                    "fence_redfish",
                    "sushy-emulator",
                    Kind::Redfish {
                        relay: TcpRelay::start_on(rt, loopback(port), TcpFault::Forward, None)
                            .map_err(io)?,
                        port,
                        ca: PathBuf::from(PeerEnv::var("REDFISH_CA")?),
                        systems_uri: PeerEnv::var("REDFISH_SYSTEMS_URI")?,
                        log: peers.join("logs/sushy.log"),
                        format: AccessLog::Sushy,
                    },
                )
            }
            "fencesim" => {
                let sim = fence_sim.ok_or("target fencesim needs --fence-sim PATH")?;
                (
                    "fencesim",
                    "fence_redfish",
                    "fence-sim redfish (ours, keep-alive)",
                    Kind::Redfish {
                        relay: TcpRelay::start_on(rt, loopback(sim.port), TcpFault::Forward, None)
                            .map_err(io)?,
                        port: sim.port,
                        ca: sim.ca.clone(),
                        systems_uri: sim.systems_uri.clone(),
                        log: sim.log.clone(),
                        format: AccessLog::FenceSim,
                    },
                )
            }
            "ipmisim" | "fakebmc" => {
                let sim = key == "ipmisim";
                let port = PeerEnv::port(if sim { "IPMISIM_PORT" } else { "FAKEBMC_PORT" })?;
                let chassis_log = if sim {
                    Some(PathBuf::from(PeerEnv::var("IPMISIM_STATE")?).join("chassis.log"))
                } else {
                    None
                };
                let sessions = OpenSessions::default();
                (
                    if sim { "ipmisim" } else { "fakebmc" },
                    "fence_ipmilan",
                    if sim {
                        "ipmi_sim (OpenIPMI)"
                    } else {
                        "pyghmi fakebmc"
                    },
                    Kind::Ipmi {
                        relay: UdpRelay::start_on(
                            rt,
                            loopback(port),
                            UdpFault::Forward,
                            sessions.clone(),
                        )
                        .map_err(io)?,
                        sessions,
                        port,
                        chassis_log,
                    },
                )
            }
            "vbox" => (
                "vbox",
                "fence_vbox",
                "sshd + fake VBoxManage",
                Kind::Ssh {
                    host: &VBOX_HOST,
                    port: PeerEnv::port("SSH_PORT")?,
                    key: PathBuf::from(PeerEnv::var("SSH_KEY")?),
                    wrapper: PathBuf::from(PeerEnv::var("SSH_WRAPPER")?),
                    known_hosts: peers.join("ssh/known_hosts"),
                    sshd_log: peers.join("logs/sshd.log"),
                    call_log: PathBuf::from(PeerEnv::var("FAKEVBOX_DIR")?).join(".log"),
                },
            ),
            "virsh" => (
                "virsh",
                "fence_virsh",
                "sshd + libvirtd (test driver)",
                Kind::Ssh {
                    host: &VIRSH_HOST,
                    port: PeerEnv::port("SSH_PORT")?,
                    key: PathBuf::from(PeerEnv::var("SSH_KEY")?),
                    wrapper: PathBuf::from(PeerEnv::var("SSH_WRAPPER")?),
                    known_hosts: peers.join("ssh/known_hosts"),
                    sshd_log: peers.join("logs/sshd.log"),
                    call_log: PathBuf::from(PeerEnv::var("VIRSH_CALL_LOG")?),
                },
            ),
            other => {
                return Err(format!(
                    "unknown target {other:?} (known: redfish, fencesim, ipmisim, fakebmc, vbox, virsh)"
                ));
            }
        };
        Ok(Target {
            key,
            agent,
            peer,
            kind,
            marks: Vec::new(),
        })
    }

    /// The stdin text for `op`, the same for both implementations. `relayed` points the
    /// agent at the counting relay instead of the peer (VBox has no relay).
    pub fn options(&self, op: Op, relayed: bool) -> String {
        if op == Op::Metadata {
            return "action=metadata\n".to_owned();
        }
        let mut o = vec![format!("action={}", op.action()), "ip=127.0.0.1".to_owned()];
        // Same engine timing for both (fence-agents-protocol.md 6.2).
        let timing = ["power_wait=0", "stonith_status_sleep=1", "power_timeout=20"];
        match &self.kind {
            Kind::Redfish {
                relay,
                port,
                systems_uri,
                ..
            } => {
                let port = if relayed { relay.addr().port() } else { *port };
                o.push(format!("ipport={port}"));
                o.extend(
                    ["username=admin", "password=password", "ssl_insecure=1"].map(String::from),
                );
                o.push(format!("systems_uri={systems_uri}"));
            }
            Kind::Ipmi { relay, port, .. } => {
                let port = if relayed { relay.addr().port() } else { *port };
                o.push(format!("ipport={port}"));
                o.extend(
                    [
                        "username=admin",
                        "password=password",
                        "lanplus=1",
                        "cipher=3",
                    ]
                    .map(String::from),
                );
            }
            Kind::Ssh {
                host,
                port,
                key,
                wrapper,
                known_hosts,
                ..
            } => {
                o.push(format!("ipport={port}"));
                o.push("username=fenceuser".to_owned());
                o.push("ssh=1".to_owned());
                o.push(format!("identity_file={}", key.display()));
                // The Python agents run OpenSSH through this wrapper (a private known_hosts
                // file); ours read the same known_hosts file and ignore ssh_path. Python logs
                // the unknown ssh_known_hosts_file and goes on.
                o.push(format!("ssh_path={}", wrapper.display()));
                o.push(format!("ssh_known_hosts_file={}", known_hosts.display()));
                o.push(format!("plug={}", host.plug));
            }
        }
        o.extend(timing.map(String::from));
        let mut s = o.join("\n");
        s.push('\n');
        s
    }

    /// The peer's own command-line tool doing what one status read does (curl: one GET on a
    /// new TLS connection; ipmitool: one session; OpenSSH: one session and one `VBoxManage
    /// list runningvms`), talking to the peer directly: the floor the agents are compared
    /// with. Returns a label and the invocation.
    pub fn reference(&self) -> (String, Invocation) {
        let (label, program, args): (&str, &str, Vec<String>) = match &self.kind {
            Kind::Redfish {
                port,
                ca,
                systems_uri,
                ..
            } => (
                "curl: 1 GET (1 TLS handshake)",
                "curl",
                vec![
                    "-sS".into(),
                    "--fail".into(),
                    "--max-time".into(),
                    "10".into(),
                    "-o".into(),
                    "/dev/null".into(),
                    "--cacert".into(),
                    ca.display().to_string(),
                    "-u".into(),
                    "admin:password".into(),
                    format!("https://127.0.0.1:{port}{systems_uri}"),
                ],
            ),
            Kind::Ipmi { port, .. } => (
                "ipmitool -I lanplus -C 3 chassis power status",
                "ipmitool",
                [
                    "-I",
                    "lanplus",
                    "-C",
                    "3",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "admin",
                    "-P",
                    "password",
                    "chassis",
                    "power",
                    "status",
                ]
                .map(String::from)
                .to_vec(),
            ),
            Kind::Ssh {
                host,
                port,
                key,
                wrapper,
                ..
            } => (
                host.floor_label,
                "",
                vec![
                    wrapper.display().to_string(),
                    "-p".into(),
                    port.to_string(),
                    "-i".into(),
                    key.display().to_string(),
                    "-o".into(),
                    "BatchMode=yes".into(),
                    "fenceuser@127.0.0.1".into(),
                    host.floor.into(),
                ],
            ),
        };
        let (program, args) = if program.is_empty() {
            let mut args = args.into_iter();
            (
                PathBuf::from(args.next().unwrap_or_default()),
                args.collect(),
            )
        } else {
            (PathBuf::from(program), args)
        };
        (
            label.to_owned(),
            Invocation {
                program,
                args,
                stdin: String::new(),
            },
        )
    }

    /// Whether observed runs of this target go through a relay.
    pub fn has_relay(&self) -> bool {
        !matches!(self.kind, Kind::Ssh { .. })
    }

    /// Sets the machine to `want` through the peer's own tools, and waits (bounded) until
    /// a read shows it.
    pub fn prepare(&self, want: Power) -> Result<(), String> {
        let t0 = Instant::now();
        let mut set = false;
        loop {
            let now = self.read_power()?;
            if now == want {
                return Ok(());
            }
            if !set {
                self.set_power(want)?;
                set = true;
                continue;
            }
            if t0.elapsed() > PREPARE_LIMIT {
                return Err(format!(
                    "{}: the machine is still {now:?} {PREPARE_LIMIT:?} after setting {want:?}",
                    self.peer
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn read_power(&self) -> Result<Power, String> {
        match &self.kind {
            Kind::Redfish {
                port,
                ca,
                systems_uri,
                ..
            } => {
                let url = format!("https://127.0.0.1:{port}{systems_uri}?{PREPARE_MARK}");
                let body = curl(ca, &["-X", "GET", &url])?;
                match json_string(&body, "PowerState") {
                    Some("On") => Ok(Power::On),
                    Some("Off") => Ok(Power::Off),
                    other => Err(format!("{}: unexpected PowerState {other:?}", self.peer)),
                }
            }
            Kind::Ipmi { port, .. } => {
                let out = ipmitool(*port, &["chassis", "power", "status"])?;
                if out.contains("is on") {
                    Ok(Power::On)
                } else if out.contains("is off") {
                    Ok(Power::Off)
                } else {
                    Err(format!("ipmitool: unexpected answer {out:?}"))
                }
            }
            Kind::Ssh { host, .. } => {
                let out = self.ssh(host.status)?;
                if out.contains(host.on_word) {
                    Ok(Power::On)
                } else if out.contains(host.off_word) {
                    Ok(Power::Off)
                } else {
                    Err(format!("{}: unexpected answer {out:?}", host.status))
                }
            }
        }
    }

    fn set_power(&self, want: Power) -> Result<(), String> {
        match &self.kind {
            Kind::Redfish {
                port,
                ca,
                systems_uri,
                ..
            } => {
                let url = format!(
                    "https://127.0.0.1:{port}{systems_uri}/Actions/ComputerSystem.Reset?{PREPARE_MARK}"
                );
                let body = match want {
                    Power::On => r#"{"ResetType":"On"}"#,
                    Power::Off => r#"{"ResetType":"ForceOff"}"#,
                };
                curl(
                    ca,
                    &[
                        "-X",
                        "POST",
                        "-H",
                        "Content-Type: application/json",
                        "-d",
                        body,
                        &url,
                    ],
                )
                .map(drop)
            }
            Kind::Ipmi { port, .. } => {
                let verb = match want {
                    Power::On => "on",
                    Power::Off => "off",
                };
                ipmitool(*port, &["chassis", "power", verb]).map(drop)
            }
            Kind::Ssh { host, .. } => self
                .ssh(match want {
                    Power::On => host.on,
                    Power::Off => host.off,
                })
                .map(drop),
        }
    }

    fn ssh(&self, remote: &str) -> Result<String, String> {
        let Kind::Ssh {
            port, key, wrapper, ..
        } = &self.kind
        else {
            return Err("not an SSH target".into());
        };
        let port = port.to_string();
        let key = key.to_string_lossy();
        let wrapper = wrapper.to_string_lossy();
        helper(
            &wrapper,
            &[
                "-p",
                &port,
                "-i",
                &key,
                "-o",
                "BatchMode=yes",
                "fenceuser@127.0.0.1",
                remote,
            ],
            HELPER_LIMIT,
        )
    }

    /// Marks the logs and resets the relay counters before an observed run.
    pub fn begin(&mut self) {
        let paths: Vec<PathBuf> = match &self.kind {
            Kind::Redfish { relay, log, .. } => {
                relay.take();
                vec![log.clone()]
            }
            Kind::Ipmi {
                relay,
                sessions,
                chassis_log,
                ..
            } => {
                relay.take();
                sessions.take();
                chassis_log.iter().cloned().collect()
            }
            Kind::Ssh {
                sshd_log, call_log, ..
            } => vec![sshd_log.clone(), call_log.clone()],
        };
        self.marks = paths.iter().map(|p| LogMark::new(p)).collect();
    }

    /// Counts what the observed run since [`begin`](Self::begin) did.
    pub fn end(&mut self, rt: &tokio::runtime::Handle, op: Op) -> Result<Trips, String> {
        let marks = std::mem::take(&mut self.marks);
        let appended = |i: usize| -> Result<String, String> {
            marks
                .get(i)
                .ok_or_else(|| "no log mark: begin() was not called".to_owned())?
                .since()
        };
        let trips = match &self.kind {
            Kind::Redfish { relay, format, .. } => {
                if !relay.wait_closed(rt, SETTLE_LIMIT) {
                    return Err(format!(
                        "sushy still had relayed connections open {SETTLE_LIMIT:?} after the agent exited"
                    ));
                }
                let connections = relay.take().clients;
                // fence-sim logs a request before answering it, so the prepare step's are
                // all in before the mark; sushy logs after answering, hence the marker.
                let requests = appended(0)?
                    .lines()
                    .filter(|l| match format {
                        AccessLog::Sushy => is_request_line(l) && !l.contains(PREPARE_MARK),
                        AccessLog::FenceSim => sim::is_request_line(l),
                    })
                    .count() as u64;
                Trips::Redfish {
                    requests,
                    connections,
                }
            }
            Kind::Ipmi {
                relay,
                sessions,
                chassis_log,
                ..
            } => {
                let c = relay.take();
                let sessions = sessions.take();
                let bmc_forks = match chassis_log {
                    Some(_) => Some(appended(0)?.lines().count() as u64),
                    None => None,
                };
                Trips::Ipmi {
                    up: c.up,
                    down: c.down,
                    sessions,
                    bmc_forks,
                }
            }
            Kind::Ssh { host, .. } => Trips::Ssh {
                sessions: appended(0)?
                    .lines()
                    .filter(|l| l.starts_with("Accepted "))
                    .count() as u64,
                commands: appended(1)?.lines().count() as u64,
                tool: host.tool,
            },
        };
        Ok(match (op, trips) {
            (Op::Metadata, Trips::Ipmi { up, .. }) => Trips::None { contacts: up },
            (Op::Metadata, Trips::Redfish { connections, .. }) => Trips::None {
                contacts: connections,
            },
            (Op::Metadata, Trips::Ssh { sessions, .. }) => Trips::None { contacts: sessions },
            (_, t) => t,
        })
    }
}

/// A request line of werkzeug's access log: `127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -`
/// (werkzeug colours some of them: `"\x1b[35m\x1b[1mPOST /path HTTP/1.1\x1b[0m" 204 -`).
fn is_request_line(line: &str) -> bool {
    let Some(quoted) = line.split('"').nth(1) else {
        return false;
    };
    let request = strip_ansi(quoted);
    let mut words = request.split(' ');
    matches!(
        words.next(),
        Some("GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD")
    ) && words.next().is_some_and(|p| p.starts_with('/'))
        && words.next().is_some_and(|v| v.starts_with("HTTP/"))
}

/// `s` without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn curl(ca: &Path, args: &[&str]) -> Result<String, String> {
    let ca = ca.to_string_lossy();
    let mut all = vec![
        "-sS",
        "--fail",
        "--max-time",
        "10",
        "--cacert",
        &ca,
        "-u",
        "admin:password",
    ];
    all.extend_from_slice(args);
    helper("curl", &all, HELPER_LIMIT)
}

fn ipmitool(port: u16, args: &[&str]) -> Result<String, String> {
    let port = port.to_string();
    let mut all = vec![
        "-I",
        "lanplus",
        "-C",
        "3",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "admin",
        "-P",
        "password",
        "-N",
        "1",
        "-R",
        "5",
    ];
    all.extend_from_slice(args);
    helper("ipmitool", &all, HELPER_LIMIT)
}

/// The string value of `"key": "value"` in a JSON text (enough for one flat field).
fn json_string<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let rest = &json[json.find(&quoted)? + quoted.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_finds_the_power_state() {
        let body = r#"{"Id": "x", "PowerState" : "Off", "Name": "node1"}"#;
        assert_eq!(json_string(body, "PowerState"), Some("Off"));
        assert_eq!(json_string(body, "Missing"), None);
    }

    #[test]
    fn request_lines_are_recognised() {
        assert!(is_request_line(
            r#"127.0.0.1 - - [22/Nov/2026 03:04:38] "GET /redfish/v1/Systems/x HTTP/1.1" 200 -"#
        ));
        assert!(is_request_line(
            "127.0.0.1 - - [22/Nov/2026 03:09:52] \"\x1b[35m\x1b[1mPOST /redfish/v1/Systems/x/Actions/ComputerSystem.Reset HTTP/1.1\x1b[0m\" 204 -"
        ));
        assert!(!is_request_line(" * Running on https://127.0.0.1:40831"));
        assert!(!is_request_line("\x1b[33mPress CTRL+C to quit\x1b[0m"));
    }

    #[test]
    fn targets_reflect_the_issue() {
        let ipmi = |up, down| Trips::Ipmi {
            up,
            down,
            sessions: 1,
            bmc_forks: None,
        };
        assert_eq!(ipmi(7, 7).target(Op::Status).map(|t| t.1), Some(true));
        assert_eq!(ipmi(8, 8).target(Op::Status).map(|t| t.1), Some(false));
        assert_eq!(ipmi(8, 8).target(Op::Off).map(|t| t.1), Some(true));
        let rf = |requests, connections| Trips::Redfish {
            requests,
            connections,
        };
        assert_eq!(rf(3, 1).target(Op::Off).map(|t| t.1), Some(true));
        assert_eq!(rf(3, 3).target(Op::Off).map(|t| t.1), Some(false));
        let vb = |sessions, commands| Trips::Ssh {
            sessions,
            commands,
            tool: "VBoxManage",
        };
        assert_eq!(vb(1, 2).target(Op::Status).map(|t| t.1), Some(true));
        assert_eq!(vb(1, 3).target(Op::Status).map(|t| t.1), Some(false));
    }

    #[test]
    fn op_checks_follow_the_agent_contract() {
        assert!(Op::Status.check(Some(0), "Status: ON\n").is_ok());
        assert!(Op::Status.check(Some(2), "Status: OFF\n").is_err());
        assert!(Op::Off.check(Some(0), "Success: Powered OFF\n").is_ok());
        assert!(Op::Off.check(Some(1), "Success: Powered OFF\n").is_err());
    }
}
