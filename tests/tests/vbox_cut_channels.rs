//! fence-vbox against an SSH server that cuts commands short (tests/peers/ssh_cutter.py, on
//! paramiko, which shares no code with libssh2): a channel closed without an exit status
//! (libssh2 then reports status 0), with no output, or with half of it. A command counts
//! only when its completion markers arrived, so a cut one is an error and never reads as
//! "no such VM" or Off, even with `missing_as_off`. Peer setting: `PEERS_VENV` (the venv of
//! tests/scripts/install-deps.sh, with paramiko).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fence_core::{ErrorKind, FenceDevice, PowerState};
use fence_tests::peer_path;
use fence_vbox::{HostKeyCheck, VboxConfig, VboxDevice};

/// The cutting server in one mode, with the VBoxManage stand-in on its PATH and two VMs.
struct Cutter {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Cutter {
    fn start(mode: &str) -> Cutter {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("vbox-cut-{mode}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        let vms = dir.join("vms");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&vms).unwrap();
        let fake = bin.join("VBoxManage");
        std::fs::copy(root.join("peers/VBoxManage.fake"), &fake).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            vms.join("vm-on"),
            "2ad5a6a6-7c3e-4d0a-9d1c-1b1e8f7f0a01 running 2026-01-01T00:00:00.000000000Z\n",
        )
        .unwrap();
        std::fs::write(
            vms.join("vm-off"),
            "3be6b7b7-8d4f-4e1b-ae2d-2c2f908f1b02 poweroff 2026-01-01T00:00:00.000000000Z\n",
        )
        .unwrap();
        let portfile = dir.join("port");
        let python = peer_path("PEERS_VENV").join("bin/python");
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let child = Command::new(&python)
            .arg(root.join("peers/ssh_cutter.py"))
            .arg(mode)
            .arg(&portfile)
            .env("PATH", path)
            .env("FAKEVBOX_DIR", &vms)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run tests/scripts/install-deps.sh)",
                    python.display()
                )
            });
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&portfile) {
                break text.trim().parse().unwrap();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "ssh_cutter.py did not start (is paramiko in the peers' venv?)"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Cutter { child, port, dir }
    }

    fn device(&self) -> VboxDevice {
        VboxDevice::new(
            VboxConfig::new("127.0.0.1", "fenceuser")
                .port(self.port)
                .password("password")
                .host_key_check(HostKeyCheck::Off)
                .missing_as_off(true),
        )
        .unwrap()
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn whole_output_without_an_exit_status_is_complete() {
    // The markers prove the commands finished, whatever libssh2 says of the status.
    let cutter = Cutter::start("nostatus");
    let device = cutter.device();
    assert_eq!(device.power_state("vm-on").await.unwrap(), PowerState::On);
    assert_eq!(device.power_state("vm-off").await.unwrap(), PowerState::Off);
    assert_eq!(
        device.power_state("vm-absent").await.unwrap(),
        PowerState::Off
    );
    device.close().await.unwrap();
}

#[tokio::test]
async fn a_channel_closed_without_output_or_status_is_an_error_never_off() {
    let cutter = Cutter::start("empty");
    for plug in ["vm-on", "vm-off", "vm-absent"] {
        let device = cutter.device();
        let err = device.power_state(plug).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Misbehaved, "{plug}: {err}");
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(device.list().await.is_err());
        device.close().await.unwrap();
    }
}

#[tokio::test]
async fn half_an_output_is_an_error_never_off() {
    let cutter = Cutter::start("truncate");
    for plug in ["vm-on", "vm-off", "vm-absent"] {
        let device = cutter.device();
        let err = device.power_state(plug).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Misbehaved, "{plug}: {err}");
        assert!(err.to_string().contains("did not finish"), "{err}");
        device.close().await.unwrap();
    }
}
