//! `check`, `show` and `secrets`: an environment's configuration.

use super::*;

pub fn check(project: &Path, args: &CheckArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    let (report, ok) = load_all(project, env);
    if json {
        match ok {
            Some(_) => print_json(&serde_json::json!({ "ok": true, "problems": report.json() }))?,
            None => print_json(&failure_json(&report))?,
        }
    } else if report.problems.is_empty() {
        outln!("{env}: ok, no problems");
    } else {
        errln!("{report}");
        if ok.is_some() {
            outln!("{env}: ok (with warnings)");
        }
    }
    Ok(if ok.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
struct ShownVar<'a> {
    name: &'a str,
    value: String,
    secret: bool,
    source: String,
}

const REDACTED: &str = "********";

/// A value with any URL password masked: validation refuses a database URL
/// that carries one, and `show` must not print it either.
fn without_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            u.to_string()
        }
        _ => value.to_string(),
    }
}

pub fn show(project: &Path, args: &ShowArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    let loaded = config::load(project, env, &config::process_env);
    let (Some(raw), Some(environment)) = (&loaded.raw, &loaded.environment) else {
        return report_failure(&loaded.report, json);
    };
    let shown = shown_vars(raw, environment);
    let lock = images::env_lock::lock_of(project, env);
    if json {
        print_json(&serde_json::json!({
            "env": env,
            "strictness": {
                "value": environment.strictness,
                "source": environment.strictness_source(),
            },
            "image_lock": lock,
            "variables": shown,
            "problems": loaded.report.json(),
        }))?;
    } else {
        outln!(
            "strictness: {} ({})",
            environment.strictness,
            environment.strictness_source()
        );
        outln!("image lock: {lock}\n");
        print_vars(&shown);
        if !loaded.report.problems.is_empty() {
            errln!("\n{}", loaded.report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every variable as `show` prints it. TORRUST_BAKE_STRICTNESS shows the
/// strictness in force and where it came from (a built-in environment's
/// own, when no line sets it), not only what a line says.
fn shown_vars<'a>(
    raw: &'a config::RawValues,
    environment: &config::Environment,
) -> Vec<ShownVar<'a>> {
    raw.iter()
        .map(|(v, r)| {
            if v.id == config::vars::VarId::TORRUST_BAKE_STRICTNESS {
                return ShownVar {
                    name: v.name,
                    value: environment.strictness.to_string(),
                    secret: false,
                    source: environment.strictness_source(),
                };
            }
            let value = match (v.is_secret(), r.value.is_empty()) {
                (_, true) => String::new(),
                (true, false) => REDACTED.to_string(),
                (false, false) => without_password(&r.value),
            };
            ShownVar {
                name: v.name,
                value,
                secret: v.is_secret(),
                source: r.source.to_string(),
            }
        })
        .collect()
}

fn print_vars(shown: &[ShownVar]) {
    let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let vwidth = shown
        .iter()
        .map(|s| s.value.chars().count().min(40))
        .max()
        .unwrap_or(0)
        .max(7);
    for s in shown {
        let value = if s.value.is_empty() {
            "(unset)"
        } else {
            &s.value
        };
        outln!("{:width$}  {:vwidth$}  {}", s.name, value, s.source);
    }
}

/// The environment's secrets file, from the process environment.
fn secrets_file_of(project: &Path, env: &str) -> Result<std::path::PathBuf> {
    known_env(project, env)?;
    let dir = config::secrets_file::dir(&config::process_env).ok_or_else(|| {
        Error::invalid("no place for secrets files: set TORRUST_BAKE_SECRETS_DIR (or HOME)")
    })?;
    if let Some((message, fix)) = config::secrets_file::refused(project, env, &config::process_env)
    {
        return Err(Error::invalid(format!("{message}; {fix}")).into());
    }
    Ok(config::secrets_file::path(&dir, env))
}

pub fn secrets_path(project: &Path, args: &SecretsInitArgs, json: bool) -> Result<ExitCode> {
    let path = secrets_file_of(project, &args.env)?;
    if json {
        print_json(&serde_json::json!({ "env": args.env, "path": path, "exists": path.exists() }))?;
    } else {
        outln!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn secrets_init(project: &Path, args: &SecretsInitArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    let path = secrets_file_of(project, env)?;
    let loaded = config::load(project, env, &config::process_env);
    let url = loaded
        .raw
        .as_ref()
        .map(|raw| {
            raw[config::vars::VarId::TORRUST_TRACKER_DATABASE_URL]
                .value
                .clone()
        })
        .unwrap_or_default();
    // A secret the process environment sets now is kept, not replaced:
    // MySQL and Grafana may already use it on the data volume.
    let raw = loaded.raw.as_ref();
    let in_use = |id: config::vars::VarId| {
        raw.map(|r| &r[id])
            .filter(|r| r.source == config::Source::Process && !r.value.is_empty())
            .map(|r| r.value.clone())
    };
    let repository = loaded
        .raw
        .as_ref()
        .is_some_and(|raw| !raw[config::vars::VarId::BACKUP_REPOSITORY].value.is_empty());
    let wanted = config::secrets_file::wanted(&url, repository);
    let added = config::secrets_file::init(&path, env, &wanted, &in_use)?;
    // A file others can read was kept as it was; `check` refuses it (#29
    // item 8: this said "nothing changed", and the build then failed).
    let open_mode = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
            .filter(|mode| mode & 0o077 != 0)
    };
    let next = next_step(project, env);
    if json {
        print_json(&serde_json::json!({
            "env": env, "path": path, "added": added, "next": next,
            "readable_by_others": open_mode.is_some(),
        }))?;
    } else if added.is_empty() {
        outln!(
            "{}: every secret {env} needs is already there; nothing changed; next: {next}",
            path.display()
        );
    } else {
        outln!(
            "{}: added {} (0600); back it up, then: {next}",
            path.display(),
            added.join(", ")
        );
    }
    if let Some(mode) = open_mode {
        errln!(
            "{}: readable by others (mode {mode:04o}), which `check` and `build` refuse: chmod 600 {}",
            path.display(),
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What to run after `secrets init`: `build`, or first `images pin` when
/// the environment's lock leaves an image unpinned that it must pin (#29
/// item 2: the documented production path said build, which then failed).
fn next_step(project: &Path, env: &str) -> String {
    let build = format!("torrust-bake build {env}");
    let loaded = config::load(project, env, &config::process_env);
    let Some(config) = loaded.config else {
        let errors: Vec<&config::Problem> = loaded
            .report
            .problems
            .iter()
            .filter(|p| p.severity == config::report::Severity::Error)
            .collect();
        let first = errors
            .first()
            .map(|p| {
                format!(
                    ", first: {}: {}",
                    p.variable.as_deref().unwrap_or(env),
                    p.message
                )
            })
            .unwrap_or_default();
        return format!(
            "torrust-bake check {env} ({} problem(s) to fix before a build{first}), then {build}",
            errors.len()
        );
    };
    let mut report = config::Report::default();
    crate::images::resolve(project, &config, &mut report);
    // The lock's own fix: `run `torrust-bake images pin tracker` on a
    // machine that reaches the registry`.
    match report
        .problems
        .iter()
        .find(|p| p.message.contains("is not pinned by digest"))
    {
        Some(p) => format!("{} ({}), then {build}", p.fix, p.message),
        None => build,
    }
}
