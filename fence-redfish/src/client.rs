//! The HTTPS client: one reqwest client (HTTP/1.1, one pooled keep-alive connection) per
//! device, basic or session authentication, bounded requests, and the mapping of
//! transport failures and HTTP errors into [`fence_core::Error`].
//!
//! Every request carries `Accept: application/json` and `OData-Version: 4.0`; a POST also
//! carries `Content-Type: application/json` (fence_redfish added it because some boards
//! answer 406 without it). Secrets (password, session token) go into marked-sensitive
//! headers or the login body only; they never reach logs or error messages. The service's own
//! messages are text from outside: the password is scrubbed from them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fence_core::error::seconds_text;
use fence_core::secret::scrub_outside;
use fence_core::{Answer, Error, Remedy, Result, Secret};

use crate::pin;
use crate::rows;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::{AuthMethod, RedfishConfig};
use crate::tls;

const X_AUTH_TOKEN: &str = "x-auth-token";

/// Polls of a task monitor after a `202 Accepted` reset, at most; the whole is bounded by
/// `TASK_POLLS * TASK_POLL_INTERVAL` (10 s) too.
const TASK_POLLS: u32 = 20;
/// The pause before each poll of a task monitor.
const TASK_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The largest answer read from a service. Redfish documents are kilobytes.
const MAX_BODY: usize = 4 << 20;

/// What a 404 means for the resource asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The system to fence does not exist (a wrong `systems_uri`).
    Plug,
    /// The service lacks something every Redfish service has.
    Misbehaved,
}

/// A Redfish session: the token and the URI to delete it with.
struct Session {
    token: Secret,
    location: Option<String>,
}

/// A Redfish HTTPS client bound to one service.
pub(crate) struct RedfishClient {
    http: reqwest::Client,
    base: String,
    username: String,
    password: Secret,
    auth: AuthMethod,
    redfish_uri: String,
    sessions_uri: String,
    session: tokio::sync::Mutex<Option<Session>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    requests: AtomicU64,
    /// The certificate the service presented last, for TLS failure messages.
    presented: tls::Presented,
}

impl RedfishClient {
    /// Builds the client (no network I/O; reads the CA file and the system's roots).
    pub(crate) fn new(config: &RedfishConfig) -> Result<Self> {
        let base = config.base_url();
        let address = base.trim_start_matches("https://").to_owned();
        let (tls, presented) = tls::client_config(&config.tls, &address)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .https_only(true)
            .no_proxy()
            .default_headers(headers)
            .user_agent(concat!(
                "fence-rs/",
                env!("CARGO_PKG_VERSION"),
                " fence_redfish"
            ))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(1)
            .redirect(same_service_redirects(&base)?)
            .build()
            .map_err(|e| Error::invalid_input(format!("cannot set up the HTTPS client: {e}")))?;
        Ok(RedfishClient {
            http,
            base,
            username: config.username.clone(),
            password: config.password.clone(),
            auth: config.auth,
            redfish_uri: config.redfish_uri.clone(),
            sessions_uri: format!("{}/SessionService/Sessions", config.redfish_uri),
            session: tokio::sync::Mutex::new(None),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            requests: AtomicU64::new(0),
            presented,
        })
    }

