//! Configuration: the variable table, loading with provenance, validation.
//! Precedence, highest first: process environment, `environments/<env>.env`,
//! built-in default.

pub mod load;
pub mod model;
pub mod provider;
pub mod report;
pub mod secrets_file;
pub mod types;
pub mod validate;
pub mod vars;

use std::path::{Path, PathBuf};

pub use load::{RawValues, Source};
pub use model::Config;
pub use report::{Problem, Report};
pub use types::Environment;

/// Everything `check`, `show` and `build` need from one environment.
pub struct Loaded {
    pub report: Report,
    /// Resolved raw values; `None` when the environment itself is unusable.
    pub raw: Option<RawValues>,
    /// The typed configuration; `None` when any error was found.
    pub config: Option<Config>,
}

pub fn env_file(project: &Path, env: &str) -> PathBuf {
    project.join("environments").join(format!("{env}.env"))
}

/// `(message, fix)` when `env` is not an environment torrust-bake knows.
pub fn unknown_environment(env: &str) -> Option<(String, String)> {
    (!vars::ENVIRONMENTS.contains(&env)).then(|| {
        (
            format!("unknown environment '{env}'"),
            format!("use one of: {}", vars::ENVIRONMENTS.join(", ")),
        )
    })
}

/// Loads and validates `env`, reading the process environment through `process`.
pub fn load(project: &Path, env: &str, process: &dyn Fn(&str) -> Option<String>) -> Loaded {
    let mut report = Report::default();
    let rel = env_file(Path::new(""), env);
    if let Some((message, fix)) = unknown_environment(env) {
        report.push(Problem::error(None, Source::Default, message, &fix));
        return Loaded {
            report,
            raw: None,
            config: None,
        };
    }
    let text = match std::fs::read_to_string(env_file(project, env)) {
        Ok(t) => t,
        Err(e) => {
            report.push(Problem::error(
                None,
                Source::File {
                    path: rel.clone(),
                    line: 0,
                },
                format!("cannot read the environment file: {e}"),
                &format!(
                    "create {} (copy environments/local.env as a start), or run from the project directory (-C DIR)",
                    rel.display()
                ),
            ));
            return Loaded {
                report,
                raw: None,
                config: None,
            };
        }
    };
    let assignments = load::parse_env_file(&rel, &text, &mut report);
    let secrets_path = secrets_file::dir(process).map(|d| secrets_file::path(&d, env));
    let secrets = secrets_path
        .as_deref()
        .map(|p| (p, secrets_file::read(p, &mut report)));
    let raw = load::resolve(
        &rel,
        &assignments,
        secrets.as_ref().map(|(p, a)| (*p, a.as_slice())),
        process,
        &mut report,
    );
    let config = match Environment::named(env) {
        Some(environment) => validate::validate(&environment, &raw, &mut report),
        None => None,
    };
    Loaded {
        report,
        raw: Some(raw),
        config,
    }
}

/// The real process environment; empty values count as set-to-empty.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
