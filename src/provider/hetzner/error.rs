//! What can go wrong talking to the Hetzner Cloud API, and the message that
//! says what to do about it.
//!
//! The error body is `{"error": {"code", "message", "details"}}`, with
//! `details.fields[{name, messages}]` for `invalid_input` (hcloud-go,
//! `hcloud/schema/error.go`; the codes are its `hcloud/error.go` list).
//! Nothing here ever holds the token: messages are built from the method,
//! the path (ids and names, never a query with a secret) and the API's own
//! words, and `Client` scrubs the token from them once more on the way out.

use std::fmt;

use serde::Deserialize;

use crate::error::{Error, Kind};

/// One field the API refused (`invalid_input`), with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(default)]
    pub messages: Vec<String>,
}

/// An error answer of the API, parsed from its body (or made up from the
/// status when the body is not the API's, as a proxy's 502 page is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<Field>,
}

#[derive(Deserialize)]
struct Body {
    error: BodyError,
}

#[derive(Deserialize)]
struct BodyError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct InvalidInput {
    #[serde(default)]
    fields: Vec<Field>,
}

impl ApiError {
    /// The error an answer with `status` and `body` means.
    pub fn parse(status: u16, body: &str) -> ApiError {
        if let Ok(Body { error }) = serde_json::from_str::<Body>(body) {
            if !error.code.is_empty() || !error.message.is_empty() {
                let fields = match (error.code.as_str(), error.details) {
                    ("invalid_input", Some(d)) => serde_json::from_value::<InvalidInput>(d)
                        .map(|i| i.fields)
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                return ApiError {
                    status,
                    code: error.code,
                    message: error.message,
                    fields,
                };
            }
        }
        // Not the API's body: name the status as hcloud-go's error codes would.
        let code = match status {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            423 => "locked",
            429 => "rate_limit_exceeded",
            502 => "bad_gateway",
            503 => "unavailable",
            504 => "timeout",
            500..=599 => "server_error",
            _ => "unknown_error",
        };
        ApiError {
            status,
            code: code.to_string(),
            message: format!("HTTP {status}"),
            fields: Vec::new(),
        }
    }

    /// Worth sending again after a pause: the API did not act on it.
    /// hcloud-go retries `conflict`, `rate_limit_exceeded`, `bad_gateway`,
    /// `timeout` and 502/504 (`client_handler_retry.go`); issue 22 adds
    /// `locked` (another action runs: it ends) and 503.
    pub fn retryable(&self) -> bool {
        matches!(
            self.code.as_str(),
            "conflict" | "rate_limit_exceeded" | "locked" | "bad_gateway" | "timeout"
        ) || matches!(self.status, 429 | 502 | 503 | 504)
    }

    /// An answer that may come after the API did act (a gateway gave up
    /// waiting for it): a POST that got it must be checked, not resent.
    pub fn ambiguous(&self) -> bool {
        matches!(self.status, 502 | 504) || matches!(self.code.as_str(), "bad_gateway" | "timeout")
    }

    fn kind(&self) -> Kind {
        match self.code.as_str() {
            "unauthorized" | "forbidden" | "token_readonly" => Kind::Denied,
            "not_found" => Kind::NotFound,
            "invalid_input"
            | "json_error"
            | "uniqueness_error"
            | "protected"
            | "resource_limit_exceeded"
            | "resource_unavailable"
            | "invalid_server_type"
            | "server_not_stopped"
            | "volume_already_attached"
            | "no_space_left_in_location"
            | "placement_error"
            | "deprecated_api_endpoint"
            | "unsupported_error" => Kind::Invalid,
            _ => Kind::Unreachable,
        }
    }

    /// What the user does next, for the codes where we know.
    fn advice(&self) -> String {
        match self.code.as_str() {
            "unauthorized" => "check HCLOUD_TOKEN: it must be an API token of the project (Hetzner Console > Security > API tokens)".into(),
            "forbidden" | "token_readonly" => {
                "HCLOUD_TOKEN is read-only or lacks the permission: use a Read & Write token".into()
            }
            "invalid_input" if !self.fields.is_empty() => {
                let fields: Vec<String> = self
                    .fields
                    .iter()
                    .map(|f| format!("`{}`: {}", f.name, f.messages.join("; ")))
                    .collect();
                format!("fix {}", fields.join(", "))
            }
            "invalid_input" | "json_error" => "the request was refused as it is: this is a torrust-bake bug if the configuration is valid; please report it".into(),
            "uniqueness_error" => "something with that name exists already: delete it, or let the deploy find it (run it again)".into(),
            "not_found" => "it does not exist (any more): check the name or id, or run the command again to start from what exists".into(),
            "locked" => "another action on it is still running: wait for it to end (Hetzner Console) and run the command again".into(),
            "conflict" => "it changed while we asked: run the command again".into(),
            "rate_limit_exceeded" => "the project's API budget is spent (3600 requests an hour, refilled 1 a second): wait a few minutes and run the command again".into(),
            "resource_limit_exceeded" => "the project's limit for this resource is reached: delete unused ones or ask Hetzner to raise the limit".into(),
            "resource_unavailable" | "invalid_server_type" | "placement_error" | "no_space_left_in_location" => {
                "choose another INFRASTRUCTURE_INSTANCE_TYPE or INFRASTRUCTURE_REGION, or try again later".into()
            }
            "server_not_stopped" => "the server must be off first".into(),
            "volume_already_attached" => "the volume is attached to another server: detach it first".into(),
            "protected" => "it is protected against this: lift the protection in the Hetzner Console first".into(),
            "maintenance" => "Hetzner is in maintenance: try again later (status.hetzner.com)".into(),
            _ if self.status >= 500 || self.retryable() => {
                "the Hetzner API failed: try again in a few minutes (status.hetzner.com)".into()
            }
            _ => "see the Hetzner API reference for this code".into(),
        }
    }
}

/// Every way a request can fail, as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with an error (after any retries).
    Api {
        request: String,
        error: ApiError,
        attempts: u32,
    },
    /// No answer in time, or the connection broke, after any retries.
    Transport {
        request: String,
        why: String,
        attempts: u32,
    },
    /// An action the API started ended in `error`.
    Action {
        command: String,
        id: u64,
        code: String,
        message: String,
    },
    /// An action still runs after the bound.
    ActionTimeout {
        command: String,
        id: u64,
        waited_s: u64,
    },
    /// An answer that is not what the API sends (unreadable JSON, a field
    /// missing), or input refused before it was sent.
    Protocol { request: String, why: String },
    /// Refused before anything was sent (the token, an SSH key missing).
    Input(String),
}

