//! A scriptable Redfish service over HTTPS, on [`crate::https`], for the paths that
//! sushy-tools cannot show: sessions (login, token, logout), refused resets with iLO-style
//! messages and a state they leave, missing collections, redirects, silence and oversized
//! answers. Its [`State`] is the script: a test changes it between and during runs, and
//! reads the request log and the connection count.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::https::{Certificate, HttpsServer, Reply, Request};

/// The user name the service accepts.
pub const USER: &str = "admin";
/// The password the service accepts.
pub const PASSWORD: &str = "s3cret-pw";

/// A system of the service.
#[derive(Clone, Debug)]
pub struct System {
    /// Its id (the last segment of its URI).
    pub id: String,
    /// Its `PowerState`.
    pub power: String,
    /// The ResetTypes it allows and announces; a reset of another type is refused with
    /// 400 `Base.1.8.ActionParameterNotSupported`, as bmcweb and iLO refuse it.
    pub allowed: Option<Vec<String>>,
    /// Announce them in an ActionInfo resource (`@Redfish.ActionInfo`, at
    /// `.../ResetActionInfo`, as OpenBMC's bmcweb does) instead of
    /// `ResetType@Redfish.AllowableValues`.
    pub action_info: bool,
}

impl System {
    /// A system that allows On, ForceOff, GracefulShutdown, ForceRestart, Nmi and ForceOn.
    pub fn new(id: &str, power: &str) -> System {
        System {
            id: id.to_owned(),
            power: power.to_owned(),
            allowed: Some(
                [
                    "On",
                    "ForceOff",
                    "GracefulShutdown",
                    "ForceRestart",
                    "Nmi",
                    "ForceOn",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ),
            action_info: false,
        }
    }
}

/// A canned answer to a reset, and what happens to the system meanwhile.
#[derive(Clone, Debug)]
pub struct ResetReply {
    /// The status of the answer.
    pub status: u16,
    /// Its JSON body.
    pub body: Value,
    /// The system's `PowerState` afterwards (unchanged when `None`).
    pub power_after: Option<String>,
    /// A `Location` header (a task monitor, with a `202 Accepted`).
    pub location: Option<String>,
}

/// The script and the state of the service.
#[derive(Debug)]
pub struct State {
    /// The members of the Systems collection.
    pub systems: Vec<System>,
    /// Whether the service root links the Systems collection.
    pub root_has_systems: bool,
    /// Whether the service offers sessions.
    pub sessions_enabled: bool,
    /// Open sessions: token -> id.
    pub sessions: HashMap<String, u32>,
    /// The id of the next session.
    pub next_session: u32,
    /// Sessions created so far.
    pub sessions_created: u32,
    /// Canned answers to resets, by `ResetType`.
    pub reset_replies: HashMap<String, ResetReply>,
    /// Accept connections and requests, never answer.
    pub silent: bool,
    /// Paths answered with `307 Temporary Redirect` to the given `Location`.
    pub redirects: HashMap<String, String>,
    /// Answer every request with `200 OK` and a body of this many spaces (announced in
    /// `Content-Length` only when the flag is true).
    pub oversized: Option<(usize, bool)>,
    /// How the Systems collection is split over pages.
    pub paging: Paging,
    /// Answer errors (4xx, 5xx) as DMTF's Redfish mockup server does: HTTP/1.0 without
    /// `Content-Length`, then close the connection without TLS close_notify.
    pub cut_errors: bool,
    /// Task monitors: path -> the answers to its GETs in turn (the last one repeats).
    pub monitors: HashMap<String, std::collections::VecDeque<(u16, Value)>>,
}

/// How the Systems collection is split over pages (`Members@odata.nextLink`, `$skip`).
#[derive(Clone, Debug, Default)]
pub struct Paging {
    /// Members per page (all on one page when `None`).
    pub page_size: Option<usize>,
    /// The `Members@odata.count` announced, when it is not the true count.
    pub count: Option<usize>,
    /// Every page's next link leads back to the first page.
    pub loop_back: bool,
}

/// A running service.
#[derive(Debug)]
pub struct Mock {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its script and state.
    pub state: Arc<Mutex<State>>,
    server: HttpsServer,
}

impl Mock {
    /// A service with these systems and the fixture certificate `leaf`.
    pub async fn start(systems: Vec<System>) -> Mock {
        Mock::start_with_cert(systems, "leaf").await
    }

