//! `status` and `destroy` (`libvirt status|down` before): an environment's
//! machines as its provider reports them, and taking them away (graceful
//! stop with a bounded wait, then forced; retired; the data volume kept
//! unless purged). Both need only the environment's name, not a valid
//! configuration: a deleted or broken env file must not strand machines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::boot;
use super::lock;
use super::steps::{Step, Steps};
use crate::provider::Machines;

/// One machine in `status` (the field names `libvirt status` printed).
#[derive(Debug, Serialize)]
pub struct MachineStatus {
    pub domain: String,
    pub release: String,
    pub state: String,
    pub addresses: Vec<String>,
    pub console_log: Option<PathBuf>,
    pub data_disk: Option<String>,
    /// The release's last `torrust-bake:` line on the console: `tracker
    /// healthy`, `FAILED: <why>`, or the step its boot is at.
    pub boot: Option<String>,
}

pub fn status(machines: &dyn Machines, env: &str) -> Result<Vec<MachineStatus>> {
    let mut out = Vec::new();
    for m in machines.list(env)? {
        let state = machines.state(&m.name)?;
        let addresses = if state.running {
            machines.addresses(&m.name)
        } else {
            Vec::new()
        };
        let boot = boot::last_word(&machines.recent_lines(&m));
        out.push(MachineStatus {
            domain: m.name,
            release: m.release,
            state: state.words,
            addresses,
            boot,
            console_log: m.console_log,
            data_disk: m.data_disk,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct DestroyOptions {
    /// How long a machine gets to stop gracefully before it is forced;
    /// zero forces at once.
    pub shutdown_timeout: Duration,
    /// Also delete the environment's data volumes: those its machines use,
    /// and `data_disk` (the one its config names, for when none is left).
    pub purge: bool,
    pub data_disk: Option<String>,
}

/// What `destroy` did to one machine.
#[derive(Debug, Serialize)]
pub struct DownOutcome {
    pub domain: String,
    pub release: String,
    /// `acpi` (the guest powered off), `destroyed` (forced), or `off` (was off).
    pub stop: crate::provider::StopHow,
    pub steps: Vec<Step>,
}

/// Stops and retires every machine of `env`, under the deploy lock, and
/// with `purge` deletes the data volumes too. Returns the data volumes.
pub fn destroy(
    project: &Path,
    env: &str,
    machines: &dyn Machines,
    opts: &DestroyOptions,
    progress: &mut dyn FnMut(&Step),
) -> Result<(Vec<DownOutcome>, Vec<String>)> {
    let _lock = lock::take(project, env, machines)?;
    let mut outcomes = Vec::new();
    let mut data_disks = Vec::new();
    for m in machines.list(env)? {
        let mut steps = Steps::new(&mut *progress);
        let stop = steps.run("stop", || machines.stop(&m.name, opts.shutdown_timeout))?;
        steps.run("retire", || Ok(((), machines.retire(&m)?)))?;
        if let Some(d) = &m.data_disk {
            if !data_disks.contains(d) {
                data_disks.push(d.clone());
            }
        }
        outcomes.push(DownOutcome {
            domain: m.name,
            release: m.release,
            stop,
            steps: steps.done,
        });
    }
    if let Some(d) = opts.data_disk.as_ref() {
        if !data_disks.contains(d) {
            data_disks.push(d.clone());
        }
    }
    if opts.purge {
        for d in &data_disks {
            let mut steps = Steps::new(&mut *progress);
            steps.run("purge", || {
                machines.delete_data_volume(d)?;
                Ok(((), format!("{d} deleted")))
            })?;
        }
    }
    Ok((outcomes, data_disks))
}