    /// `https://host:port`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// HTTP requests sent so far (session login and logout included).
    pub(crate) fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// GETs a JSON document. A document (and so a power state) is read only from a
    /// `200 OK` answer, the one success code the Redfish specification gives a GET: any
    /// other 2xx (`201 Created`, `202 Accepted`, `203`, `204 No Content`, `206`) is a
    /// misbehaving service, not a state; any other status is an error.
    pub(crate) async fn get_json(&self, path: &str, missing: Missing) -> Result<Value> {
        let (status, _, body) = self.authed(Method::GET, path, None).await?;
        if !status.is_success() {
            return Err(self.http_error(&Method::GET, path, status, &body, missing));
        }
        if status != StatusCode::OK {
            return Err(Error::misbehaved(format!(
                "GET {}{path}: HTTP {} {}: a GET is read only from a 200 OK answer",
                self.base,
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ))
            .in_request(format!("GET {path}"))
            .answered(self.http_answer(status, &body, false)));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Error::misbehaved(format!(
                "GET {}{path}: the answer is not JSON: {e}",
                self.base
            ))
        })
    }

    /// POSTs a JSON body; any status but 2xx is an error carrying the service's message.
    /// A `202 Accepted` with a `Location` (a task monitor, DSP0266 1.8.1 §13.2) is followed
    /// until the task ends, at most [`TASK_POLLS`] times [`TASK_POLL_INTERVAL`]: a task that
    /// fails is an error with the service's message; one still running then is left to the
    /// engine, which reads the power state anyway.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<StatusCode> {
        let (status, headers, answer) = self.authed(Method::POST, path, Some(body)).await?;
        if !status.is_success() {
            return Err(self.http_error(&Method::POST, path, status, &answer, Missing::Misbehaved));
        }
        if status == StatusCode::ACCEPTED {
            if let Some(monitor) = headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
            {
                let bound = TASK_POLL_INTERVAL * TASK_POLLS;
                match tokio::time::timeout(bound, self.follow_task(&monitor)).await {
                    Ok(result) => result?,
                    Err(_) => tracing::debug!(
                        monitor,
                        "the task is still running; the power state decides"
                    ),
                }
            }
        }
        Ok(status)
    }

    /// Polls a task monitor until it stops answering `202 Accepted`. Only a task the
    /// service says ended badly fails the reset: a poll that fails (a lost connection, a
    /// 5xx, a monitor that is gone, 404 or 410) ends the following, and the power state
    /// decides, as it would have without a monitor.
    async fn follow_task(&self, monitor: &str) -> Result<()> {
        for _ in 0..TASK_POLLS {
            tokio::time::sleep(TASK_POLL_INTERVAL).await;
            let (status, _, body) = match self.authed(Method::GET, monitor, None).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::debug!(monitor, error = %e, "task monitor not read; the power state decides");
                    return Ok(());
                }
            };
            if status == StatusCode::ACCEPTED {
                continue;
            }
            if !status.is_success() {
                tracing::debug!(
                    monitor,
                    status = status.as_u16(),
                    "task monitor answered an error; the power state decides"
                );
                return Ok(());
            }
            let task: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let state = task.get("TaskState").and_then(Value::as_str).unwrap_or("");
            if matches!(state, "Exception" | "Killed" | "Cancelled" | "Interrupted") {
                let messages: Vec<String> = task
                    .get("Messages")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(|x| x.get("Message").and_then(Value::as_str))
                            .map(|t| scrub_outside(t, [self.password.expose()]))
                            .collect()
                    })
                    .unwrap_or_default();
                let said = if messages.is_empty() {
                    String::new()
                } else {
                    format!(": {}", messages.join("; "))
                };
                return Err(Error::misbehaved(format!(
                    "{}{monitor}: the task ended {state}{said}",
                    self.base
                ))
                .in_request(format!("GET {monitor}")));
            }
            return Ok(());
        }
        tracing::debug!(
            monitor,
            "the task is still running; the power state decides"
        );
        Ok(())
    }

    /// Deletes the session, if one was opened. Best effort: the session is forgotten
    /// either way.
    pub(crate) async fn close(&self) -> Result<()> {
        let Some(session) = self.session.lock().await.take() else {
            return Ok(());
        };
        let Some(location) = session.location else {
            tracing::warn!(
                base = %self.base,
                "the session has no Location: it cannot be deleted and will expire on its own"
            );
            return Ok(());
        };
        let (status, _, body) = self
            .send(
                Method::DELETE,
                &location,
                None,
                Credentials::Token(&session.token),
            )
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            tracing::debug!(%status, "session deleted");
            Ok(())
        } else {
            Err(self.http_error(
                &Method::DELETE,
                &location,
                status,
                &body,
                Missing::Misbehaved,
            ))
        }
    }

    /// A request with the configured authentication; with sessions, a 401 (expired token)
    /// leads to one new login and one retry.
    async fn authed(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>)> {
        match self.auth {
            AuthMethod::Basic => self.send(method, path, body, Credentials::Basic).await,
            AuthMethod::Session => {
                let mut session = self.session.lock().await;
                for attempt in 0..2 {
                    let token = match session.as_ref() {
                        Some(s) => s.token.clone(),
                        None => {
                            let s = self.login().await?;
                            let token = s.token.clone();
                            *session = Some(s);
                            token
                        }
                    };
                    let answer = self
                        .send(method.clone(), path, body, Credentials::Token(&token))
                        .await?;
                    if answer.0 == StatusCode::UNAUTHORIZED && attempt == 0 {
                        tracing::debug!("session token refused; logging in again");
                        *session = None;
                        continue;
                    }
                    return Ok(answer);
                }
                Err(Error::login_refused(format!(
                    "{}: the new session's token was refused",
                    self.base
                )))
            }
        }
    }

    /// `POST SessionService/Sessions` with the credentials in the body.
    async fn login(&self) -> Result<Session> {
        let body = serde_json::json!({
            "UserName": self.username,
            "Password": self.password.expose(),
        });
        let path = self.sessions_uri.clone();
        let (status, headers, answer) = self
            .send(Method::POST, &path, Some(&body), Credentials::None)
            .await?;
        if !status.is_success() {
            return Err(self.login_error(&path, status, &answer).await);
        }
        let token = headers
            .get(X_AUTH_TOKEN)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                Error::misbehaved(format!(
                    "{}{path}: session created without an X-Auth-Token header",
                    self.base
                ))
            })?;
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                serde_json::from_slice::<Value>(&answer)
                    .ok()
                    .and_then(|v| v.get("@odata.id")?.as_str().map(str::to_owned))
            });
        tracing::debug!(location = ?location, "session opened");
        Ok(Session { token, location })
    }

    /// The service's message in `body` (see [`service_message`]), text from outside: the
    /// password is scrubbed from it, should the service echo it.
    fn device_message(&self, body: &[u8]) -> Option<String> {
        service_message(body).map(|m| scrub_outside(&m, [self.password.expose()]))
    }

    /// Why a session login was answered `status`. A service without sessions may answer
    /// 401 as well as 404 (sushy-tools asks for credentials first): the service root,
    /// readable without credentials, tells which it is.
    async fn login_error(&self, path: &str, status: StatusCode, answer: &[u8]) -> Error {
        let refused = matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        );
        let missing = matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        );
        if (refused || missing) && !self.has_session_service().await {
            return Error::unsupported(format!(
                "{}: the Redfish service has no SessionService (login answered HTTP {}); use \
                 auth_method=basic",
                self.base,
                status.as_u16()
            ));
        }
        if refused {
            return Error::login_refused(format!(
                "{}: session login refused (HTTP {} {}){}",
                self.base,
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                registry_ids(answer)
            ))
            .in_request(format!("POST {path}"))
            .answered(self.http_answer(status, answer, true));
        }
        self.http_error(&Method::POST, path, status, answer, Missing::Misbehaved)
    }

    /// Whether the service root (read without credentials, as the Redfish specification
    /// allows) names a SessionService or a Sessions collection. Unknown counts as yes.
    async fn has_session_service(&self) -> bool {
        let root = self.redfish_uri.clone();
        match self.send(Method::GET, &root, None, Credentials::None).await {
            Ok((status, _, body)) if status.is_success() => {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(root) => {
                        root.get("SessionService").is_some()
                            || root.pointer("/Links/Sessions").is_some()
                    }
                    Err(_) => true,
                }
            }
            _ => true,
        }
    }

    /// One HTTP exchange: the whole body is read, so the connection goes back to the pool.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        credentials: Credentials<'_>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>)> {
        let url = self.url(path)?;
        let mut request = self
            .http
            .request(method.clone(), url)
            .timeout(self.request_timeout);
        request = match credentials {
            Credentials::Basic => request.basic_auth(&self.username, Some(self.password.expose())),
            Credentials::Token(token) => {
                let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
                    Error::misbehaved(format!(
                        "{}: the session token is not a valid header value",
                        self.base
                    ))
                })?;
                value.set_sensitive(true);
                request.header(X_AUTH_TOKEN, value)
            }
            Credentials::None => request,
        };
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| Error::misbehaved(format!("cannot encode the request body: {e}")))?;
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let started = Instant::now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        // The slot names the certificate of this request's handshake, if it makes one.
        if let Ok(mut presented) = self.presented.lock() {
            *presented = None;
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&method, path, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.read_body(response, &method, path).await?;
        tracing::debug!(
            %method,
            path,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "redfish request"
        );
        Ok((status, headers, body))
    }

    /// Reads a whole answer, up to [`MAX_BODY`] bytes: a service that sends more is
    /// misbehaving and must not exhaust the agent's memory.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        method: &Method,
        path: &str,
    ) -> Result<Vec<u8>> {
        let too_large = || {
            Error::misbehaved(format!(
                "{}: {method} {path}: the answer is larger than {} MiB",
                self.base,
                MAX_BODY >> 20
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(too_large());
        }
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                // The service sent its status, then cut the connection (DMTF's mockup
                // server answers HTTP/1.0 without Content-Length and closes without TLS
                // close_notify): an error status is what it said, and is kept; a success
                // with a cut body is not taken as an answer.
                Err(e) if !status.is_success() => {
                    tracing::debug!(%method, path, status = status.as_u16(), error = %e, "the answer's body was cut; its status stands");
                    return Ok(body);
                }
                Err(e) => {
                    return Err(Error::unreachable_with(
                        format!(
                            "{}: {method} {path}: HTTP {} {}, then the connection was cut \
                             before the end of the answer: {}",
                            self.base,
                            status.as_u16(),
                            status.canonical_reason().unwrap_or(""),
                            root_cause(&e)
                        ),
                        e,
                    )
                    .in_request(format!("{method} {path}")));
                }
            }
        }
    }

    /// The URL of a path of this service. An absolute URL (some services give absolute
    /// targets and Locations) is reduced to its path, so that credentials only ever go to
    /// the configured host.
    fn url(&self, path: &str) -> Result<reqwest::Url> {
        let path = if path.starts_with("https://") || path.starts_with("http://") {
            let u = reqwest::Url::parse(path).map_err(|e| {
                Error::misbehaved(format!("{}: malformed URL '{path}': {e}", self.base))
            })?;
            match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            }
        } else if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Error::invalid_input(format!("invalid address {}{path}: {e}", self.base)))
    }

    fn transport_error(&self, method: &Method, path: &str, e: reqwest::Error) -> Error {
        self.transport_error_of(method, path, e)
            .in_request(format!("{method} {path}"))
    }

    fn transport_error_of(&self, method: &Method, path: &str, e: reqwest::Error) -> Error {
        if e.is_redirect() {
            return Error::misbehaved(format!(
                "{}: {method} {path}: {}",
                self.base,
                root_cause(&e)
            ));
        }
        if let Some(t) = tls::find_tls_error(&e) {
            return self.tls_error(t);
        }
        let detail = if e.is_timeout() {
            let bound = if e.is_connect() {
                self.connect_timeout
            } else {
                self.request_timeout
            };
            format!(
                "{}: no answer to {method} {path} within {}",
                self.base,
                seconds_text(bound)
            )
        } else if e.is_connect() {
            format!("{}: cannot connect: {}", self.base, root_cause(&e))
        } else {
            format!("{}: {method} {path} failed: {}", self.base, root_cause(&e))
        };
        Error::unreachable_with(detail, e)
    }

    /// A refused TLS handshake, worded with what the BMC presented (its two pins, to be
    /// compared with the BMC's console) and the options that would let it in, as remedies.
    fn tls_error(&self, t: &rustls::Error) -> Error {
        use rustls::CertificateError as C;
        let presented = self.presented.lock().ok().and_then(|p| p.clone());
        let (cert_pin, key_pin) = match presented.as_deref().map(pin::pins_of) {
            Some((cert, key)) => (Some(cert), key),
            None => (None, None),
        };
        let shown = match (&cert_pin, &key_pin) {
            (Some(c), Some(k)) => format!("; the device presents certificate {c}, key {k}"),
            (Some(c), None) => format!("; the device presents certificate {c}"),
            _ => String::new(),
        };
        let key_value = key_pin
            .as_ref()
            .map_or_else(|| "sha256//...".to_owned(), ToString::to_string);
        let pin_it = Remedy::new(
            "once that key is checked on the BMC's console, pin it",
            rows::SSL_FINGERPRINT.name,
            key_value,
        );
        let refused = |what: String| {
            Error::login_refused(format!(
                "{}: TLS certificate not accepted: {what}{shown}",
                self.base
            ))
        };
        if let Some(r) = tls::refusal_of(t) {
            return match r {
                tls::Refusal::Changed { file, line, .. } => refused(format!(
                    "{r}; if the BMC's certificate was replaced on purpose, remove line {line} \
                     of {file}: the next connection records the new key"
                )),
                tls::Refusal::NoPinMatches => refused(r.to_string()).with_remedy(pin_it),
                tls::Refusal::NotRecorded { .. } => refused(r.to_string()),
            };
        }
        match t {
            rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            ) => refused(format!(
                "{t} (the certificate does not name the address it is reached by: connect by a \
                 name it holds, or pin it)"
            ))
            .with_remedy(pin_it),
            rustls::Error::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => refused(format!(
                "{t} (check the clocks and the certificate's dates)"
            ))
            .with_remedy(pin_it),
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType => refused(t.to_string())
                .with_remedy(Remedy::new(
                    "trust the BMC's own certificate or its CA",
                    rows::SSL_CA_FILE.name,
                    "FILE",
                ))
                .with_remedy(pin_it)
                .with_remedy(Remedy::new(
                    "or trust the key it presents first",
                    rows::SSL_KNOWN_HOSTS_FILE.name,
                    "FILE",
                ))
                .with_remedy(Remedy::new(
                    "or skip verification (nothing proves who answers)",
                    fence_core::params::common::SSL_INSECURE.name,
                    "1",
                )),
            _ => Error::unreachable(format!("{}: TLS handshake failed: {t}", self.base)),
        }
    }

    fn http_error(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        body: &[u8],
        missing: Missing,
    ) -> Error {
        let what = format!(
            "{method} {}{path}: HTTP {} {}",
            self.base,
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        match status {
            StatusCode::UNAUTHORIZED => {
                Error::login_refused(format!("{what}{}", registry_ids(body)))
            }
            StatusCode::FORBIDDEN => Error::login_refused(format!(
                "{what}{} (does the account have the privilege?)",
                registry_ids(body)
            )),
            _ => self.http_error_with_message(what, status, path, body, missing),
        }
        .in_request(format!("{method} {path}"))
        .answered(self.http_answer(status, body, false))
    }

    /// What the service answered, as data: the status, the body's MessageIds and, unless
    /// it refused the credentials (401, 403, or a refused session login), its message
    /// (scrubbed). A login refusal's prose is never kept: a scrubbed word of it could tell
    /// the password.
    fn http_answer(&self, status: StatusCode, body: &[u8], refusal: bool) -> Answer {
        let refusal = refusal || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        Answer::Http {
            status: status.as_u16(),
            message_ids: message_ids(body),
            message: if refusal {
                None
            } else {
                self.device_message(body)
            },
        }
    }

    /// [`Self::http_error`] for an answer that is not a login refusal: the service's
    /// message (scrubbed) follows.
    fn http_error_with_message(
        &self,
        what: String,
        status: StatusCode,
        path: &str,
        body: &[u8],
        missing: Missing,
    ) -> Error {
        let message = self.device_message(body).unwrap_or_else(|| reason(status));
        match status {
            StatusCode::NOT_FOUND if missing == Missing::Plug => Error::plug_not_found(
                path,
                format!(
                    "{what}: the service has no resource at {path} (check systems_uri): {message}"
                ),
            ),
            StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED => {
                Error::unsupported(format!("{what}: {message}"))
            }
            status if refused_for_good(status) && !state_dependent(body) => {
                Error::rejected(format!("{what}: {message}"))
            }
            _ => Error::misbehaved(format!("{what}: {message}")),
        }
    }
}

