//! One command that changes what runs, per environment, at a time: two
//! deploys (or a deploy and a destroy) would stop and start each other's
//! machines, or boot two on one data volume (#27 item 7: two `up` runs did).
//! The lock is `releases/<env>/deploy.lock`, beside the deployment record
//! and on every provider the same; it goes with the process, so a killed
//! deploy never blocks the next one. Not hidden: the release writer
//! removes hidden leftovers there.

use std::path::Path;

use anyhow::Result;

use crate::error::Error;
use crate::release::store;

pub const FILE: &str = "deploy.lock";

/// Takes the environment's deploy lock, or says who holds it.
pub fn take(project: &Path, env: &str) -> Result<std::fs::File> {
    let dir = store::env_dir(project, env);
    store::ensure_dir(&dir)?;
    let path = dir.join(FILE);
    crate::release::write::try_lock(&path)?.ok_or_else(|| {
        Error::invalid(format!(
            "another deploy, rollback or destroy of {env} is running (it holds {}); wait for it to finish",
            path.display()
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_that_changes_what_runs_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = take(dir.path(), "local").unwrap();
        let again = take(dir.path(), "local").unwrap_err();
        assert!(
            format!("{again:#}").contains("another deploy, rollback or destroy of local"),
            "{again:#}"
        );
        drop(held);
        take(dir.path(), "local").unwrap();
    }
}
