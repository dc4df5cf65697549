//! fence-rs's own Redfish simulator (`fence-sim redfish`) as an extra peer. sushy-emulator's
//! server (werkzeug) answers every request with `Connection: close`, so no client can keep
//! one TLS connection for a run there; fence-sim speaks HTTP/1.1 with keep-alive, which shows
//! whether an agent reuses its connection. Both agents run against it with the same options.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on fence-sim writing its readiness line.
const READY_LIMIT: Duration = Duration::from_secs(15);

/// A running `fence-sim redfish`, stopped (by its PID, as our own child) on drop.
#[derive(Debug)]
pub struct FenceSim {
    child: Child,
    /// The HTTPS port.
    pub port: u16,
    /// The CA certificate of its made-up server certificate.
    pub ca: PathBuf,
    /// Its `--events` log (every connection and request, written before the answer).
    pub log: PathBuf,
    /// The system's path (`/redfish/v1/Systems/1`).
    pub systems_uri: String,
}

impl FenceSim {
    /// Starts `program redfish` with its files in `dir` and waits until it is ready.
    pub fn start(program: &Path, dir: &Path) -> Result<FenceSim, String> {
        let info = dir.join("fence-sim.json");
        let ca = dir.join("fence-sim-ca.pem");
        let log = dir.join("fence-sim.log");
        let _ = std::fs::remove_file(&info);
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = Command::new(program)
            .arg("redfish")
            .arg("--events")
            .arg("--info-file")
            .arg(&info)
            .arg("--ca-file")
            .arg(&ca)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut sim = FenceSim {
            child,
            port: 0,
            ca,
            log,
            systems_uri: String::new(),
        };
        let t0 = Instant::now();
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(&info) {
                if text.ends_with('\n') || text.ends_with('}') {
                    break text;
                }
            }
            if let Ok(Some(status)) = sim.child.try_wait() {
                return Err(format!(
                    "fence-sim exited ({status}) before it was ready; see {}",
                    sim.log.display()
                ));
            }
            if t0.elapsed() > READY_LIMIT {
                return Err(format!("fence-sim not ready within {READY_LIMIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        sim.port = json_number(&text, "port")
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("no port in fence-sim's readiness line {text:?}"))?;
        sim.systems_uri = text
            .split('"')
            .find(|s| s.starts_with("/redfish/v1/Systems/"))
            .ok_or_else(|| format!("no system in fence-sim's readiness line {text:?}"))?
            .to_owned();
        Ok(sim)
    }
}

impl Drop for FenceSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `"key":` in a JSON text.
fn json_number(json: &str, key: &str) -> Option<u64> {
    let quoted = format!("\"{key}\"");
    let rest = &json[json.find(&quoted)? + quoted.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A request line of fence-sim's `--events` log: `redfish #0: GET /redfish/v1/Systems/1 (On) -> 200`.
pub fn is_request_line(line: &str) -> bool {
    line.starts_with("redfish #") && line.contains(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_line_fields() {
        let line = r#"{"ca_file":"/tmp/ca.pem","kind":"redfish","services":[{"port":37035,"systems":["/redfish/v1/Systems/1"]}]}"#;
        assert_eq!(json_number(line, "port"), Some(37035));
        assert_eq!(json_number(line, "missing"), None);
    }

    #[test]
    fn request_lines() {
        assert!(is_request_line(
            "redfish #0: POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset On -> 204"
        ));
        assert!(!is_request_line(
            "redfish #0: connection from 127.0.0.1:52154"
        ));
    }
}
