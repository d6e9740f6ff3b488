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

/// The environment's machines by release (`<provider>:<machine>`). `None`
/// for a provider torrust-bake cannot deploy to yet: nothing of ours runs
/// there.
pub fn running(
    machines: Option<&dyn Machines>,
    env: &str,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Some(machines) = machines else {
        return Ok(out);
    };
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