    /// A service serving the fixture certificate `<cert>.pem` / `<cert>.key`.
    pub async fn start_with_cert(systems: Vec<System>, cert: &str) -> Mock {
        Mock::start_with_certificate(systems, &Certificate::fixture(cert)).await
    }

    /// A service serving `certificate`.
    pub async fn start_with_certificate(systems: Vec<System>, certificate: &Certificate) -> Mock {
        let state = Arc::new(Mutex::new(State {
            systems,
            root_has_systems: true,
            sessions_enabled: true,
            sessions: HashMap::new(),
            next_session: 1,
            sessions_created: 0,
            reset_replies: HashMap::new(),
            silent: false,
            redirects: HashMap::new(),
            oversized: None,
            paging: Paging::default(),
            cut_errors: false,
            monitors: HashMap::new(),
        }));
        let script = Arc::clone(&state);
        let server = HttpsServer::start(certificate, move |request| {
            let mut s = script.lock().unwrap();
            if s.silent {
                return Reply::Silence;
            }
            if let Some((size, announced)) = s.oversized {
                return Reply::Flood { size, announced };
            }
            let (status, extra, body) = route(request, &mut s);
            let body = if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            };
            let mut headers: Vec<(String, String)> =
                extra.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if s.cut_errors && status >= 400 {
                let mut raw =
                    format!("HTTP/1.0 {status} Error\r\nContent-Type: application/json\r\n\r\n")
                        .into_bytes();
                raw.extend_from_slice(&body);
                return Reply::Cut(raw);
            }
            if !body.is_empty() {
                headers.insert(
                    0,
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                );
            }
            Reply::Answer {
                status,
                headers,
                body,
            }
        })
        .await;
        Mock {
            addr: server.addr(),
            state,
            server,
        }
    }

    /// The service's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The URI of system `i`.
    pub fn system_uri(&self, i: usize) -> String {
        format!(
            "/redfish/v1/Systems/{}",
            self.state.lock().unwrap().systems[i].id
        )
    }

    /// The `PowerState` of system `i`.
    pub fn power(&self, i: usize) -> String {
        self.state.lock().unwrap().systems[i].power.clone()
    }

    /// Sets the `PowerState` of system `i`.
    pub fn set_power(&self, i: usize, power: &str) {
        self.state.lock().unwrap().systems[i].power = power.to_owned();
    }

    /// Sets the `PowerState` of system `i` after `delay` (a transition that takes time),
    /// on the current tokio runtime.
    pub fn set_power_after(&self, i: usize, power: &str, delay: std::time::Duration) {
        let (state, power) = (Arc::clone(&self.state), power.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            state.lock().unwrap().systems[i].power = power;
        });
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }

    /// `METHOD path` of every request, in order.
    pub fn lines(&self) -> Vec<String> {
        self.server.lines()
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// Runs `f` on the state.
    pub fn with_state(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Answers the reset `reset_type` with `status` and `body`, and leaves the system in
    /// `power_after` (unchanged when `None`).
    pub fn reply_to_reset(
        &self,
        reset_type: &str,
        status: u16,
        body: Value,
        power_after: Option<&str>,
    ) {
        let reply = ResetReply {
            status,
            body,
            power_after: power_after.map(str::to_owned),
            location: None,
        };
        self.with_state(|s| {
            s.reset_replies.insert(reset_type.to_owned(), reply);
        });
    }

    /// Answers the reset `reset_type` with `202 Accepted` and a task monitor at `monitor`,
    /// whose GETs are answered with `answers` in turn (the last one repeats), and leaves the
    /// system in `power_after`.
    pub fn reply_to_reset_with_task(
        &self,
        reset_type: &str,
        monitor: &str,
        answers: Vec<(u16, Value)>,
        power_after: Option<&str>,
    ) {
        let reply = ResetReply {
            status: 202,
            body: Value::Null,
            power_after: power_after.map(str::to_owned),
            location: Some(monitor.to_owned()),
        };
        self.with_state(|s| {
            s.reset_replies.insert(reset_type.to_owned(), reply);
            s.monitors.insert(monitor.to_owned(), answers.into());
        });
    }
}

/// A Redfish error body: `message`, and `@Message.ExtendedInfo` entries of a `MessageId`
/// with an optional `Message`.
pub fn redfish_error(message: &str, extended: &[(&str, Option<&str>)]) -> Value {
    let infos: Vec<Value> = extended
        .iter()
        .map(|(id, msg)| match msg {
            Some(m) => json!({"MessageId": id, "Message": m}),
            None => json!({"MessageId": id}),
        })
        .collect();
    json!({"error": {"code": "Base.1.0.GeneralError", "message": message,
                     "@Message.ExtendedInfo": infos}})
}

fn base64(input: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, input)
}

