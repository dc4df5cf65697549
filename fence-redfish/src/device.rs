//! The Redfish device: which system, how to read its power state, how to reset it.
//!
//! - **System**: `systems_uri`, or discovery (service root, then its `Systems` collection):
//!   one member is used; several are an error that names them (fence_redfish silently
//!   takes the last one).
//! - **State**: `GET <system>`, read only from a `200 OK` answer with a JSON body (a 201,
//!   202, 203, 204 or 206 answer to a GET is an error, never a state); `PowerState` `Off` is off, any other value (`On`,
//!   `PoweringOn`, `PoweringOff`, ...) is on, as in fence_redfish. The same read caches the
//!   system's `#ComputerSystem.Reset` target and its `ResetType@Redfish.AllowableValues`,
//!   so a reset right after a status read costs one request.
//! - **Reset**: `POST <target> {"ResetType": ...}`: `ForceOff` for off; `On` (or `ForceOn`
//!   when only that is offered) for on; `ForceRestart` (or `PowerCycle`) for a power cycle;
//!   `Nmi` for diag. An HTTP error fails at once with the service's message; whether the
//!   system reached the state is for the engine to read.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use fence_core::{Capabilities, Error, FenceDevice, PowerState, Result};
use serde_json::{Value, json};

use crate::client::{Missing, RedfishClient};
use crate::collection;
use crate::config::{AuthMethod, RedfishConfig};

/// What a reset is meant to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reset {
    Off,
    On,
    Cycle,
    Diag,
}

impl Reset {
    /// The ResetType values that do it, preferred first.
    fn candidates(self) -> &'static [&'static str] {
        match self {
            Reset::Off => &["ForceOff"],
            Reset::On => &["On", "ForceOn"],
            Reset::Cycle => &["ForceRestart", "PowerCycle"],
            Reset::Diag => &["Nmi"],
        }
    }
}

/// The reset action of the system, as its document describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ResetAction {
    target: String,
    allowed: Option<Vec<String>>,
    /// `@Redfish.ActionInfo` (DSP0266 1.8.1 §9.8.3): the resource that lists the allowed
    /// values instead, as OpenBMC's bmcweb gives them (`.../ResetActionInfo`).
    info: Option<String>,
}

impl ResetAction {
    fn from_system(doc: &Value) -> Option<ResetAction> {
        let action = doc.get("Actions")?.get("#ComputerSystem.Reset")?;
        let target = action.get("target")?.as_str()?.to_owned();
        let allowed = action
            .get("ResetType@Redfish.AllowableValues")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|a| !a.is_empty());
        let info = action
            .get("@Redfish.ActionInfo")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some(ResetAction {
            target,
            allowed,
            info,
        })
    }

    /// The `ResetType` values an ActionInfo resource allows (`Parameters[]` entry named
    /// `ResetType`, its `AllowableValues`); `None` when it lists none.
    fn allowed_in_info(info: &Value) -> Option<Vec<String>> {
        let values = info
            .get("Parameters")?
            .as_array()?
            .iter()
            .find(|p| p.get("Name").and_then(Value::as_str) == Some("ResetType"))?
            .get("AllowableValues")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect::<Vec<_>>();
        (!values.is_empty()).then_some(values)
    }

    /// The ResetType to send: the first candidate the service allows, or the first
    /// candidate when the service does not list its values.
    fn reset_type(&self, reset: Reset) -> Result<&'static str> {
        let candidates = reset.candidates();
        let Some(allowed) = &self.allowed else {
            return Ok(candidates[0]);
        };
        candidates
            .iter()
            .copied()
            .find(|c| allowed.iter().any(|a| a == c))
            .ok_or_else(|| {
                Error::unsupported(format!(
                    "{}: the service offers no ResetType {} (it offers {})",
                    self.target,
                    candidates.join(" or "),
                    allowed.join(", ")
                ))
            })
    }
}

/// A Redfish service with one system to fence.
///
/// Create it with [`RedfishDevice::new`] (no I/O), use it through
/// [`fence_core::FenceDevice`], and call [`FenceDevice::close`] at the end (it deletes the
/// Redfish session when `auth_method=session`).
pub struct RedfishDevice {
    config: RedfishConfig,
    client: RedfishClient,
    system: tokio::sync::OnceCell<String>,
    reset: Mutex<Option<ResetAction>>,
    /// An ActionInfo read (its URI) and the ResetTypes it allows.
    action_info: Mutex<Option<(String, Option<Vec<String>>)>>,
}

impl fmt::Debug for RedfishDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedfishDevice")
            .field("config", &self.config)
            .field("system", &self.system.get())
            .finish_non_exhaustive()
    }
}

