//! The environment's deployment record, `releases/<env>/deployments.log`:
//! which release started serving on which domain, when, and what it
//! replaced (or that a replacement rolled back). One JSON object a line,
//! only ever appended, beside the content-addressed releases and never in
//! one. The provider says what runs now; this says what ran before, so
//! that `rollback` (the release before the current one) and `releases
//! prune` (keep what a rollback needs) mean something, on every provider.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::release::{log, store};

pub const FILE: &str = "deployments.log";

/// How a replacement ended, as its JSON and the deployment record say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Replaced {
    /// The new release serves; the old machine is retired.
    #[serde(rename = "replaced")]
    Replaced,
    /// The new release serves; nothing ran before.
    #[serde(rename = "started")]
    Started,
    /// This release already served.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// The new release failed before the hand-over: the old machine never
    /// stopped serving, the new one is gone.
    #[serde(rename = "kept")]
    Kept,
    /// The new release failed after the hand-over: the old one serves again.
    #[serde(rename = "rolled back")]
    RolledBack,
    /// Neither serves.
    #[serde(rename = "rollback failed")]
    RollbackFailed,
}

/// What a line of the record says happened, in the words the file holds:
/// a first deploy (`up`), or how a deploy or rollback that replaced ended
/// (`Replaced`'s own words, written as they are).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum DeployEvent {
    #[serde(rename = "up")]
    Up,
    #[serde(untagged)]
    Replacement(Replaced),
}

impl From<Replaced> for DeployEvent {
    fn from(r: Replaced) -> DeployEvent {
        DeployEvent::Replacement(r)
    }
}

impl std::fmt::Display for DeployEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The serde word: one spelling, in the file and on the terminal.
        let word = serde_json::to_value(self).ok();
        f.write_str(word.as_ref().and_then(|w| w.as_str()).unwrap_or("?"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    /// RFC 3339, UTC, seconds.
    pub time: String,
    pub event: DeployEvent,
    /// The release serving after this event (`None` after a failed rollback).
    pub serving: Option<String>,
    /// The release this event started (the new one of a replacement).
    pub version: String,
    /// The machine (libvirt: the domain); the field keeps its first name.
    pub domain: String,
    /// The release that served before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// From the old VM's stop request to the tracker healthy again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_ms: Option<u128>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Deployment {
    pub fn now(event: DeployEvent, version: &str, domain: &str) -> Deployment {
        Deployment {
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            event,
            serving: Some(version.to_string()),
            version: version.to_string(),
            domain: domain.to_string(),
            previous: None,
            outage_ms: None,
            reason: None,
        }
    }
}

pub fn append(project: &Path, env: &str, d: &Deployment) -> Result<()> {
    let dir = store::env_dir(project, env);
    store::ensure_dir(&dir)?;
    log::append_line(&dir.join(FILE), d)
}

/// Every readable entry, oldest first, and the lines that were not
/// (reported, never the file lost); a symlinked record is refused.
pub fn read(project: &Path, env: &str) -> Result<log::Lines<Deployment>> {
    log::read_lines(&path(project, env))
}

/// `releases/<env>/deployments.log`.
pub fn path(project: &Path, env: &str) -> std::path::PathBuf {
    store::env_dir(project, env).join(FILE)
}

/// The release serving now, by the record, and the one that served
/// before it (a different version): what `rollback` goes back to.
pub fn current_and_previous(entries: &[Deployment]) -> (Option<String>, Option<String>) {
    let mut serving = entries.iter().rev().filter_map(|d| d.serving.clone());
    let current = serving.next();
    let previous = serving.find(|v| Some(v) != current.as_ref());
    (current, previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(event: DeployEvent, version: &str, serving: Option<&str>) -> Deployment {
        Deployment {
            serving: serving.map(str::to_string),
            ..Deployment::now(event, version, "dom")
        }
    }

    #[test]
    fn rollback_goes_to_the_release_that_served_before() {
        let log = [
            d(DeployEvent::Up, "aaa", Some("aaa")),
            d(
                DeployEvent::Replacement(Replaced::Replaced),
                "bbb",
                Some("bbb"),
            ),
            d(
                DeployEvent::Replacement(Replaced::RolledBack),
                "ccc",
                Some("bbb"),
            ),
            d(DeployEvent::Up, "bbb", Some("bbb")),
        ];
        assert_eq!(
            current_and_previous(&log),
            (Some("bbb".into()), Some("aaa".into()))
        );
        assert_eq!(current_and_previous(&log[..1]), (Some("aaa".into()), None));
        assert_eq!(current_and_previous(&[]), (None, None));
    }

    #[test]
    fn entries_append_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let e = d(
            DeployEvent::Replacement(Replaced::Replaced),
            "bbb",
            Some("bbb"),
        );
        append(dir.path(), "local", &e).unwrap();
        append(dir.path(), "local", &e).unwrap();
        assert_eq!(
            read(dir.path(), "local").unwrap().entries,
            vec![e.clone(), e]
        );
        let line = std::fs::read_to_string(path(dir.path(), "local")).unwrap();
        assert!(line.contains(r#""event":"replaced""#), "{line}");
        assert_eq!(
            DeployEvent::from(Replaced::RollbackFailed).to_string(),
            "rollback failed"
        );
    }

    #[test]
    fn every_word_the_record_holds_reads_back() {
        for word in [
            "up",
            "started",
            "replaced",
            "unchanged",
            "kept",
            "rolled back",
            "rollback failed",
        ] {
            let e: DeployEvent = serde_json::from_str(&format!("{word:?}")).unwrap();
            assert_eq!(e.to_string(), word);
        }
        assert!(serde_json::from_str::<DeployEvent>("\"upp\"").is_err());
    }
}
