//! `status` and `down`: an environment's domains as libvirt knows them, and
//! taking them away (graceful ACPI stop with a bounded wait, then forced;
//! undefine with the UEFI variables; the VM's files removed; the data disk
//! kept unless purged).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::virsh::Virsh;
use super::{find_domains, Step, Steps};

/// One domain in `status`.
#[derive(Debug, Serialize)]
pub struct DomainStatus {
    pub domain: String,
    pub release: String,
    pub state: String,
    pub addresses: Vec<String>,
    pub console_log: Option<PathBuf>,
    pub data_disk: Option<PathBuf>,
    /// The release's last `torrust-bake:` line on the console: `tracker
    /// healthy`, `FAILED: <why>`, or the step its boot is at.
    pub boot: Option<String>,
}

pub fn status(virsh: &Virsh, env: &str) -> Result<Vec<DomainStatus>> {
    let mut out = Vec::new();
    for r in find_domains(virsh, env)? {
        let state = virsh.state(&r.name)?;
        let addresses = if state.is_running() {
            virsh.addresses(&r.name)
        } else {
            Vec::new()
        };
        let boot = r.console_log.as_deref().and_then(super::console::last_word);
        out.push(DomainStatus {
            domain: r.name,
            release: r.version,
            state: state.0,
            addresses,
            boot,
            console_log: r.console_log,
            data_disk: r.data_disk,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct DownOptions {
    pub virsh: Virsh,
    /// How long the guest gets to power off after the ACPI request before
    /// it is destroyed; zero destroys at once.
    pub shutdown_timeout: Duration,
    /// Also delete the environment's data disks: those its domains use, and
    /// `data_disk` (the one its config names, for when no domain is left).
    pub purge: bool,
    pub data_disk: Option<PathBuf>,
}

/// What `down` did to one domain.
#[derive(Debug, Serialize)]
pub struct DownOutcome {
    pub domain: String,
    pub release: String,
    /// `acpi` (the guest powered off), `destroyed` (forced), or `off` (was off).
    pub stop: &'static str,
    pub steps: Vec<Step>,
}

/// Stops and undefines every domain of `env`, deletes their files, and with
/// `purge` the data disks too.
pub fn down(
    env: &str,
    opts: &DownOptions,
    progress: &mut dyn FnMut(&Step),
) -> Result<(Vec<DownOutcome>, Vec<PathBuf>)> {
    let virsh = &opts.virsh;
    let mut outcomes = Vec::new();
    let mut data_disks = Vec::new();
    for r in find_domains(virsh, env)? {
        let mut steps = Steps {
            done: Vec::new(),
            progress: &mut *progress,
        };
        let stop = steps.run("stop", || stop(virsh, &r.name, opts.shutdown_timeout))?;
        steps.run("undefine", || {
            virsh.undefine(&r.name)?;
            Ok(((), format!("{} (and its UEFI variables)", r.name)))
        })?;
        steps.run("files", || {
            let removed = remove_vm_files(&r.dir)?;
            Ok(((), format!("{}: {removed}", r.dir.display())))
        })?;
        if let Some(d) = &r.data_disk {
            if !data_disks.contains(d) {
                data_disks.push(d.clone());
            }
        }
        outcomes.push(DownOutcome {
            domain: r.name,
            release: r.version,
            stop,
            steps: steps.done,
        });
    }
    if let Some(d) = opts.data_disk.as_ref().filter(|d| d.is_file()) {
        if !data_disks.contains(d) {
            data_disks.push(d.clone());
        }
    }
    if opts.purge {
        for d in &data_disks {
            let mut steps = Steps {
                done: Vec::new(),
                progress: &mut *progress,
            };
            steps.run("purge", || {
                std::fs::remove_file(d).with_context(|| format!("removing {}", d.display()))?;
                Ok(((), format!("{} deleted", d.display())))
            })?;
        }
    }
    Ok((outcomes, data_disks))
}

/// Asks for an ACPI power-off and waits up to `timeout`, then destroys.
pub(super) fn stop(virsh: &Virsh, name: &str, timeout: Duration) -> Result<(&'static str, String)> {
    let state = virsh.state(name)?;
    if state.is_off() {
        return Ok(("off", format!("{name} was {}", state.0)));
    }
    let started = Instant::now();
    if !timeout.is_zero() {
        virsh.shutdown(name)?;
        while started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(500));
            if virsh.state(name)?.is_off() {
                return Ok(("acpi", format!("{name} powered off after the ACPI request")));
            }
        }
    }
    // The guest may have powered off between the last look and now.
    if let Err(e) = virsh.destroy(name) {
        if !virsh.state(name)?.is_off() {
            return Err(e);
        }
    }
    let why = if timeout.is_zero() {
        "at once (--shutdown-timeout 0)".to_string()
    } else {
        format!("after {} s without powering off", timeout.as_secs())
    };
    Ok(("destroyed", format!("{name} destroyed {why}")))
}

/// Deletes the files `up` put in a VM's directory, then the directory if
/// that left it empty. Only these names: the path came from libvirt.
pub(super) fn remove_vm_files(dir: &Path) -> Result<String> {
    let mut removed = Vec::new();
    for f in ["disk.qcow2", "seed.iso", "seed.img", "console.log"] {
        let path = dir.join(f);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(if removed.is_empty() {
        "nothing to remove".into()
    } else {
        format!("removed {}", removed.join(", "))
    })
}
