//! Shared by the IPMI interop tests: ipmitool, the reference client, reads back (and sets)
//! the power state of a BMC on loopback independently of our code.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fence_core::PowerState;
use fence_tests::run_tool;

/// ipmitool as admin/password against the BMC at 127.0.0.1:`port`, over one interface.
#[derive(Clone, Copy, Debug)]
pub struct Ipmitool {
    port: u16,
    interface: &'static [&'static str],
}

impl Ipmitool {
    /// IPMI v2.0 RMCP+ with cipher suite 3 (`-I lanplus -C 3`).
    pub fn lanplus(port: u16) -> Ipmitool {
        Ipmitool {
            port,
            interface: &["-I", "lanplus", "-C", "3"],
        }
    }

    /// IPMI v1.5 with MD5 authentication (`-I lan -A MD5`).
    pub fn lan_md5(port: u16) -> Ipmitool {
        Ipmitool {
            port,
            interface: &["-I", "lan", "-A", "MD5"],
        }
    }

    /// Runs `ipmitool ... args` (one retransmission per second, 3 retries); returns stdout
    /// and fails the test when ipmitool fails.
    pub fn run(&self, args: &[&str]) -> String {
        let port = self.port.to_string();
        let mut argv = self.interface.to_vec();
        argv.extend([
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
            "3",
        ]);
        argv.extend(args);
        let out = run_tool("ipmitool", &argv);
        assert!(
            out.status.success(),
            "ipmitool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The power state as ipmitool (not our code) reads it.
    pub fn power_state(&self) -> PowerState {
        let out = self.run(&["chassis", "power", "status"]);
        if out.contains("Chassis Power is on") {
            PowerState::On
        } else if out.contains("Chassis Power is off") {
            PowerState::Off
        } else {
            panic!("unexpected ipmitool output: {out}")
        }
    }

    /// Polls (bounded) until ipmitool reads `state`.
    pub fn wait_for(&self, state: PowerState, bound: Duration) {
        let deadline = Instant::now() + bound;
        while self.power_state() != state {
            assert!(
                Instant::now() < deadline,
                "the BMC on port {} never reached {state}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Puts the BMC into `state` with ipmitool and waits (up to 10 s) until ipmitool reads it.
    pub fn force(&self, state: PowerState) {
        if self.power_state() == state {
            return;
        }
        self.run(&["chassis", "power", state.as_str()]);
        self.wait_for(state, Duration::from_secs(10));
    }
}
