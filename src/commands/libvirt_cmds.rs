//! The deprecated `libvirt up|replace|rollback|status|down`: each runs the
//! code of its new verb (deploy_cmds.rs) and says on stderr which to use.

use super::deploy_cmds::{connect, load_deploy, printers, run_replace, say_up};
use super::*;
use crate::cli::{DestroyArgs, LibvirtReplaceArgs, LibvirtUpArgs, RollbackArgs, StatusArgs};
use crate::deploy;

fn deprecated(old: &str, new: &str) {
    errln!(
        "note: `torrust-bake libvirt {old}` is deprecated and will go; use `torrust-bake {new}`"
    );
}

/// `libvirt up`: a first deploy only (it refuses when another VM of the
/// environment exists, as it did); `deploy` also replaces.
pub fn libvirt_up(project: &Path, args: &LibvirtUpArgs, json: bool) -> Result<ExitCode> {
    deprecated("up", "deploy");
    let env = args.env.as_str();
    let loaded = match load_deploy(project, env, args.release.as_deref(), None, json)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let machines = loaded.machines(&connect(&args.connect, args.seed))?;
    let (mut progress, mut on_event) = printers(json);
    let inputs = loaded.inputs(project, args.dry_run);
    let out = deploy::first(
        &inputs,
        machines.as_ref(),
        args.wait,
        &mut progress,
        &mut on_event,
    )?;
    say_up(&out, json)
}

pub fn libvirt_replace(project: &Path, args: &LibvirtReplaceArgs, json: bool) -> Result<ExitCode> {
    deprecated("replace", "deploy");
    run_replace(project, &args.env, args.release.as_deref(), &args.how, json)
}

// The aliases below take their new verb's arguments as they are.

pub fn libvirt_rollback(project: &Path, args: &RollbackArgs, json: bool) -> Result<ExitCode> {
    deprecated("rollback", "rollback");
    rollback(project, args, json)
}

pub fn libvirt_status(project: &Path, args: &StatusArgs, json: bool) -> Result<ExitCode> {
    deprecated("status", "status");
    status(project, args, json)
}

pub fn libvirt_down(project: &Path, args: &DestroyArgs, json: bool) -> Result<ExitCode> {
    deprecated("down", "destroy");
    destroy(project, args, json)
}
