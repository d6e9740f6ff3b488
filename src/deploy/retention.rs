//! Which releases of an environment must stay: those its machines boot
//! (asked of the environment's provider, through the same connection a
//! deploy uses) and those the deployment record says serve or are the
//! rollback target. `releases prune` deletes nothing else, and nothing at
//! all when the provider cannot tell (#27 item 6: prune ignored --connect
//! and deleted a release running on qemu:///session).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use super::record;
use crate::provider::Machines;
use crate::release::inventory::{self, Stored};
use crate::release::write;

/// The environment's machines by release (`<provider>:<machine>`).
pub fn running(machines: &dyn Machines, env: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in machines.list(env)? {
        out.entry(m.release)
            .or_default()
            .push(format!("{}:{}", machines.provider(), m.name));
    }
    Ok(out)
}

/// The releases the deployment record keeps: the one serving and the one
/// `rollback` would go back to; and what was skipped reading it.
pub fn recorded(project: &Path, env: &str) -> Result<(BTreeSet<String>, Option<String>)> {
    let lines = record::read(project, env)?;
    let (current, previous) = record::current_and_previous(&lines.entries);
    let note = lines.note(&record::path(project, env));
    Ok((current.into_iter().chain(previous).collect(), note))
}

/// What a prune did (or, dry, would do).
#[derive(Debug)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub kept: Vec<String>,
}

/// The releases to delete: beyond the `keep` newest builds, those no
/// machine runs and the record does not keep.
pub fn to_delete(
    stored: &[Stored],
    keep: usize,
    running: &BTreeMap<String, Vec<String>>,
    recorded: &BTreeSet<String>,
) -> Vec<String> {
    stored
        .iter()
        .skip(keep)
        .filter(|r| !running.contains_key(&r.version) && !recorded.contains(&r.version))
        .map(|r| r.version.clone())
        .collect()
}

/// Deletes the releases of `env` no one needs (`to_delete`), under the
/// environment's write lock; `running` must be the provider's answer (no
/// answer, no prune: the caller refuses before). What was skipped reading
/// the build log or the deployment record goes to `note` before anything
/// is deleted.
pub fn prune(
    project: &Path,
    env: &str,
    running: &BTreeMap<String, Vec<String>>,
    keep: usize,
    dry_run: bool,
    note: &mut dyn FnMut(&str),
) -> Result<Pruned> {
    let lock = write::lock_env(project, env)?;
    let (stored, log_note) = inventory::stored(project, env)?;
    let (recorded, record_note) = recorded(project, env)?;
    for n in log_note.iter().chain(&record_note) {
        note(n);
    }
    let deleted = to_delete(&stored, keep, running, &recorded);
    if !dry_run {
        for v in &deleted {
            inventory::delete(&lock, v)?;
        }
    }
    let kept = stored
        .into_iter()
        .map(|r| r.version)
        .filter(|v| !deleted.contains(v))
        .collect();
    Ok(Pruned { deleted, kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(versions: &[&str]) -> Vec<Stored> {
        versions
            .iter()
            .map(|v| Stored {
                version: v.to_string(),
                seq: None,
                built: None,
                bytes: 0,
            })
            .collect()
    }

    #[test]
    fn beyond_the_newest_only_what_nothing_runs_and_no_rollback_needs() {
        let all = stored(&["e", "d", "c", "b", "a"]);
        let running = BTreeMap::from([("c".to_string(), vec!["libvirt:vm-c".to_string()])]);
        let recorded = BTreeSet::from(["a".to_string()]);
        assert_eq!(to_delete(&all, 2, &running, &recorded), ["b"]);
        assert_eq!(to_delete(&all, 0, &running, &recorded), ["e", "d", "b"]);
        assert!(to_delete(&all, 5, &BTreeMap::new(), &BTreeSet::new()).is_empty());
    }
}
