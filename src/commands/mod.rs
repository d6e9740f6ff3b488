//! The commands: glue between the library and the terminal, one file per
//! group (config, release, releases, images, health, deploy, the deprecated
//! libvirt aliases, docs, the hidden test-support `probe`). Parse -> call the
//! library -> print; nothing else. Human output goes to stdout, progress and
//! problems to stderr; `--json` puts one JSON document on stdout.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::{
    BuildArgs, CheckArgs, CompletionsArgs, DiffArgs, HealthArgs, ImagesVerifyArgs, PinArgs,
    RegistryArgs, SecretsInitArgs, ShowArgs, VerifyArgs,
};
use crate::config::{self, Config, Report};
use crate::digest::Key;
use crate::error::Error;
use crate::images::{self, Pinned};
use crate::release::{self, Written};
use crate::render;
use crate::version::Version;

mod backup_cmds;
mod config_cmds;
mod deploy_cmds;
mod docs;
mod health;
mod images_cmds;
mod libvirt_cmds;
mod probe;
mod release_cmds;
mod releases_cmds;

pub use backup_cmds::*;
pub use config_cmds::*;
pub use deploy_cmds::*;
pub use docs::*;
pub use health::*;
pub use images_cmds::*;
pub use libvirt_cmds::*;
pub use probe::*;
pub use release_cmds::*;
pub use releases_cmds::*;

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Loads and validates the environment and its images.
fn load_all(project: &Path, env: &str) -> (Report, Option<(Config, Pinned)>) {
    load_all_with(project, env, &config::process_env)
}

/// As `load_all`, with `process` as the process environment (a flag that
/// stands for a variable: `deploy --restore`).
fn load_all_with(
    project: &Path,
    env: &str,
    process: &dyn Fn(&str) -> Option<String>,
) -> (Report, Option<(Config, Pinned)>) {
    let loaded = config::load(project, env, process);
    let mut report = loaded.report;
    let Some(config) = loaded.config else {
        // Every problem at once: when only secrets are missing, the image
        // lock can still be checked against what the environment runs.
        // Validated again from the values already read, its own report
        // dropped: every problem in it is in `report` already.
        let layout = config::validate::Purpose::Layout;
        if let (Some(raw), Some(environment)) = (&loaded.raw, &loaded.environment) {
            let mut again = Report::default();
            if let Some(c) = config::validate::validate(environment, raw, layout, &mut again) {
                images::resolve(project, &c, &mut report);
            }
        }
        return (report, None);
    };
    let images = images::resolve(project, &config, &mut report);
    if report.has_errors() {
        return (report, None);
    }
    (report, Some((config, images)))
}

/// The JSON of a command that problems stopped: the one error shape
/// (`ok`, `error`, `exit_code`), with the problems themselves.
fn failure_json(report: &Report) -> serde_json::Value {
    let errors = report.errors();
    serde_json::json!({
        "ok": false,
        "error": format!("{errors} error(s) in the configuration (see problems)"),
        "exit_code": 1,
        "problems": report.json(),
    })
}

/// Prints the problems that stopped a command; exit code 1.
fn report_failure(report: &Report, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&failure_json(report))?;
    } else {
        errln!("{report}");
    }
    Ok(ExitCode::from(1))
}

/// Refuses a name that is not an environment of `project` (a bad name, or
/// no file), before it becomes part of a path.
/// For commands that clean up or inspect what an environment left behind
/// (releases, VMs): a valid name is enough, so deleting `environments/<env>.env`
/// does not strand its releases or domains.
fn named_env(env: &str) -> Result<()> {
    if config::environment::valid_name(env) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "'{env}' is not an environment name ({})",
        config::environment::NAME_RULE
    ))
    .into())
}

/// An environment a command about releases may name: one with an env
/// file, or one whose file was deleted while its releases remain (said on
/// stderr); any other name is refused as `known_env` refuses it (#29 item
/// 4: `verify prod` suggested a build that then failed, `releases list
/// prod` said "no releases" and exited 0).
fn env_with_releases(project: &Path, env: &str) -> Result<()> {
    named_env(env)?;
    if config::unknown_environment(project, env).is_none() {
        return Ok(());
    }
    if crate::release::store::env_dir(project, env).is_dir() {
        errln!("{env}: environments/{env}.env does not exist; working on the releases left under releases/{env}/");
        return Ok(());
    }
    known_env(project, env)
}

/// For the commands that clean up after a deleted env file (`status`,
/// `destroy`): any valid name, saying so when it has no file.
fn env_or_leftovers(project: &Path, env: &str) -> Result<()> {
    named_env(env)?;
    if config::unknown_environment(project, env).is_some() {
        errln!("{env}: environments/{env}.env does not exist; looking for its VMs anyway (a deleted env file must not strand them)");
    }
    Ok(())
}

/// The project directory: `-C DIR` or the current directory, else the
/// nearest directory above it with an `environments/` directory, as git
/// and cargo look upward (#29 item 5: run from `src/`, `build local` said
/// to restore `environments/local.env` from git).
pub fn project_root(given: Option<&Path>) -> Result<std::path::PathBuf> {
    let start = given.unwrap_or(Path::new("."));
    if !start.is_dir() {
        return Err(Error::invalid(format!(
            "-C {}: no such directory; pass the project's directory (the one holding environments/)",
            start.display()
        ))
        .into());
    }
    let abs = start
        .canonicalize()
        .with_context(|| format!("resolving {}", start.display()))?;
    for dir in abs.ancestors() {
        // images/images.lock alone is a project too: `images pin` needs no more.
        if dir.join("environments").is_dir() || dir.join("images/images.lock").is_file() {
            // The directory as given when it is the project (messages keep
            // its relative paths), else the one found.
            return Ok(if dir == abs {
                start.to_path_buf()
            } else {
                dir.to_path_buf()
            });
        }
    }
    Err(Error::invalid(format!(
        "not inside a torrust-bake project: no environments/ directory (or images/images.lock) in {} or any directory above it; run torrust-bake from the project (or a directory in it), or pass -C DIR",
        abs.display()
    ))
    .into())
}

fn known_env(project: &Path, env: &str) -> Result<()> {
    match config::unknown_environment(project, env) {
        Some((message, fix)) => Err(Error::invalid(format!("{message}; {fix}")).into()),
        None => Ok(()),
    }
}
