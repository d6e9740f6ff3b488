//! One command that changes what runs, per environment, at a time: two
//! deploys (or a deploy and a destroy) would stop and start each other's
//! machines, or boot two on one data volume (#27 item 7: two `up` runs did).
//! The lock is `releases/<env>/deploy.lock`, beside the deployment record
//! and on every provider the same; it goes with the process, so a killed
//! deploy never blocks the next one. Not hidden: the release writer
//! removes hidden leftovers there. A provider reached from several
//! machines adds its own side (`Machines::lock`: Hetzner, a named
//! placement group), taken after the file, so a lock this machine left is
//! known to be stale.

use std::path::Path;

use anyhow::Result;

use crate::error::Error;
use crate::provider::Machines;
use crate::release::store;

pub const FILE: &str = "deploy.lock";

/// The environment's deploy lock while it is held: the local file, and
/// what the provider took on its side (`Machines::lock`), given back when
/// this is dropped.
pub struct Held<'a> {
    _file: std::fs::File,
    remote: Option<(&'a dyn Machines, String, String)>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some((machines, env, held)) = self.remote.take() {
            // A lock left behind is taken over by this machine's next run
            // and named, with its fix, to another machine's.
            let _ = machines.unlock(&env, &held);
        }
    }
}

/// Takes the environment's deploy lock, here and on the provider's side,
/// or says who holds it.
pub fn take<'a>(project: &Path, env: &str, machines: &'a dyn Machines) -> Result<Held<'a>> {
    let file = take_file(project, env)?;
    let remote = machines
        .lock(env)?
        .map(|held| (machines, env.to_string(), held));
    Ok(Held {
        _file: file,
        remote,
    })
}

/// The lock file beside the environment's releases.
fn take_file(project: &Path, env: &str) -> Result<std::fs::File> {
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
        let held = take_file(dir.path(), "local").unwrap();
        let again = take_file(dir.path(), "local").unwrap_err();
        assert!(
            format!("{again:#}").contains("another deploy, rollback or destroy of local"),
            "{again:#}"
        );
        drop(held);
        take_file(dir.path(), "local").unwrap();
    }
}
