//! No secret in any output: with `verbose=1`, `verbose_level=5` and `debug_file`, the
//! password (also as hex and inside a Basic authorization header), the Kg key and the
//! Redfish session token never appear on stdout, stderr or in the debug file, for every
//! backend, on the success path and on failure paths (wrong password, no answer, refused
//! reset, a device that never switches off, a stalled command).
#![allow(clippy::unwrap_used)]

mod fault_kit;

use std::path::Path;

use fault_kit::{Run, cli_stdin, faults, strings, temp_dir};
use fence_sim::ipmi::{IpmiConfig, IpmiSim};
use fence_sim::redfish::{RedfishConfig, RedfishSim};
use fence_test_support::relay::{TcpFault, TcpRelay, UdpFault, UdpRelay};
use fence_tests::peer_port;

/// The password the simulated BMCs accept (at most 20 bytes for IPMI).
const PW: &str = "Qx7-Secret-Pw-4711";
/// A wrong password, as secret as the right one.
const WRONG: &str = "Wr0ng-Secret-8812";
/// A Kg key (hexadecimal_kg).
const KG: &str = "6b67536563726574303132333435363738394b47";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every form a secret could leak in.
fn forbidden() -> Vec<String> {
    let mut v = Vec::new();
    for s in [PW, WRONG] {
        v.push(s.to_owned());
        v.push(hex(s));
        v.push(base64(format!("admin:{s}").as_bytes()));
    }
    v.push(KG.to_owned());
    v.push(KG.to_uppercase());
    v
}

/// The files a run writes besides its output: debug file, event log, and what the notify
/// command received (stdin, `FENCE_EVENT_*`).
fn side_files(dir: &Path, what: &str) -> [std::path::PathBuf; 4] {
    let stem = what.replace(' ', "_");
    ["log", "events", "stdin", "env"].map(|ext| dir.join(format!("{stem}.{ext}")))
}

/// Asserts that neither the run's output nor its side files (see [`side_files`]) show a
/// secret; returns all the text seen.
fn assert_clean(what: &str, run: &Run, dir: &Path) -> String {
    let [debug_file, events, stdin, env] = side_files(dir, what);
    let debug = std::fs::read_to_string(debug_file).unwrap_or_default();
    let events = std::fs::read_to_string(events).unwrap_or_default();
    let stdin = std::fs::read_to_string(stdin).unwrap_or_default();
    let env = std::fs::read_to_string(env).unwrap_or_default();
    assert!(
        events.contains("\"source\":\"agent\"") && env.contains("FENCE_EVENT_RESULT="),
        "{what}: no event was delivered:\n{}\nevents: {events}\nenv: {env}",
        run.all()
    );
    let all = format!(
        "{}\n{}\n{debug}\nevent log:\n{events}\nnotify stdin:\n{stdin}\nnotify env:\n{env}",
        run.stdout, run.stderr
    );
    for secret in forbidden() {
        assert!(
            !all.contains(&secret),
            "{what}: {secret} shown:\n{}\ndebug file:\n{debug}",
            run.all()
        );
    }
    assert!(!all.contains("panicked"), "{what}:\n{all}");
    all
}

/// Runs `agent` on stdin with the verbose options, a debug file, an event log and a notify
/// command; checks the output and those files.
async fn run_checked(agent: &str, what: &str, lines: &[String], dir: &Path) -> (Run, String) {
    let [debug, events, stdin, env] = side_files(dir, what);
    let mut lines = lines.to_vec();
    lines.extend(strings(&["verbose=1", "verbose_level=5"]));
    lines.push(format!("debug_file={}", debug.display()));
    lines.push(format!("event_log={}", events.display()));
    lines.push(format!(
        "notify_command=cat > {}; env | grep FENCE_EVENT_ > {}",
        stdin.display(),
        env.display()
    ));
    let run = cli_stdin(agent, lines).await;
    let all = assert_clean(what, &run, dir);
    assert!(
        std::fs::metadata(&debug)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "{what}: the debug file is empty"
    );
    (run, all)
}

/// [`run_checked`], and the run must exit with `code`; returns all the text seen.
async fn run_expecting(code: i32, agent: &str, what: &str, lines: &[String], dir: &Path) -> String {
    let (run, all) = run_checked(agent, what, lines, dir).await;
    assert_eq!(run.code, code, "{what}: {}", run.all());
    all
}