/// A 4xx answer that the same request meets again (400 Bad Request, 404, 405, 406, 410,
/// 412, 415, 422 ...): retrying cannot help. A request that timed out (408), met a conflict
/// or a lock (409, 423), came too early (425) or too often (429) may pass later, as may any
/// 5xx.
fn refused_for_good(status: StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 408 | 409 | 423 | 425 | 429)
}

/// MessageIds with which services refuse a request because of the machine's present state,
/// which may pass (iLO answers a reset during a power transition with a 400 and
/// `iLO.2.x.InvalidOperationForSystemState`): such a 400 may be met by a later attempt.
const STATE_DEPENDENT: &[&str] = &["InvalidOperationForSystemState"];

/// Whether the answer names a state-dependent refusal ([`STATE_DEPENDENT`]), by the last
/// part of a registry MessageId.
fn state_dependent(body: &[u8]) -> bool {
    message_ids(body).iter().any(|id| {
        STATE_DEPENDENT
            .iter()
            .any(|s| id.rsplit('.').next() == Some(*s))
    })
}

impl Drop for RedfishClient {
    /// A session still open here was not closed with [`RedfishClient::close`]: delete it in
    /// the background when a tokio runtime is at hand (boards allow few sessions), best
    /// effort.
    fn drop(&mut self) {
        let Some(session) = self.session.get_mut().take() else {
            return;
        };
        let (Some(location), Ok(runtime)) =
            (session.location, tokio::runtime::Handle::try_current())
        else {
            tracing::warn!(base = %self.base, "Redfish session left open (close() not called)");
            return;
        };
        let Ok(url) = self.url(&location) else {
            return;
        };
        let Ok(mut token) = HeaderValue::from_str(session.token.expose()) else {
            return;
        };
        token.set_sensitive(true);
        let request = self.http.delete(url).header(X_AUTH_TOKEN, token);
        tracing::debug!(base = %self.base, "deleting the Redfish session left open");
        runtime.spawn(async move {
            let _ = request.send().await;
        });
    }
}

