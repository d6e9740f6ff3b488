//! The deprecated `libvirt up|replace|rollback|status|down`: each runs the
//! code of its new verb (deploy_cmds.rs) and says on stderr which to use.

use super::deploy_cmds::{connect, load_deploy, print_event, print_step, run_replace, say_up};
use super::*;
use crate::cli::{
    DestroyArgs, LibvirtDownArgs, LibvirtReplaceArgs, LibvirtRollbackArgs, LibvirtStatusArgs,
    LibvirtUpArgs, RollbackArgs, StatusArgs,
};
use crate::deploy::{self, boot, Step};

fn deprecated(old: &str, new: &str) {
    errln!(
        "note: `torrust-bake libvirt {old}` is deprecated and will go; use `torrust-bake {new}`"
    );
}

/// `libvirt up`: a first deploy only (it refuses when another VM of the
/// environment exists, as it did); `deploy` also replaces.
pub fn libvirt_up(project: &Path, args: &LibvirtUpArgs) -> Result<ExitCode> {
    deprecated("up", "deploy");
    let (env, json) = (args.env.as_str(), args.json);
    let loaded = match load_deploy(project, env, args.release.as_deref(), json)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let machines = loaded.machines(&connect(&args.connect, args.seed))?;
    let mut progress = |s: &Step| {
        if !json {
            print_step(s)
        }
    };
    let mut on_event = |e: &boot::Event| {
        if !json {
            print_event(e)
        }
    };
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

pub fn libvirt_replace(project: &Path, args: &LibvirtReplaceArgs) -> Result<ExitCode> {
    deprecated("replace", "deploy");
    run_replace(project, &args.env, args.release.as_deref(), &args.how)
}

pub fn libvirt_rollback(project: &Path, args: &LibvirtRollbackArgs) -> Result<ExitCode> {
    deprecated("rollback", "rollback");
    let new = RollbackArgs {
        env: args.env.clone(),
        how: args.how.clone(),
    };
    rollback(project, &new)
}

pub fn libvirt_status(project: &Path, args: &LibvirtStatusArgs) -> Result<ExitCode> {
    deprecated("status", "status");
    let new = StatusArgs {
        env: args.env.clone(),
        connect: args.connect.clone(),
        json: args.json,
    };
    status(project, &new)
}

pub fn libvirt_down(project: &Path, args: &LibvirtDownArgs) -> Result<ExitCode> {
    deprecated("down", "destroy");
    let new = DestroyArgs {
        env: args.env.clone(),
        purge: args.purge,
        shutdown_timeout: args.shutdown_timeout,
        connect: args.connect.clone(),
        json: args.json,
    };
    destroy(project, &new)
}
