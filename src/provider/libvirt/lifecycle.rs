//! Taking a domain away: a graceful ACPI stop with a bounded wait, then
//! forced; undefined with its UEFI variables; its own files removed (never
//! the data disk).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::virsh::Virsh;
use crate::provider::Machine;

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
fn remove_vm_files(dir: &Path) -> Result<String> {
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
