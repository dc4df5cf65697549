//! No secret in the process list: while an agent runs its `password_script` and its
//! `notify_command`, a sampler reads `/proc/*/cmdline` and `/proc/*/environ` of every
//! process (what `ps e` shows to the user who owns them, and `ps` shows everyone) every few
//! milliseconds. The password, the script texts and the webhook token in the notify command
//! must appear in none of them, and the sampler must have seen the agent's children (else
//! it proved nothing).
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fault_kit::temp_dir;
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};

/// The BMC's password, which only the password script prints.
const PW: &str = "Ps-Secret-Pw-5521";
/// A webhook token inside the notify command's text.
const HOOK: &str = "Hook-T0ken-7f3e91";

/// What one sampler pass found.
#[derive(Default)]
struct Seen {
    /// `pid: cmdline` of every process whose cmdline or environment held a secret.
    leaks: BTreeSet<String>,
    /// The agent's descendants seen, as `pid: cmdline`.
    children: BTreeSet<String>,
}

fn read(path: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    buf
}

fn parent(pid: u32) -> Option<u32> {
    let stat = String::from_utf8_lossy(&read(&format!("/proc/{pid}/stat"))).into_owned();
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        match parent(pid) {
            Some(p) if p == ancestor => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}

/// One pass over `/proc`.
fn sample(agent: u32, secrets: &[&str], seen: &mut Seen) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let me = std::process::id();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = read(&format!("/proc/{pid}/cmdline"));
        let environ = read(&format!("/proc/{pid}/environ"));
        let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        for s in secrets {
            let s = s.as_bytes();
            let holds = |b: &[u8]| b.windows(s.len()).any(|w| w == s);
            if holds(&cmdline) || holds(&environ) {
                seen.leaks.insert(format!("{pid}: {shown}"));
            }
        }
        if pid != agent && descends_from(pid, agent) {
            seen.children.insert(format!("{pid}: {shown}"));
        }
    }
}

/// Runs `agent` with `stdin` while sampling; returns the run's exit code and output, and
/// what the sampler saw.
async fn run_sampled(agent: &str, stdin: String, secrets: &[&str]) -> (i32, String, Seen) {
    let agent = agent.to_owned();
    let secrets: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let child = fault_kit::spawn_stdin(&agent, stdin.as_bytes());
        let pid = child.id();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
                let mut seen = Seen::default();
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
                    sample(pid, &refs, &mut seen);
                    std::thread::sleep(Duration::from_millis(3));
                }
                seen
            })
        };
        let out = child.wait_with_output().unwrap();
        stop.store(true, Ordering::SeqCst);
        let seen = sampler.join().unwrap();
        let text = format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text, seen)
    })
    .await
    .unwrap()
}

/// The password script prints the password after a pause (so that it is sampled while it
/// runs); the notify command holds a webhook token and also pauses.
fn scripts(dir: &std::path::Path) -> (String, String) {
    let password_script = format!("sleep 0.4; printf '%s\\n' '{PW}'");
    let notify = format!(
        "sleep 0.4; cat > {}/event.json; env | grep FENCE_EVENT_ > {}/env.txt # https://hooks.invalid/{HOOK}",
        dir.display(),
        dir.display()
    );
    (password_script, notify)
}

fn assert_clean(what: &str, code: i32, text: &str, seen: &Seen, dir: &std::path::Path) {
    assert_eq!(code, 0, "{what}: {text}");
    assert!(
        seen.leaks.is_empty(),
        "{what}: secrets in the process list:\n{}",
        seen.leaks.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        seen.children.len() >= 2,
        "{what}: the sampler saw too few of the agent's children to prove anything: {:?}",
        seen.children
    );
    assert!(
        seen.children.iter().any(|c| c.contains("sleep")),
        "{what}: the scripts' children were not seen: {:?}",
        seen.children
    );
    // What the notify command received (stdin and FENCE_EVENT_*) holds no secret either.
    let event = std::fs::read_to_string(dir.join("event.json")).unwrap();
    let env = std::fs::read_to_string(dir.join("env.txt")).unwrap();
    assert!(env.contains("FENCE_EVENT_RESULT=success"), "{what}: {env}");
    for s in [PW, HOOK] {
        assert!(
            !event.contains(s) && !env.contains(s),
            "{what}: {event}\n{env}"
        );
        assert!(!text.contains(s), "{what}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ipmi_password_script_and_notify_command_are_in_no_process_list() {
    let dir = temp_dir("ps-ipmi");
    let sim = IpmiSim::start(IpmiConfig {
        password: PW.into(),
        ..IpmiConfig::default()
    })
    .await
    .unwrap();
    let (password_script, notify) = scripts(&dir);
    let stdin = format!(
        "action=status\nip=127.0.0.1\nipport={}\nusername=admin\nlanplus=1\n\
         password_script={password_script}\nnotify_command={notify}\nverbose=1\n\
         event_log={}/events.jsonl\n",
        sim.bmcs()[0].addr.port(),
        dir.display()
    );
    let (code, text, seen) =
        run_sampled("fence_ipmilan", stdin, &[PW, HOOK, &password_script]).await;
    assert_clean("fence_ipmilan", code, &text, &seen, &dir);
    let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(log.contains("\"success\":true") && !log.contains(PW) && !log.contains(HOOK));
}

#[tokio::test(flavor = "multi_thread")]
async fn redfish_password_script_and_notify_command_are_in_no_process_list() {
    let dir = temp_dir("ps-redfish");
    let sim = RedfishSim::start(RedfishConfig {
        password: PW.into(),
        ..RedfishConfig::default()
    })
    .await
    .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let (password_script, notify) = scripts(&dir);
    let stdin = format!(
        "action=status\nip=127.0.0.1\nipport={}\nusername=admin\nssl_ca_file={}\n\
         systems_uri=/redfish/v1/Systems/1\nauth_method=session\n\
         password_script={password_script}\nnotify_command={notify}\nverbose=1\n",
        sim.services()[0].addr.port(),
        ca.display()
    );
    let (code, text, seen) =
        run_sampled("fence_redfish", stdin, &[PW, HOOK, &password_script]).await;
    assert_clean("fence_redfish", code, &text, &seen, &dir);
}