impl Failure {
    /// The API's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Failure::Api { error, .. } => Some(&error.code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some("not_found")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tries = |n: &u32| {
            if *n > 1 {
                format!(" ({n} attempts)")
            } else {
                String::new()
            }
        };
        match self {
            Failure::Api {
                request,
                error,
                attempts,
            } => write!(
                f,
                "Hetzner API: {request} answered {} {}: {}{}; {}",
                error.status,
                error.code,
                error.message.trim_end_matches('.'),
                tries(attempts),
                error.advice()
            ),
            Failure::Transport {
                request,
                why,
                attempts,
            } => write!(
                f,
                "Hetzner API: {request}: {why}{}; check the network and HCLOUD_ENDPOINT, then run the command again",
                tries(attempts)
            ),
            Failure::Action {
                command,
                id,
                code,
                message,
            } => write!(
                f,
                "Hetzner action {command} (id {id}) failed: {code}: {message}; see the action in the Hetzner Console, then run the command again"
            ),
            Failure::ActionTimeout {
                command,
                id,
                waited_s,
            } => write!(
                f,
                "Hetzner action {command} (id {id}) still runs after {waited_s} s; see it in the Hetzner Console, then run the command again"
            ),
            Failure::Protocol { request, why } => write!(
                f,
                "Hetzner API: {request}: unexpected answer: {why}; check that HCLOUD_ENDPOINT is the Hetzner Cloud API"
            ),
            Failure::Input(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        let kind = match &f {
            Failure::Api { error, .. } => error.kind(),
            Failure::Input(_) => Kind::Invalid,
            Failure::Protocol { .. } => Kind::Protocol,
            Failure::Transport { .. } | Failure::Action { .. } | Failure::ActionTimeout { .. } => {
                Kind::Unreachable
            }
        };
        Error::new(kind, f.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_names_the_fields() {
        let body = r#"{"error":{"code":"invalid_input","message":"invalid input in field 'name'",
            "details":{"fields":[{"name":"name","messages":["must be a valid hostname"]}]}}}"#;
        let e = ApiError::parse(400, body);
        assert_eq!(e.code, "invalid_input");
        assert_eq!(e.fields.len(), 1);
        let f = Failure::Api {
            request: "POST /servers".into(),
            error: e,
            attempts: 1,
        };
        let msg = f.to_string();
        assert!(
            msg.contains("fix `name`: must be a valid hostname"),
            "{msg}"
        );
        assert_eq!(Error::from(f).kind, Kind::Invalid);
    }

    #[test]
    fn a_body_that_is_not_the_apis_still_has_a_code() {
        let e = ApiError::parse(502, "<html>bad gateway</html>");
        assert_eq!(e.code, "bad_gateway");
        assert!(e.retryable() && e.ambiguous());
        let e = ApiError::parse(503, "");
        assert!(e.retryable() && !e.ambiguous());
        let e = ApiError::parse(500, "");
        assert!(!e.retryable());
    }

    #[test]
    fn unauthorized_says_check_the_token() {
        let e = ApiError::parse(
            401,
            r#"{"error":{"code":"unauthorized","message":"unable to authenticate","details":{}}}"#,
        );
        let f = Failure::Api {
            request: "GET /servers".into(),
            error: e,
            attempts: 1,
        };
        assert!(f.to_string().contains("check HCLOUD_TOKEN"));
        assert_eq!(Error::from(f).kind, Kind::Denied);
    }
}
