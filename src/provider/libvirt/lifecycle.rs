//! A domain's life after `define`: the data disk handed to it or taken
//! from it, a graceful ACPI stop with a bounded wait, then forced;
//! undefined with its UEFI variables; its own files removed (never the
//! data disk).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::domain::{self, DataDisk};
use super::virsh::Virsh;
use crate::provider::{Machine, StopHow};

/// Whether `name`'s definition (live, when it runs) holds the data disk.
fn holds(virsh: &Virsh, name: &str, d: &DataDisk) -> Result<bool> {
    let xml = virsh.dumpxml(name)?;
    Ok(domain::parse_record(&xml)?
        .and_then(|r| r.data_disk)
        .is_some_and(|p| p == d.path))
}

/// Gives the data disk to `name`: hot-plugged when it runs (a new LUN on
/// its virtio-scsi controller), in its definition either way. The caller
/// has made sure no other running domain holds it.
pub(super) fn attach_data(virsh: &Virsh, name: &str, d: &DataDisk) -> Result<String> {
    if holds(virsh, name, d)? {
        return Ok(format!("{} already on {name}", d.path.display()));
    }
    let live = virsh.state(name)?.is_running();
    virsh.attach_device(name, &domain::data_disk_xml(d), live)?;
    Ok(format!(
        "{} attached to {name}{}",
        d.path.display(),
        if live { " (hot-plugged, running)" } else { "" }
    ))
}

/// Takes the data disk from `name`, which must not run: a disk is never
/// pulled from under a mounted filesystem.
pub(super) fn detach_data(virsh: &Virsh, name: &str, d: &DataDisk) -> Result<String> {
    if !holds(virsh, name, d)? {
        return Ok(format!("{} not on {name}", d.path.display()));
    }
    let state = virsh.state(name)?;
    if !state.is_off() {
        anyhow::bail!(
            "refusing to detach {} from {name}, which is {}: stop it first",
            d.path.display(),
            state.0
        );
    }
    virsh.detach_device(name, &domain::data_disk_xml(d))?;
    Ok(format!("{} detached from {name}", d.path.display()))
}

/// Asks for an ACPI power-off and waits up to `timeout`, then destroys.
pub(super) fn stop(virsh: &Virsh, name: &str, timeout: Duration) -> Result<(StopHow, String)> {
    let state = virsh.state(name)?;
    if state.is_off() {
        return Ok((StopHow::Off, format!("{name} was {}", state.0)));
    }
    let started = Instant::now();
    if !timeout.is_zero() {
        virsh.shutdown(name)?;
        while started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(500));
            if virsh.state(name)?.is_off() {
                return Ok((
                    StopHow::Acpi,
                    format!("{name} powered off after the ACPI request"),
                ));
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
    Ok((StopHow::Destroyed, format!("{name} destroyed {why}")))
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

/// Undefines a stopped domain and deletes its overlay, seed copy and
/// console log. Gone already (an earlier run got here first): converged.
pub(super) fn retire(virsh: &Virsh, m: &Machine) -> Result<String> {
    if virsh.domains()?.contains(&m.name) {
        virsh.undefine(&m.name)?;
    }
    let removed = match &m.dir {
        Some(dir) => format!("{}: {}", dir.display(), remove_vm_files(dir)?),
        None => "no files".to_string(),
    };
    Ok(format!(
        "{} undefined (and its UEFI variables); {removed}",
        m.name
    ))
}
