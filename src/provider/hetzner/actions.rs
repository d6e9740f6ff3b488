//! Actions: what the API does asynchronously (create, start, shutdown,
//! attach, assign, delete), polled until `success` or `error`.
//!
//! Shape (hcloud-go `hcloud/schema/action.go`): `{id, status: running |
//! success | error, command, progress, started, finished, error {code,
//! message}, resources [{id, type}]}`. One action is polled as `GET
//! /actions/{id}`; several at once as `GET /actions?id=..&id=..` (what
//! hcloud-go's `WaitForFunc` does in `hcloud/action_waiter.go`, the list
//! form needing ids since 2025-01-30), so waiting for a create and its
//! `next_actions` costs one request a poll. Polls start at the official
//! client's 500 ms and slow down (`Options::poll_base`/`poll_cap`).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::client::Client;
use super::error::Failure;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub progress: u64,
    #[serde(default)]
    pub error: Option<ActionError>,
}

impl Action {
    pub fn running(&self) -> bool {
        self.status == "running"
    }

    fn failure(&self) -> Option<Failure> {
        (self.status == "error").then(|| {
            let e = self.error.clone().unwrap_or(ActionError {
                code: "unknown_error".into(),
                message: "no reason given".into(),
            });
            Failure::Action {
                command: self.command.clone(),
                id: self.id,
                code: e.code,
                message: e.message,
            }
        })
    }
}

/// `value` as an action (`what` names it in an error).
pub(super) fn parse(value: &Value, what: &str) -> Result<Action, Failure> {
    serde_json::from_value(value.clone()).map_err(|e| Failure::Protocol {
        request: what.to_string(),
        why: format!("not an action: {e}"),
    })
}

/// The actions of an answer: `action` and any `next_actions` (a create's
/// start and volume attachment, `POST /servers` in hcloud-go's
/// `ServerCreateResponse`), nulls skipped.
pub(super) fn of_answer(answer: &Value, what: &str) -> Result<Vec<Action>, Failure> {
    let mut out = Vec::new();
    if let Some(a) = answer.get("action").filter(|a| !a.is_null()) {
        out.push(parse(a, what)?);
    }
    if let Some(Value::Array(next)) = answer.get("next_actions") {
        for a in next {
            out.push(parse(a, what)?);
        }
    }
    Ok(out)
}

impl Client {
    pub fn action(&self, id: u64) -> Result<Action, Failure> {
        let path = format!("/actions/{id}");
        let body = self.get(&path, &[])?;
        parse(
            body.get("action").unwrap_or(&Value::Null),
            &format!("GET {path}"),
        )
    }

    /// Waits until every action in `actions` ended; the first that ended
    /// in `error` is the error. Polls only those still running.
    pub fn wait_for(&self, actions: &[Action]) -> Result<(), Failure> {
        let mut running: Vec<Action> = Vec::new();
        for a in actions {
            if let Some(f) = a.failure() {
                return Err(f);
            }
            if a.running() {
                running.push(a.clone());
            }
        }
        let started = Instant::now();
        let opts = self.options();
        let mut polls = 0u32;
        while !running.is_empty() {
            if started.elapsed() >= opts.action_timeout {
                let a = &running[0];
                return Err(Failure::ActionTimeout {
                    command: a.command.clone(),
                    id: a.id,
                    waited_s: started.elapsed().as_secs(),
                });
            }
            polls += 1;
            let wait = poll_delay(opts.poll_base, opts.poll_cap, polls);
            std::thread::sleep(wait);
            let now = self.poll(&running)?;
            for a in &now {
                if let Some(f) = a.failure() {
                    return Err(f);
                }
            }
            running = now.into_iter().filter(Action::running).collect();
        }
        Ok(())
    }

    fn poll(&self, running: &[Action]) -> Result<Vec<Action>, Failure> {
        if let [one] = running {
            return Ok(vec![self.action(one.id)?]);
        }
        let ids: Vec<(&str, String)> = running.iter().map(|a| ("id", a.id.to_string())).collect();
        let found = self.list("/actions", "actions", &ids)?;
        let found: Vec<Action> = found
            .iter()
            .map(|v| parse(v, "GET /actions"))
            .collect::<Result<_, _>>()?;
        if let Some(missing) = running.iter().find(|a| !found.iter().any(|f| f.id == a.id)) {
            return Err(Failure::Protocol {
                request: "GET /actions".into(),
                why: format!(
                    "action {} ({}) is not in the answer",
                    missing.id, missing.command
                ),
            });
        }
        Ok(found)
    }
}

/// The delay before poll number `n` (1 for the first): 500 ms, 1 s, 1.5 s,
/// 2 s, 2 s, ... by default, so n polls span at least n seconds from the
/// third on.
pub fn poll_delay(base: Duration, cap: Duration, n: u32) -> Duration {
    (base * n).min(cap.max(base))
}

impl Client {
    /// POSTs an action to `path` and waits for it to end. When the POST's
    /// outcome is unknown, `done` tells whether its effect is already there
    /// (the floating IP points at the server, the volume is attached), and
    /// only when it is not is the POST sent again.
    pub(super) fn act(
        &self,
        path: &str,
        body: &Value,
        done: &dyn Fn() -> Result<bool, Failure>,
    ) -> Result<(), Failure> {
        let recheck = || Ok(done()?.then(|| serde_json::json!({ "action": null })));
        let answer = match self.post(path, body, &recheck) {
            Ok(answer) => answer,
            // Refused because it is done already (an earlier run's request,
            // whose answer was lost, got there first: `volume_already_attached`
            // to this very server): what was asked holds.
            Err(f) if matches!(f, Failure::Api { .. }) && done()? => return Ok(()),
            Err(f) => return Err(f),
        };
        let actions = of_answer(&answer, &format!("POST {path}"))?;
        self.wait_for(&actions)
    }
}