fn ipmi_lines(action: &str, port: u16, password: &str) -> Vec<String> {
    vec![
        format!("action={action}"),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=admin".into(),
        format!("password={password}"),
        "lanplus=1".into(),
        "power_wait=0".into(),
        "power_timeout=2".into(),
        "login_timeout=2".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn ipmi_success_and_failure_paths_show_no_secret() {
    let dir = temp_dir("secrets-ipmi");
    let sim = |modes: &'static [&'static str]| async move {
        IpmiSim::start(IpmiConfig {
            password: PW.into(),
            faults: faults(modes),
            ..IpmiConfig::default()
        })
        .await
        .unwrap()
    };
    let good = sim(&[]).await;
    let port = good.bmcs()[0].addr.port();
    run_expecting(
        0,
        "fence_ipmilan",
        "ipmi off",
        &ipmi_lines("off", port, PW),
        &dir,
    )
    .await;
    run_expecting(
        0,
        "fence_ipmilan",
        "ipmi on",
        &ipmi_lines("on", port, PW),
        &dir,
    )
    .await;
    run_expecting(
        1,
        "fence_ipmilan",
        "ipmi wrong password",
        &ipmi_lines("status", port, WRONG),
        &dir,
    )
    .await;
    let mut kg = ipmi_lines("status", port, PW);
    kg.push(format!("hexadecimal_kg={KG}"));
    // fence-sim has no Kg: refused.
    run_expecting(1, "fence_ipmilan", "ipmi kg", &kg, &dir).await;

    let silent = sim(&["silent"]).await;
    let mut lines = ipmi_lines("off", silent.bmcs()[0].addr.port(), PW);
    lines.push(format!("hexadecimal_kg={KG}"));
    run_expecting(1, "fence_ipmilan", "ipmi unreachable", &lines, &dir).await;
    let refuse = sim(&["refuse"]).await;
    let lines = ipmi_lines("off", refuse.bmcs()[0].addr.port(), PW);
    run_expecting(1, "fence_ipmilan", "ipmi refused", &lines, &dir).await;
    let lie = sim(&["lie"]).await;
    let lines = ipmi_lines("reboot", lie.bmcs()[0].addr.port(), PW);
    run_expecting(1, "fence_ipmilan", "ipmi power timeout", &lines, &dir).await;
    // A session lost in the middle (the relay stops after RAKP 3).
    let cut = UdpRelay::start(good.bmcs()[0].addr, UdpFault::StopAfter(3))
        .await
        .unwrap();
    let lines = ipmi_lines("off", cut.port(), PW);
    run_expecting(1, "fence_ipmilan", "ipmi lost session", &lines, &dir).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ipmi_sim_peer_runs_show_no_secret() {
    // ipmi_sim accepts admin/password only: the secret checked here is the Kg and the
    // wrong password.
    let dir = temp_dir("secrets-ipmisim");
    let port = peer_port("IPMISIM_PORT");
    let mut lines = ipmi_lines("status", port, WRONG);
    lines.push("cipher=3".into());
    run_expecting(1, "fence_ipmilan", "ipmi_sim wrong password", &lines, &dir).await;
    let mut lines = ipmi_lines("status", port, "password");
    lines.extend([format!("hexadecimal_kg={KG}"), "cipher=3".into()]);
    // ipmi_sim has no Kg: refused.
    run_expecting(1, "fence_ipmilan", "ipmi_sim kg", &lines, &dir).await;
}

fn redfish_lines(action: &str, port: u16, password: &str, ca: &Path, session: bool) -> Vec<String> {
    let mut v = vec![
        format!("action={action}"),
        "ip=127.0.0.1".into(),
        format!("ipport={port}"),
        "username=admin".into(),
        format!("password={password}"),
        format!("ssl_ca_file={}", ca.display()),
        "systems_uri=/redfish/v1/Systems/1".into(),
        "power_timeout=2".into(),
        "login_timeout=2".into(),
        "shell_timeout=1".into(),
    ];
    if session {
        v.push("auth_method=session".into());
    }
    v
}

/// fence-sim's session tokens are 32 lowercase hex digits: none may be shown.
fn assert_no_token(what: &str, all: &str) {
    let bytes = all.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() || (b'a'..=b'f').contains(b) {
            run += 1;
            assert!(run < 32, "{what}: a token-like value at byte {i}:\n{all}");
        } else {
            run = 0;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redfish_success_and_failure_paths_show_no_password_or_session_token() {
    let dir = temp_dir("secrets-rf");
    let start = |modes: &'static [&'static str]| async move {
        RedfishSim::start(RedfishConfig {
            password: PW.into(),
            faults: faults(modes),
            ..RedfishConfig::default()
        })
        .await
        .unwrap()
    };
    let good = start(&[]).await;
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, good.ca_pem()).unwrap();
    let port = good.services()[0].addr.port();
    for session in [false, true] {
        let tag = if session { "session" } else { "basic" };
        for (action, code) in [("off", 0), ("status", 2), ("on", 0), ("reboot", 0)] {
            let what = format!("redfish {tag} {action}");
            let all = run_expecting(
                code,
                "fence_redfish",
                &what,
                &redfish_lines(action, port, PW, &ca, session),
                &dir,
            )
            .await;
            assert_no_token(&what, &all);
        }
        let what = format!("redfish {tag} wrong password");
        let all = run_expecting(
            1,
            "fence_redfish",
            &what,
            &redfish_lines("off", port, WRONG, &ca, session),
            &dir,
        )
        .await;
        assert_no_token(&what, &all);
    }
    let c = &good.services()[0].counters;
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        c.sessions_created.load(Relaxed),
        4,
        "session runs logged in"
    );
    assert_eq!(c.sessions_deleted.load(Relaxed), 4, "and logged out");

    for (modes, action) in [
        (&["silent"][..], "off"),
        (&["refuse"][..], "off"),
        (&["lie"][..], "reboot"),
    ] {
        let sim = start(modes).await;
        let ca = dir.join(format!("ca-{}.pem", modes[0]));
        std::fs::write(&ca, sim.ca_pem()).unwrap();
        let port = sim.services()[0].addr.port();
        for session in [false, true] {
            let what = format!("redfish {} session={session}", modes[0]);
            let all = run_expecting(
                1,
                "fence_redfish",
                &what,
                &redfish_lines(action, port, PW, &ca, session),
                &dir,
            )
            .await;
            assert_no_token(&what, &all);
        }
    }
    // A connection cut after the login: the reset and the verify fail.
    let cut = TcpRelay::start(good.services()[0].addr, TcpFault::CutAfter(2500))
        .await
        .unwrap();
    let what = "redfish session cut";
    let (_, all) = run_checked(
        "fence_redfish",
        what,
        &redfish_lines("reboot", cut.port(), PW, &ca, true),
        &dir,
    )
    .await;
    assert_no_token(what, &all);
}

/// The paths every SSH agent has, through the peers' sshd: a key login that succeeds (with
/// the password given alongside), a wrong password, and a silent host. `lines(action,
/// password, dir)` are the agent's stdin lines, with `ipport=` third.
async fn ssh_paths_show_no_secret(
    agent: &str,
    tag: &str,
    lines: fn(&str, &str, &Path) -> Vec<String>,
    dir: &Path,
) {
    let mut with_key = lines("status", PW, dir);
    with_key.push(ssh_key_line());
    run_expecting(0, agent, &format!("{tag} status"), &with_key, dir).await;
    let wrong = lines("status", WRONG, dir);
    run_expecting(1, agent, &format!("{tag} wrong password"), &wrong, dir).await;
    let silent = TcpRelay::start(
        ([127, 0, 0, 1], peer_port("SSH_PORT")).into(),
        TcpFault::Silent,
    )
    .await
    .unwrap();
    let mut unreachable = lines("off", PW, dir);
    unreachable[2] = format!("ipport={}", silent.port());
    run_expecting(1, agent, &format!("{tag} unreachable"), &unreachable, dir).await;
}

/// `identity_file=` of the peers' key for fenceuser.
fn ssh_key_line() -> String {
    format!("identity_file={}", fence_tests::peer_var("SSH_KEY"))
}

/// An executable shell script `name` in `dir` with this body.
fn host_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The event log and FENCE_EVENT_ERROR of run `tag` hold the host's echo of the password
/// scrubbed (`[redacted]`): its text was scrubbed where it came in.
fn assert_echo_scrubbed(dir: &Path, tag: &str, all: &str) {
    let [_, events, _, env] = side_files(dir, tag);
    for text in [
        std::fs::read_to_string(events).unwrap(),
        std::fs::read_to_string(env).unwrap(),
    ] {
        assert!(text.contains("the secret is [redacted]"), "{text}\n{all}");
    }
}

fn vbox_lines(action: &str, password: &str, dir: &Path) -> Vec<String> {
    vec![
        format!("action={action}"),
        "ip=127.0.0.1".into(),
        format!("ipport={}", peer_port("SSH_PORT")),
        "username=fenceuser".into(),
        format!("password={password}"),
        "plug=vm1".into(),
        format!("ssh_known_hosts_file={}", dir.join("kh").display()),
        "login_timeout=2".into(),
        "shell_timeout=2".into(),
        "power_timeout=2".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn vbox_success_and_failure_paths_show_no_secret() {
    let dir = temp_dir("secrets-vbox");
    ssh_paths_show_no_secret("fence_vbox", "vbox", vbox_lines, &dir).await;
    // A command that hangs after a login with the key.
    let script = host_script(&dir, "VBoxManage-hangs", "sleep 30\n");
    let mut lines = vbox_lines("off", PW, &dir);
    lines.push(ssh_key_line());
    lines.push(format!("vboxmanage_path={}", script.display()));
    run_expecting(1, "fence_vbox", "vbox stalled", &lines, &dir).await;
    // A host wrapper that echoes the password: its text is scrubbed where it comes in, so
    // the message, the event log and FENCE_EVENT_ERROR hold `[redacted]` instead.
    let script = host_script(
        &dir,
        "VBoxManage-echoes",
        &format!("echo 'VBoxManage: error: the secret is {PW}' >&2\nexit 1\n"),
    );
    let mut lines = vbox_lines("off", PW, &dir);
    lines.push(ssh_key_line());
    lines.push(format!("vboxmanage_path={}", script.display()));
    let all = run_expecting(1, "fence_vbox", "vbox echoes", &lines, &dir).await;
    assert_echo_scrubbed(&dir, "vbox echoes", &all);
}

/// This test's libvirt domain (transient, running), made once against the peers' libvirtd.
fn secrets_domain() -> String {
    static DOMAIN: std::sync::OnceLock<fence_tests::libvirt::Domain> = std::sync::OnceLock::new();
    DOMAIN
        .get_or_init(|| {
            fence_tests::libvirt::Domain::created(
                format!("fr-secrets-{}", std::process::id()),
                &temp_dir("secrets-domain"),
            )
        })
        .name
        .clone()
}

fn virsh_lines(action: &str, password: &str, dir: &Path) -> Vec<String> {
    vec![
        format!("action={action}"),
        "ip=127.0.0.1".into(),
        format!("ipport={}", peer_port("SSH_PORT")),
        "username=fenceuser".into(),
        format!("password={password}"),
        // A domain of the peers' libvirtd that only this test uses.
        format!("plug={}", secrets_domain()),
        format!("ssh_known_hosts_file={}", dir.join("kh").display()),
        "login_timeout=2".into(),
        "shell_timeout=2".into(),
        "power_timeout=2".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn virsh_success_and_failure_paths_show_no_secret() {
    let dir = temp_dir("secrets-virsh");
    ssh_paths_show_no_secret("fence_virsh", "virsh", virsh_lines, &dir).await;
    // A host wrapper (in sudo's place) that echoes the password: scrubbed where it comes in.
    let script = host_script(
        &dir,
        "sudo-echoes",
        &format!("echo 'error: the secret is {PW}' >&2\nexit 1\n"),
    );
    let mut lines = virsh_lines("off", PW, &dir);
    lines.push(ssh_key_line());
    lines.push("use_sudo=1".into());
    lines.push(format!("sudo_path={}", script.display()));
    let all = run_expecting(1, "fence_virsh", "virsh echoes", &lines, &dir).await;
    assert_echo_scrubbed(&dir, "virsh echoes", &all);
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert_eq!(base64(b"admin:password"), "YWRtaW46cGFzc3dvcmQ=");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(hex("AB"), "4142");
    let token = "X-Auth-Token: 0123456789abcdef0123456789abcdef";
    assert!(std::panic::catch_unwind(|| assert_no_token("t", token)).is_err());
    assert_no_token("t", "uuid f3c1e7a0-0000-4000-8000-000000000001");
}
