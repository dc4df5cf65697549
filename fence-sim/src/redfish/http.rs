//! Answers as DSP0266 asks for them: the headers every response carries, error bodies, and the
//! request headers a service checks (`OData-Version`, `Accept`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::profile::Refusal;

/// An answer.
pub(crate) type Reply = Response<Full<Bytes>>;

/// The Base message registry version of our messages.
const BASE: &str = "Base.1.8";

/// An answer with the headers every response carries (DSP0266 §8.2: `OData-Version`,
/// `Cache-Control`) and, with a body, its `Content-Type`.
pub(crate) fn reply(status: StatusCode, body: Option<(&'static str, Bytes)>) -> Reply {
    let mut builder = Response::builder()
        .status(status)
        .header("OData-Version", "4.0")
        .header("Cache-Control", "no-cache");
    let body = match body {
        Some((content_type, bytes)) => {
            builder = builder.header("Content-Type", content_type);
            bytes
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A JSON answer.
pub(crate) fn json_reply(status: StatusCode, doc: &Value) -> Reply {
    reply(
        status,
        Some((
            "application/json; charset=utf-8",
            Bytes::from(doc.to_string()),
        )),
    )
}

/// An answer without a body.
pub(crate) fn empty(status: StatusCode) -> Reply {
    reply(status, None)
}

/// A Redfish error: `error.code`, `error.message` and one `@Message.ExtendedInfo` entry.
pub(crate) fn error_with_id(status: StatusCode, message_id: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({
            "error": {
                "code": message_id,
                "message": message,
                "@Message.ExtendedInfo": [{
                    "@odata.type": "#Message.v1_1_1.Message",
                    "MessageId": message_id,
                    "Message": message,
                    "Severity": "Critical",
                    "MessageSeverity": "Critical",
                    "Resolution": "None.",
                }],
            }
        }),
    )
}

/// A vendor's refusal, as the profile records it.
pub(crate) fn refusal(r: &Refusal) -> Reply {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_reply(
        status,
        &json!({
            "error": {
                "code": r.code,
                "message": r.message,
                "@Message.ExtendedInfo": [{
                    "MessageId": r.message_id,
                    "Message": r.text,
                    "MessageArgs": r.args,
                    "Severity": "Warning",
                    "Resolution": "None.",
                }],
            }
        }),
    )
}

/// A Redfish error with a Base registry message.
pub(crate) fn error(status: StatusCode, base_message: &str, message: &str) -> Reply {
    error_with_id(status, &format!("{BASE}.{base_message}"), message)
}

/// 404 for a URI that names no resource.
pub(crate) fn not_found(path: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "ResourceMissingAtURI",
        &format!("The resource at the URI {path} was not found."),
    )
}

/// 401, with the challenge when basic authentication is offered.
pub(crate) fn unauthorized(basic: bool) -> Reply {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "NoValidSession",
        "There is no valid session established with the implementation.",
    );
    if basic {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"fence-sim\""),
        );
    }
    r
}

/// 405, with the methods the resource allows.
pub(crate) fn not_allowed(method: &str, path: &str, allow: &str) -> Reply {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "GeneralError",
        &format!("The method {method} is not allowed on {path}."),
    );
    set(r.headers_mut(), "Allow", allow);
    r
}

/// Adds a header; a value that is not a valid header value is left out.
pub(crate) fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The `Link: <schema>; rel=describedby` header of a resource of `@odata.type` `odata_type`
/// (DSP0266 §8.2, "Link"): the versioned JSON schema on redfish.dmtf.org.
pub(crate) fn described_by(odata_type: &str) -> String {
    let t = odata_type.trim_start_matches('#');
    let parts: Vec<&str> = t.split('.').collect();
    let schema = match parts.as_slice() {
        [name, version, _] => format!("{name}.{version}"),
        [name, _] => (*name).to_owned(),
        _ => t.to_owned(),
    };
    format!("<http://redfish.dmtf.org/schemas/v1/{schema}.json>; rel=describedby")
}

/// A strong entity tag of a document: a hash of its JSON (FNV-1a, 64 bits).
pub(crate) fn etag(doc: &Value) -> String {
    let hash = doc
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("\"{hash:016x}\"")
}

/// What a request's headers ask that the service cannot give: `412` for an `OData-Version`
/// other than 4.0 (DSP0266 §8.1: "Services shall reject requests that specify an unsupported
/// OData version"), `406` for an `Accept` header that accepts none of `offered`.
pub(crate) fn unacceptable(headers: &HeaderMap, offered: &str) -> Option<Reply> {
    if let Some(v) = headers.get("odata-version") {
        if v.to_str().ok().map(str::trim) != Some("4.0") {
            return Some(error(
                StatusCode::PRECONDITION_FAILED,
                "HeaderInvalid",
                "The OData-Version header is not supported: this service supports 4.0.",
            ));
        }
    }
    let accept = headers.get(hyper::header::ACCEPT)?.to_str().ok()?;
    (!accepts(accept, offered)).then(|| {
        error(
            StatusCode::NOT_ACCEPTABLE,
            "HeaderInvalid",
            &format!("The Accept header '{accept}' accepts no {offered} answer."),
        )
    })
}

/// Whether an `Accept` value takes the media type `offered` (`type/subtype`).
fn accepts(accept: &str, offered: &str) -> bool {
    let (kind, _) = offered.split_once('/').unwrap_or((offered, ""));
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (media.is_empty()
                || media == "*/*"
                || media.eq_ignore_ascii_case(offered)
                || media.eq_ignore_ascii_case(&format!("{kind}/*")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges_as_rfc_9110_reads_them() {
        for a in [
            "application/json",
            "application/json;charset=utf-8",
            "application/*",
            "*/*;q=0.8",
            "text/html, application/json",
        ] {
            assert!(accepts(a, "application/json"), "{a}");
        }
        assert!(!accepts("text/html", "application/json"));
        assert!(!accepts("application/json;q=0", "application/json"));
        assert!(!accepts("application/xml", "application/json"));
    }

    #[test]
    fn the_link_names_the_versioned_schema() {
        assert_eq!(
            described_by("#ComputerSystem.v1_13_0.ComputerSystem"),
            "<http://redfish.dmtf.org/schemas/v1/ComputerSystem.v1_13_0.json>; rel=describedby"
        );
        assert_eq!(
            described_by("#ComputerSystemCollection.ComputerSystemCollection"),
            "<http://redfish.dmtf.org/schemas/v1/ComputerSystemCollection.json>; rel=describedby"
        );
    }
}
