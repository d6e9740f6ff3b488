//! Configuration: the variable table, loading with provenance, validation.
//! Precedence, highest first: process environment, `environments/<env>.env`,
//! built-in default.

pub mod backup;
pub mod ca_files;
pub mod ca_pem;
pub mod environment;
pub mod load;
pub mod model;
pub mod provider;
pub mod report;
pub mod secrets_file;
pub mod source;
pub mod strictness;
pub mod types;
pub mod validate;
pub mod vars;

use std::path::{Path, PathBuf};

pub use environment::{Environment, Strictness};
pub use load::{RawValues, Source};
pub use model::{Config, BOOT_STATUS_PORT};
pub use report::{Problem, Report};

/// Everything `check`, `show` and `build` need from one environment.
pub struct Loaded {
    pub report: Report,
    /// The environment with its strictness; `None` when it is unusable.
    pub environment: Option<Environment>,
    /// Resolved raw values; `None` when the environment itself is unusable.
    pub raw: Option<RawValues>,
    /// The typed configuration; `None` when any error was found.
    pub config: Option<Config>,
}

pub fn env_file(project: &Path, env: &str) -> PathBuf {
    project.join(environment::file(env))
}

/// `(message, fix)` when `env` is not an environment of `project`.
pub fn unknown_environment(project: &Path, env: &str) -> Option<(String, String)> {
    environment::unknown(project, env)
}

/// An environment file is configuration, not data: anything larger is a
/// mistake (a pasted dump, a wrong file), refused before it is parsed.
const MAX_ENV_FILE: u64 = 1 << 20;

/// The environment file's text, or the problem that stops loading: not
/// there, not a regular file (a FIFO would hang the read), too large, not
/// UTF-8. A UTF-8 byte-order mark is dropped.
fn read_env_file(project: &Path, env: &str) -> Result<String, (String, String)> {
    let path = env_file(project, env);
    let shown = path.display();
    let meta = std::fs::metadata(&path).map_err(|e| {
        let fix = if e.kind() != std::io::ErrorKind::NotFound {
            format!("make {shown} readable")
        } else if env == "local" {
            "restore environments/local.env from git, or run from the project directory (-C DIR)".into()
        } else {
            format!("copy environments/local.env to environments/{env}.env and edit it, or run from the project directory (-C DIR)")
        };
        (format!("cannot read {shown}: {e}"), fix)
    })?;
    if !meta.is_file() {
        return Err((
            format!("{shown} is not a regular file"),
            "replace it with a text file of NAME=value lines".into(),
        ));
    }
    if meta.len() > MAX_ENV_FILE {
        return Err((
            format!(
                "{shown} is {} bytes; an environment file is at most 1 MiB",
                meta.len()
            ),
            "keep only NAME=value lines in it".into(),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| {
        (
            format!("cannot read {shown}: {e}"),
            format!("make {shown} readable"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        (
            format!(
                "{shown} is not UTF-8 text (byte {} is not)",
                e.utf8_error().valid_up_to()
            ),
            "save it as UTF-8".into(),
        )
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Variables of the table set in the process environment to bytes that are
/// not UTF-8: `process` cannot return them, and dropping them silently
/// would build something other than what the operator set.
fn non_utf8_process_vars(process: &dyn Fn(&str) -> Option<String>, report: &mut Report) {
    for var in &vars::VARS {
        let bad = process(var.name).is_none()
            && std::env::var_os(var.name).is_some_and(|v| v.to_str().is_none());
        if bad {
            report.push(Problem::error(
                Some(var.name.to_string()),
                Source::Process,
                "is not valid UTF-8".into(),
                &format!("set {} again as UTF-8 text, or unset it", var.name),
            ));
        }
    }
}

/// Loads and validates `env` to build it, reading the process environment
/// through `process`.
pub fn load(project: &Path, env: &str, process: &dyn Fn(&str) -> Option<String>) -> Loaded {
    load_for(project, env, process, validate::Purpose::Build)
}

/// Loads and validates `env` for `purpose`.
pub fn load_for(
    project: &Path,
    env: &str,
    process: &dyn Fn(&str) -> Option<String>,
    purpose: validate::Purpose,
) -> Loaded {
    let mut report = Report::default();
    let rel = env_file(Path::new(""), env);
    let failed = |report| Loaded {
        report,
        environment: None,
        raw: None,
        config: None,
    };
    if let Some((message, fix)) = unknown_environment(project, env) {
        report.push(Problem::error(None, Source::Default, message, &fix));
        return failed(report);
    }
    let text = match read_env_file(project, env) {
        Ok(t) => t,
        Err((message, fix)) => {
            let source = Source::File {
                path: rel.clone(),
                line: 0,
            };
            report.push(Problem::error(None, source, message, &fix));
            return failed(report);
        }
    };
    non_utf8_process_vars(process, &mut report);
    let assignments = load::parse_env_file(&rel, &text, &mut report);
    let Some(environment) = environment::resolve(env, &rel, &assignments, process, &mut report)
    else {
        return failed(report);
    };
    // Only names the process environment gives (`process`) count: the
    // names come from the real environment, which `process` stands for.
    let exported: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| process(name).is_some())
        .collect();
    load::unknown_exported(
        exported.iter().map(String::as_str),
        environment.is_strict(),
        &mut report,
    );
    // A secrets file in the project would be committed with it: neither
    // read nor written there.
    let refused = secrets_file::refused(project, env, process);
    if let Some((message, fix)) = &refused {
        report.push(Problem::error(
            Some(secrets_file::DIR_VAR.into()),
            Source::Process,
            message.clone(),
            fix,
        ));
    }
    let secrets_path = secrets_file::dir(process)
        .filter(|_| refused.is_none())
        .map(|d| secrets_file::path(&d, env));
    let secrets = secrets_path
        .as_deref()
        .map(|p| (p, secrets_file::read(p, &mut report)));
    let raw = load::resolve(
        &rel,
        &assignments,
        secrets.as_ref().map(|(p, a)| (*p, a.as_slice())),
        process,
        environment.is_strict(),
        &mut report,
    );
    let mut config = validate::validate(&environment, &raw, purpose, &mut report);
    // Only a release carries the CA; probing or stopping a VM needs no file.
    if purpose == validate::Purpose::Build {
        ca_files::attach(project, &raw, &mut config, &mut report);
        backup::attach(project, &raw, &mut config, &mut report);
    }
    Loaded {
        report,
        environment: Some(environment),
        raw: Some(raw),
        config,
    }
}

/// The real process environment; empty values count as set-to-empty.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
