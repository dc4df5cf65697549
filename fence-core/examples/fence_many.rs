//! Fences a rack of 40 machines at once with [`fence_core::many`].
//!
//! The devices here are in-process stand-ins with a little latency, so the example runs
//! anywhere; a real program builds `fence_ipmi`/`fence_redfish` devices instead (see
//! `fence-sim`'s `bench` subcommand, which does that against 1,000 simulated BMCs).
//!
//! ```text
//! cargo run -p fence-core --example fence_many
//! ```

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use fence_core::many::{Limits, Many, Target};
use fence_core::{Action, Capabilities, Engine, Error, FenceDevice, PowerState, Result, Timing};

/// A BMC stand-in: one machine, 5 ms per call, powers off 30 ms after being asked.
/// `bmc-13` does not answer.
#[derive(Debug)]
struct StandIn {
    address: String,
    off_at: Mutex<Option<tokio::time::Instant>>,
}

#[async_trait]
impl FenceDevice for StandIn {
    fn backend(&self) -> &'static str {
        "stand-in"
    }
    fn address(&self) -> String {
        self.address.clone()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::single()
    }
    async fn power_state(&self, _plug: &str) -> Result<PowerState> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if self.address == "bmc-13" {
            return Err(Error::unreachable("bmc-13: no answer within 1 s"));
        }
        let off_at = *self
            .off_at
            .lock()
            .map_err(|_| Error::misbehaved("poisoned"))?;
        Ok(match off_at {
            Some(t) if tokio::time::Instant::now() >= t => PowerState::Off,
            _ => PowerState::On,
        })
    }
    async fn set_power(&self, _plug: &str, state: PowerState) -> Result<()> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut off_at = self
            .off_at
            .lock()
            .map_err(|_| Error::misbehaved("poisoned"))?;
        *off_at = match state {
            PowerState::Off => Some(tokio::time::Instant::now() + Duration::from_millis(30)),
            PowerState::On => None,
        };
        Ok(())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let targets: Vec<Target> = (0..40)
        .map(|i| {
            let device: Arc<dyn FenceDevice> = Arc::new(StandIn {
                address: format!("bmc-{i}"),
                off_at: Mutex::new(None),
            });
            Target::plugless(device, Action::Off)
        })
        .collect();

    let timing = Timing {
        power_timeout: Some(Duration::from_secs(2)),
        call_timeout: Duration::from_secs(2),
        ..Timing::default()
    };
    let report = Many::new(Engine::new(timing))
        .limits(Limits::default().overall(16))
        .run(targets)
        .await;

    for t in &report.targets {
        match &t.report.result {
            Ok(outcome) => println!(
                "{:<8} {:?}: {} status reads, off verified: {}, {:?}",
                t.address,
                outcome,
                t.report.reads.len(),
                t.report.off_verified(),
                t.report.elapsed
            ),
            Err(e) => println!("{:<8} FAILED: {e}", t.address),
        }
    }
    println!(
        "{} of {} fenced in {:?}, at most {} at once",
        report.succeeded(),
        report.targets.len(),
        report.elapsed,
        report.peak_in_flight
    );
}