/// The redirect policy: up to [`MAX_REDIRECTS`] redirects, each to the configured service
/// (same scheme, host and port). reqwest drops only the `Authorization` header on a
/// redirect elsewhere; the session login body (with the password) and `X-Auth-Token` would
/// travel on, so a redirect to another server is refused.
fn same_service_redirects(base: &str) -> Result<reqwest::redirect::Policy> {
    let origin = reqwest::Url::parse(base)
        .map_err(|e| Error::invalid_input(format!("invalid address {base}: {e}")))?
        .origin();
    Ok(reqwest::redirect::Policy::custom(move |attempt| {
        let target = attempt.url().origin();
        if target != origin {
            let refused = format!(
                "redirect to {} refused: credentials are only sent to {}",
                target.ascii_serialization(),
                origin.ascii_serialization()
            );
            attempt.error(refused)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    }))
}

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Credentials<'a> {
    Basic,
    Token(&'a Secret),
    None,
}

fn reason(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("no message").to_owned()
}

/// The innermost message of an error's chain (`Connection refused (os error 111)`).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The registry message identifiers (`Base.1.8.NoValidSession`) of a Redfish error body, as
/// ` (id, id)`, or nothing: what a login refusal shows of the service's answer.
///
/// A refused login carries no service prose. The prose is text from outside that would have
/// to be scrubbed of the password, and a scrubbed word of it tells the password: sushy-tools'
/// `Incorrect username or password` with the password `user`, the DMTF Base registry's
/// `There is no valid session established with the implementation.` with `established`.
/// Identifiers of the form `Registry.Major.Minor.Name` (DSP0266, "MessageId format") name a
/// public message and echo nothing; anything else is left out.
pub(crate) fn registry_ids(body: &[u8]) -> String {
    let ids = message_ids(body);
    if ids.is_empty() {
        String::new()
    } else {
        format!(" ({})", ids.join(", "))
    }
}

/// The registry MessageIds of a Redfish error body: those of `error.@Message.ExtendedInfo`,
/// else `error.code`; only strings shaped as registry ids (see [`is_registry_id`]).
fn message_ids(body: &[u8]) -> Vec<String> {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let error = json.get("error").unwrap_or(&json);
    let mut ids: Vec<&str> = error
        .get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| i.get("MessageId").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        ids.extend(error.get("code").and_then(Value::as_str));
    }
    ids.retain(|id| is_registry_id(id));
    ids.dedup();
    ids.into_iter().map(str::to_owned).collect()
}