/// A status, extra headers and a JSON body (`Null` for none).
type Answer = (u16, Vec<(&'static str, String)>, Value);

/// A page of the Systems collection: all members, or `page_size` of them from `$skip`
/// with a next link while more follow ([`Paging`]), with `Members@odata.count` the total:
/// as DSP0266 1.8.1 §9.5.9 and §9.5.11 define them and as OpenBMC's bmcweb pages a
/// collection (`...Entries?$skip=N` as the next link, the count of all entries).
fn systems_page(p: &str, s: &State) -> Answer {
    let all: Vec<Value> = s
        .systems
        .iter()
        .map(|x| json!({"@odata.id": format!("/redfish/v1/Systems/{}", x.id)}))
        .collect();
    let skip: usize = p
        .split_once("?$skip=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0);
    let size = s.paging.page_size.unwrap_or(all.len().max(1));
    let page: Vec<Value> = all.iter().skip(skip).take(size).cloned().collect();
    let count = s.paging.count.unwrap_or(all.len());
    let mut body = json!({"Members@odata.count": count, "Members": page});
    let next = if s.paging.loop_back {
        Some("/redfish/v1/Systems".to_owned())
    } else {
        (skip + size < all.len()).then(|| format!("/redfish/v1/Systems?$skip={}", skip + size))
    };
    if let Some(next) = next {
        body["Members@odata.nextLink"] = json!(next);
    }
    (200, vec![], body)
}

/// The service's answer to `r` in the state `s`.
fn route(r: &Request, s: &mut State) -> Answer {
    let m = r.method.as_str();
    let p = r.path.trim_end_matches('/');
    if let Some(location) = s.redirects.get(p) {
        return (307, vec![("Location", location.clone())], Value::Null);
    }
    if m == "GET" && p == "/redfish/v1" {
        let mut root = json!({"@odata.id": "/redfish/v1", "RedfishVersion": "1.6.0"});
        if s.sessions_enabled {
            root["SessionService"] = json!({"@odata.id": "/redfish/v1/SessionService"});
            root["Links"] =
                json!({"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}});
        }
        if s.root_has_systems {
            root["Systems"] = json!({"@odata.id": "/redfish/v1/Systems"});
        }
        return (200, vec![], root);
    }
    if m == "POST" && p == "/redfish/v1/SessionService/Sessions" {
        if !s.sessions_enabled {
            return (404, vec![], redfish_error("Not found", &[]));
        }
        let creds: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        if creds["UserName"] != USER || creds["Password"] != PASSWORD {
            return (
                401,
                vec![],
                redfish_error("Invalid username or password", &[]),
            );
        }
        let id = s.next_session;
        s.next_session += 1;
        s.sessions_created += 1;
        let token = format!("token-{id}");
        s.sessions.insert(token.clone(), id);
        let location = format!("/redfish/v1/SessionService/Sessions/{id}");
        return (
            201,
            vec![("X-Auth-Token", token), ("Location", location.clone())],
            json!({"@odata.id": location, "Id": id.to_string()}),
        );
    }
    // Everything else needs credentials.
    let basic_ok = r.header("authorization")
        == Some(format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes())).as_str());
    let token_ok = r
        .header("x-auth-token")
        .is_some_and(|t| s.sessions.contains_key(t));
    if !basic_ok && !token_ok {
        return (
            401,
            vec![],
            redfish_error("Incorrect username or password", &[]),
        );
    }
    if m == "GET" {
        if let Some(answers) = s.monitors.get_mut(p) {
            let answer = if answers.len() > 1 {
                answers.pop_front()
            } else {
                answers.front().cloned()
            };
            if let Some((status, body)) = answer {
                return (status, vec![], body);
            }
        }
    }
    if m == "DELETE" {
        if let Some(id) = p.strip_prefix("/redfish/v1/SessionService/Sessions/") {
            let before = s.sessions.len();
            s.sessions.retain(|_, v| v.to_string() != id);
            return if s.sessions.len() < before {
                (204, vec![], Value::Null)
            } else {
                (404, vec![], redfish_error("No such session", &[]))
            };
        }
    }
    if m == "GET" && (p == "/redfish/v1/Systems" || p.starts_with("/redfish/v1/Systems?")) {
        return systems_page(p, s);
    }
    if let Some(rest) = p.strip_prefix("/redfish/v1/Systems/") {
        let (id, action) = match rest.split_once('/') {
            Some((id, a)) => (id, Some(a)),
            None => (rest, None),
        };
        let Some(idx) = s.systems.iter().position(|x| x.id == id) else {
            return (404, vec![], redfish_error("No such system", &[]));
        };
        match (m, action) {
            ("GET", None) => {
                let sys = &s.systems[idx];
                let mut reset = json!({
                    "target": format!("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset")
                });
                match &sys.allowed {
                    Some(_) if sys.action_info => {
                        reset["@Redfish.ActionInfo"] =
                            json!(format!("/redfish/v1/Systems/{id}/ResetActionInfo"));
                    }
                    Some(a) => reset["ResetType@Redfish.AllowableValues"] = json!(a),
                    None => {}
                }
                return (
                    200,
                    vec![],
                    json!({"@odata.id": format!("/redfish/v1/Systems/{id}"), "Id": id,
                           "PowerState": sys.power,
                           "Actions": {"#ComputerSystem.Reset": reset}}),
                );
            }
            ("GET", Some("ResetActionInfo")) if s.systems[idx].action_info => {
                let allowed = s.systems[idx].allowed.clone().unwrap_or_default();
                return (
                    200,
                    vec![],
                    json!({"@odata.id": format!("/redfish/v1/Systems/{id}/ResetActionInfo"),
                           "Id": "ResetActionInfo", "Name": "Reset Action Info",
                           "Parameters": [{"Name": "ResetType", "Required": true,
                                           "DataType": "String", "AllowableValues": allowed}]}),
                );
            }
            ("POST", Some("Actions/ComputerSystem.Reset")) => {
                let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                let kind = body["ResetType"].as_str().unwrap_or("").to_owned();
                if let Some(allowed) = &s.systems[idx].allowed {
                    if !allowed.contains(&kind) && !s.reset_replies.contains_key(&kind) {
                        return (
                            400,
                            vec![],
                            redfish_error(
                                &format!(
                                    "The value {kind} for the parameter ResetType is not supported"
                                ),
                                &[("Base.1.8.ActionParameterNotSupported", None)],
                            ),
                        );
                    }
                }
                if let Some(reply) = s.reset_replies.get(&kind).cloned() {
                    if let Some(p) = reply.power_after {
                        s.systems[idx].power = p;
                    }
                    let headers = reply
                        .location
                        .map(|l| vec![("Location", l)])
                        .unwrap_or_default();
                    return (reply.status, headers, reply.body);
                }
                let new = match kind.as_str() {
                    "ForceOff" | "GracefulShutdown" => "Off",
                    "On" | "ForceOn" | "ForceRestart" | "PowerCycle" => "On",
                    _ => {
                        return (
                            501,
                            vec![],
                            redfish_error(&format!("Power state {kind} is not supported"), &[]),
                        );
                    }
                };
                s.systems[idx].power = new.to_owned();
                return (204, vec![], Value::Null);
            }
            _ => {}
        }
    }
    (404, vec![], redfish_error("Not found", &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b"admin:password"), "YWRtaW46cGFzc3dvcmQ=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
