//! What `releases/<env>/` holds: each stored release with its size and,
//! from the build log, when it was last built and in what order; and the
//! one safe way to delete one (moved aside first: a crash leaves a hidden
//! leftover, which the next writer removes, never half a release).
//! Which releases to delete is the deploy layer's question
//! (`deploy::retention`): it knows what runs and what a rollback needs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::write::EnvLock;
use super::{log, store};

/// One stored release.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub version: String,
    /// Its last build's place in the build log (the order of builds).
    #[serde(skip)]
    pub seq: Option<usize>,
    /// Last build, from the log; none for releases older than the log.
    pub built: Option<String>,
    pub bytes: u64,
}

/// The environment's releases, newest build first (releases the log does
/// not know last, by version), and what was skipped reading the log.
pub fn stored(project: &Path, env: &str) -> Result<(Vec<Stored>, Option<String>)> {
    let dir = store::env_dir(project, env);
    // When each was last built, and in what order: the log's line order,
    // which is monotonic where its one-second times tie (#27 item 14: ties
    // broken by version text let `prune --keep 1` delete the newest).
    let mut built: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let log = log::read(&dir)?;
    let note = log.note(&dir.join(log::FILE));
    for (seq, e) in log.entries.into_iter().enumerate() {
        built.insert(e.version, (seq, e.time));
    }
    let mut out: Vec<Stored> = store::list(project, env)?
        .into_iter()
        .map(|v| Stored {
            seq: built.get(&v).map(|b| b.0),
            built: built.get(&v).map(|b| b.1.clone()),
            bytes: dir_bytes(&dir.join(&v)),
            version: v,
        })
        .collect();
    out.sort_by(|a, b| b.seq.cmp(&a.seq).then(a.version.cmp(&b.version)));
    Ok((out, note))
}

/// Deletes the stored release `version`, under the environment's write
/// lock: renamed aside, then removed.
pub fn delete(lock: &EnvLock, version: &str) -> Result<()> {
    let from = lock.dir().join(version);
    let aside = lock.dir().join(format!(".{version}-pruned"));
    std::fs::rename(&from, &aside).with_context(|| format!("moving {} aside", from.display()))?;
    std::fs::remove_dir_all(&aside).with_context(|| format!("removing {}", aside.display()))
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