/// `Registry.Major.Minor.Name`: a name, two numbers, a name; names of letters, digits, `_`.
fn is_registry_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    let name = |p: &str| {
        !p.is_empty() && p.len() <= 64 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let number = |p: &str| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit());
    parts.len() == 4 && name(parts[0]) && number(parts[1]) && number(parts[2]) && name(parts[3])
}

/// The service's own words from a Redfish error body: the `Message`s of
/// `error.@Message.ExtendedInfo` (their `MessageId`s when they have no text), else
/// `error.message`; for a non-JSON body, its first 200 characters.
pub(crate) fn service_message(body: &[u8]) -> Option<String> {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return (!text.is_empty()).then(|| text.chars().take(200).collect());
    };
    let error = json.get("error").unwrap_or(&json);
    let infos: Vec<&Value> = error
        .get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let texts: Vec<&str> = infos
        .iter()
        .filter_map(|i| i.get("Message").and_then(Value::as_str))
        .filter(|m| !m.trim().is_empty())
        .collect();
    if !texts.is_empty() {
        return Some(texts.join("; "));
    }
    let message = error.get("message").and_then(Value::as_str);
    let code = error.get("code").and_then(Value::as_str);
    let ids: Vec<&str> = infos
        .iter()
        .filter_map(|i| i.get("MessageId").and_then(Value::as_str))
        .filter(|id| Some(*id) != code)
        .collect();
    match (message, ids.is_empty()) {
        (Some(m), true) => Some(m.to_owned()),
        (Some(m), false) => Some(format!("{m} ({})", ids.join(", "))),
        (None, false) => Some(ids.join(", ")),
        (None, true) => code.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_info_messages_come_first() {
        let body = br#"{"error":{"code":"Base.1.0.GeneralError","message":"A general error has occurred. See ExtendedInfo for more information.","@Message.ExtendedInfo":[{"MessageId":"Base.1.4.ActionNotSupported","Message":"The action ComputerSystem.Reset is not supported."},{"MessageId":"X","Message":"Second."}]}}"#;
        assert_eq!(
            service_message(body).as_deref(),
            Some("The action ComputerSystem.Reset is not supported.; Second.")
        );
    }

    #[test]
    fn message_ids_when_extended_info_has_no_text() {
        // HPE iLO's answer to ForceOff on a system that is off.
        let body = br#"{"error":{"code":"iLO.0.10.ExtendedInfo","message":"See @Message.ExtendedInfo for more information.","@Message.ExtendedInfo":[{"MessageId":"iLO.2.14.InvalidOperationForSystemState"}]}}"#;
        assert_eq!(
            service_message(body).as_deref(),
            Some(
                "See @Message.ExtendedInfo for more information. (iLO.2.14.InvalidOperationForSystemState)"
            )
        );
        // sushy-tools' 501 for Nmi: the id repeats the code, so only the message remains.
        let body = br#"{"error":{"code":"Base.1.0.GeneralError","message":"Power state Nmi is not supported","@Message.ExtendedInfo":[{"MessageId":"Base.1.0.GeneralError"}]}}"#;
        assert_eq!(
            service_message(body).as_deref(),
            Some("Power state Nmi is not supported")
        );
    }

    #[test]
    fn a_login_refusal_shows_registry_ids_and_no_prose() {
        let body = br#"{"error":{"code":"Base.1.8.GeneralError","message":"There is no valid session established with the implementation.","@Message.ExtendedInfo":[{"MessageId":"Base.1.8.NoValidSession","Message":"There is no valid session established with the implementation."}]}}"#;
        assert_eq!(registry_ids(body), " (Base.1.8.NoValidSession)");
        let body = br#"{"error":{"code":"Base.1.0.GeneralError","message":"Incorrect username or password"}}"#;
        assert_eq!(registry_ids(body), " (Base.1.0.GeneralError)");
        for body in [
            &b"Incorrect username or password"[..],
            br#"{"error":{"code":"hunter2 was wrong"}}"#,
            br#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"a.b.c.d"}]}}"#,
            b"",
        ] {
            assert_eq!(registry_ids(body), "", "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn non_json_bodies_are_cut() {
        assert_eq!(service_message(b"").as_deref(), None);
        assert_eq!(
            service_message(b"<html>Bad Gateway</html>").as_deref(),
            Some("<html>Bad Gateway</html>")
        );
        let long = vec![b'x'; 500];
        assert_eq!(service_message(&long).map(|s| s.len()), Some(200));
    }

    #[test]
    fn urls_stay_on_the_configured_host() {
        let c = RedfishClient::new(
            &RedfishConfig::new("127.0.0.1", "u", "p")
                .with_port(8443)
                .with_tls(crate::TlsVerify::Insecure),
        )
        .unwrap();
        assert_eq!(
            c.url("/redfish/v1/Systems/1").unwrap().as_str(),
            "https://127.0.0.1:8443/redfish/v1/Systems/1"
        );
        assert_eq!(
            c.url("https://evil.example/redfish/v1/SessionService/Sessions/9?x=1")
                .unwrap()
                .as_str(),
            "https://127.0.0.1:8443/redfish/v1/SessionService/Sessions/9?x=1"
        );
        assert_eq!(
            c.url("redfish/v1").unwrap().as_str(),
            "https://127.0.0.1:8443/redfish/v1"
        );
    }
}