impl RedfishDevice {
    /// A device for `config`. Builds the HTTPS client (reads `ssl_ca_file` and the
    /// system's CA roots) but does not contact the service: the connection is opened by the
    /// first call and kept for the whole run.
    pub fn new(config: RedfishConfig) -> Result<RedfishDevice> {
        let client = RedfishClient::new(&config)?;
        Ok(RedfishDevice {
            config,
            client,
            system: tokio::sync::OnceCell::new(),
            reset: Mutex::new(None),
            action_info: Mutex::new(None),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedfishConfig {
        &self.config
    }

    /// HTTP requests sent so far (session login and logout included): the evidence for
    /// "status costs 1 request, a verified off 3".
    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    /// The system's URI: `systems_uri`, or the only member of the service's Systems
    /// collection (discovered once, then remembered).
    pub async fn system_uri(&self) -> Result<&str> {
        self.system
            .get_or_try_init(|| async {
                match &self.config.systems_uri {
                    Some(uri) => Ok(uri.clone()),
                    None => self.discover().await,
                }
            })
            .await
            .map(String::as_str)
    }

    async fn discover(&self) -> Result<String> {
        let (systems, members) = self.system_members().await?;
        match members.as_slice() {
            [] => Err(Error::misbehaved(format!(
                "the Systems collection {}{systems} has no members: set systems_uri",
                self.client.base()
            ))),
            [one] => {
                tracing::debug!(system = %one, "discovered the only system");
                Ok(one.clone())
            }
            several => Err(Error::invalid_input(format!(
                "the Redfish service at {} has {} systems ({}): set systems_uri to the \
                 one to fence",
                self.client.base(),
                several.len(),
                several.join(", ")
            ))),
        }
    }

    /// The Systems collection's URI and its members' URIs (service root, then Systems).
    async fn system_members(&self) -> Result<(String, Vec<String>)> {
        let root_uri = &self.config.redfish_uri;
        let root = self.client.get_json(root_uri, Missing::Misbehaved).await?;
        let systems = root
            .get("Systems")
            .and_then(|s| s.get("@odata.id"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::misbehaved(format!(
                    "the service root {}{root_uri} has no Systems collection: set systems_uri",
                    self.client.base()
                ))
            })?
            .to_owned();
        let members = collection::members(&self.client, &systems).await?;
        Ok((systems, members))
    }

    /// Reads the system document and remembers its reset action.
    async fn read_system(&self) -> Result<(String, Value)> {
        let uri = self.system_uri().await?.to_owned();
        let doc = self.client.get_json(&uri, Missing::Plug).await?;
        let action = ResetAction::from_system(&doc);
        if let Ok(mut cached) = self.reset.lock() {
            *cached = action;
        }
        Ok((uri, doc))
    }

    /// The reset action: remembered from the last read, else read now; its allowed values
    /// from its ActionInfo when the system document does not list them.
    async fn reset_action(&self) -> Result<ResetAction> {
        let cached = self.reset.lock().ok().and_then(|c| c.clone());
        let mut action = match cached {
            Some(action) => action,
            None => {
                let (uri, doc) = self.read_system().await?;
                ResetAction::from_system(&doc).ok_or_else(|| {
                    Error::misbehaved(format!(
                        "{}{uri}: the system has no Actions.#ComputerSystem.Reset target",
                        self.client.base()
                    ))
                })?
            }
        };
        if action.allowed.is_none() {
            if let Some(info_uri) = &action.info {
                action.allowed = self.allowed_in(info_uri).await;
            }
        }
        Ok(action)
    }

    /// The ResetTypes the ActionInfo at `uri` allows: read once per device (one more GET,
    /// whatever it says), then remembered. Without them the preferred type is sent, which a
    /// service that allows only ForceOn or PowerCycle refuses.
    async fn allowed_in(&self, uri: &str) -> Option<Vec<String>> {
        let known = self.action_info.lock().ok().and_then(|c| c.clone());
        if let Some((_, allowed)) = known.filter(|(read, _)| read == uri) {
            return allowed;
        }
        let allowed = match self.client.get_json(uri, Missing::Misbehaved).await {
            Ok(info) => ResetAction::allowed_in_info(&info),
            Err(e) => {
                tracing::debug!(%uri, error = %e, "ActionInfo not read; sending the preferred ResetType");
                None
            }
        };
        if let Ok(mut cached) = self.action_info.lock() {
            *cached = Some((uri.to_owned(), allowed.clone()));
        }
        allowed
    }

    async fn reset(&self, reset: Reset) -> Result<()> {
        let action = self.reset_action().await?;
        let reset_type = action.reset_type(reset)?;
        tracing::debug!(target = %action.target, reset_type, "reset");
        self.client
            .post_json(&action.target, &json!({ "ResetType": reset_type }))
            .await
            .map(|_| ())
    }
}

/// `PowerState` as fence_redfish reads it: exactly `Off` (after trimming) is off.
fn power_state(doc: &Value) -> Option<PowerState> {
    let s = doc.get("PowerState")?.as_str()?;
    Some(if s.trim() == "Off" {
        PowerState::Off
    } else {
        PowerState::On
    })
}

#[async_trait]
impl FenceDevice for RedfishDevice {
    fn backend(&self) -> &'static str {
        "redfish"
    }

    fn address(&self) -> String {
        self.config.base_url()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::single().with_power_cycle().with_diag()
    }

    async fn power_state(&self, _plug: &str) -> Result<PowerState> {
        let (uri, doc) = self.read_system().await?;
        power_state(&doc).ok_or_else(|| {
            Error::misbehaved(format!(
                "Unable to get PowerState: {}{uri} has no PowerState",
                self.client.base()
            ))
        })
    }

    async fn set_power(&self, _plug: &str, state: PowerState) -> Result<()> {
        self.reset(match state {
            PowerState::On => Reset::On,
            PowerState::Off => Reset::Off,
        })
        .await
    }

    async fn power_cycle(&self, _plug: &str) -> Result<()> {
        self.reset(Reset::Cycle).await
    }

    async fn diag(&self, _plug: &str) -> Result<()> {
        self.reset(Reset::Diag).await
    }

    /// With `systems_uri` (or a single discovered system): one status read. Without it, on a
    /// service with several systems: the authenticated read of the Systems collection proves
    /// the service answers and accepts the credentials, which is all a monitor asks. One
    /// Redfish device with a host map fencing several systems is a normal configuration.
    async fn monitor(&self) -> Result<()> {
        if self.config.systems_uri.is_some() {
            return self.power_state("").await.map(|_| ());
        }
        let (systems, members) = self.system_members().await?;
        match members.as_slice() {
            [] => Err(Error::misbehaved(format!(
                "the Systems collection {}{systems} has no members",
                self.client.base()
            ))),
            [one] => {
                // Remember it, so the status read does not discover it again.
                let _ = self.system.set(one.clone());
                self.power_state("").await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// With session authentication, deletes the Redfish session (`DELETE` of its
    /// `Location`) and forgets it, also when the DELETE fails. The HTTPS client and its
    /// keep-alive connection stay (closed when the device is dropped); with basic
    /// authentication nothing is sent. The device stays usable: the next call logs in
    /// again (session authentication) on the same client.
    async fn close(&self) -> Result<()> {
        if self.config.auth == AuthMethod::Session {
            self.client.close().await
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(allowed: Option<&[&str]>) -> ResetAction {
        ResetAction {
            target: "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset".into(),
            allowed: allowed.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            info: None,
        }
    }

    #[test]
    fn reset_types_follow_the_allowable_values() {
        let all = action(Some(&["On", "ForceOff", "ForceRestart", "Nmi", "ForceOn"]));
        assert_eq!(all.reset_type(Reset::Off).unwrap(), "ForceOff");
        assert_eq!(all.reset_type(Reset::On).unwrap(), "On");
        assert_eq!(all.reset_type(Reset::Cycle).unwrap(), "ForceRestart");
        assert_eq!(all.reset_type(Reset::Diag).unwrap(), "Nmi");
        let force_on = action(Some(&["ForceOn", "ForceOff", "PowerCycle"]));
        assert_eq!(force_on.reset_type(Reset::On).unwrap(), "ForceOn");
        assert_eq!(force_on.reset_type(Reset::Cycle).unwrap(), "PowerCycle");
        let e = force_on.reset_type(Reset::Diag).unwrap_err();
        assert_eq!(e.kind(), fence_core::ErrorKind::Unsupported);
        assert!(e.to_string().contains("Nmi"), "{e}");
        assert!(
            e.to_string().contains("ForceOn, ForceOff, PowerCycle"),
            "{e}"
        );
        let graceful_only = action(Some(&["On", "GracefulShutdown"]));
        assert!(graceful_only.reset_type(Reset::Off).is_err(), "no ForceOff");
        let unlisted = action(None);
        assert_eq!(unlisted.reset_type(Reset::On).unwrap(), "On");
        assert_eq!(unlisted.reset_type(Reset::Off).unwrap(), "ForceOff");
    }

    #[test]
    fn reset_action_is_read_from_the_system_document() {
        let doc = json!({
            "PowerState": "On",
            "Actions": {"#ComputerSystem.Reset": {
                "target": "/t",
                "ResetType@Redfish.AllowableValues": ["On", "ForceOff"]
            }}
        });
        assert_eq!(
            ResetAction::from_system(&doc),
            Some(ResetAction {
                target: "/t".into(),
                allowed: Some(vec!["On".into(), "ForceOff".into()]),
                info: None,
            })
        );
        let bare = json!({"Actions": {"#ComputerSystem.Reset": {"target": "/t"}}});
        assert_eq!(ResetAction::from_system(&bare).unwrap().allowed, None);
        assert_eq!(ResetAction::from_system(&json!({"PowerState": "On"})), None);
    }

    #[test]
    fn only_off_is_off() {
        for (value, state) in [
            ("Off", Some(PowerState::Off)),
            (" Off ", Some(PowerState::Off)),
            ("On", Some(PowerState::On)),
            ("PoweringOff", Some(PowerState::On)),
            ("PoweringOn", Some(PowerState::On)),
            ("off", Some(PowerState::On)),
        ] {
            assert_eq!(
                power_state(&json!({ "PowerState": value })),
                state,
                "{value}"
            );
        }
        assert_eq!(power_state(&json!({})), None);
        assert_eq!(power_state(&json!({ "PowerState": null })), None);
    }
}
