//! The per-environment secrets file: where an operator keeps an
//! environment's secrets between builds without committing them, so that
//! the next release can still log in to the database and Grafana that kept
//! their passwords on the data volume (MySQL and Grafana set them only on
//! first start).
//!
//! `$TORRUST_BAKE_SECRETS_DIR/<env>.env`, by default
//! `$XDG_CONFIG_HOME/torrust-bake/secrets/` or `~/.config/torrust-bake/secrets/`:
//! outside the repository, 0600, the env-file syntax. Read after the process
//! environment and before `environments/<env>.env`. `secrets init` creates
//! it with strong random values; it never changes a value that is there.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;

use super::load::{self, Assignment, Source};
use super::report::{Problem, Report};
use super::vars::{Kind, VarId, VARS};

/// The variable that names where secrets files go.
pub const DIR_VAR: &str = "TORRUST_BAKE_SECRETS_DIR";

/// The directory of secrets files, from the process environment.
pub fn dir(process: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    dir_from(process).map(|(d, _)| d)
}

/// The directory and the variable it came from.
fn dir_from(process: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, &'static str)> {
    let set = |name: &'static str| {
        process(name)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), name))
    };
    set(DIR_VAR)
        .or_else(|| set("XDG_CONFIG_HOME").map(|(d, n)| (d.join("torrust-bake/secrets"), n)))
        .or_else(|| set("HOME").map(|(d, n)| (d.join(".config/torrust-bake/secrets"), n)))
}

/// `(message, fix)` when `env`'s secrets file, as the process environment
/// places it, would be inside the project directory (it would be committed
/// with the project: `TORRUST_BAKE_SECRETS_DIR=environments` made `secrets
/// init` append secrets to the tracked environments/<env>.env), or in any
/// project's `environments/` directory, where `<env>.env` is an environment
/// file. Paths are compared as they will be opened: relative to the
/// current directory, links followed as far as they exist.
pub fn refused(
    project: &Path,
    env: &str,
    process: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let (dir, from) = dir_from(process)?;
    let file = resolved(&path(&dir, env));
    let project = resolved(project);
    let fix = format!("set {DIR_VAR} to a directory outside the project and outside any environments/ directory, e.g. {DIR_VAR}=~/.config/torrust-bake/secrets (the default)");
    let named = if from == DIR_VAR {
        format!("{DIR_VAR}={}", dir.display())
    } else {
        format!("{}, from {from}", dir.display())
    };
    if file.starts_with(&project) {
        return Some((
            format!(
                "the secrets file would be {}, inside the project directory {} ({named}), where it could be committed",
                file.display(),
                project.display()
            ),
            fix,
        ));
    }
    if file.parent().and_then(Path::file_name) == Some("environments".as_ref()) {
        return Some((
            format!(
                "the secrets file would be {}, an environment file of the project around it ({named})",
                file.display()
            ),
            fix,
        ));
    }
    None
}

/// `path` made absolute (against the current directory) with its longest
/// existing part canonicalized (links followed) and the rest, which does
/// not exist yet, appended lexically.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut existing = absolute.as_path();
    let base = loop {
        if let Ok(real) = fs::canonicalize(existing) {
            break real;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            // `..` at the end, or the root itself: lexical from here.
            _ => break existing.to_path_buf(),
        }
    };
    let mut out = base;
    for part in rest.into_iter().rev() {
        out.push(part);
    }
    out
}

pub fn path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{env}.env"))
}

/// The file's assignments; none when it does not exist. Problems (mode,
/// syntax, a variable that is not a secret) go to `report`.
pub fn read(path: &Path, report: &mut Report) -> Vec<Assignment> {
    let source = |line| Source::SecretsFile {
        path: path.to_path_buf(),
        line,
    };
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            let fix =
                "fix its permissions (chmod 600), or remove it and run `torrust-bake secrets init`";
            report.push(Problem::error(
                None,
                source(0),
                format!("cannot read the secrets file: {e}"),
                fix,
            ));
            return Vec::new();
        }
    };
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            report.push(Problem::error(
                None,
                source(0),
                format!("the secrets file is readable by others (mode {mode:04o})"),
                &format!("chmod 600 {}", path.display()),
            ));
        }
    }
    let mut assignments = load::parse_env_file(path, &text, report);
    for problem in report.problems.iter_mut() {
        // parse_env_file names the file as an environment file.
        if let Source::File { path: p, line } = &problem.source {
            if p == path {
                problem.source = source(*line);
            }
        }
    }
    assignments.retain(|a| match super::vars::find(&a.name) {
        Some(v) if v.is_secret() => true,
        Some(_) => {
            report.push(Problem::warning(
                Some(a.name.clone()),
                source(a.line),
                "is not a secret; the secrets file holds secrets only, so it is ignored here"
                    .into(),
                "move it to environments/<env>.env",
            ));
            false
        }
        None => {
            // A typo here would silently leave a secret at its default.
            report.push(load::unknown(a, source(a.line), true));
            false
        }
    });
    assignments
}

/// A strong random value: 33 random bytes in base64 (44 characters), as
/// `openssl rand -base64 33` makes.
fn random_value() -> Result<String> {
    let mut bytes = [0u8; 33];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The secrets an environment needs: its token, Grafana's password, the
/// release key, MySQL's passwords when its database URL is MySQL, and the
/// backup repository's password when it has one (an s3: repository's keys
/// come from its provider: never made up).
pub fn wanted(database_url: &str, backup_repository: bool) -> Vec<VarId> {
    let mysql = database_url.starts_with("mysql://");
    let bundled =
        mysql && url::Url::parse(database_url).is_ok_and(|u| u.host_str() == Some("mysql"));
    VARS.iter()
        .filter(|v| matches!(v.kind, Kind::Secret { .. }))
        .map(|v| v.id)
        .filter(|id| match id {
            VarId::MYSQL_PASSWORD => mysql,
            VarId::MYSQL_ROOT_PASSWORD => bundled,
            VarId::BACKUP_PASSWORD => backup_repository,
            VarId::BACKUP_S3_ACCESS_KEY_ID | VarId::BACKUP_S3_SECRET_ACCESS_KEY => false,
            _ => true,
        })
        .collect()
}

/// Adds a random value for every wanted secret the file lacks; existing
/// lines are kept byte for byte. Written atomically, 0600. Returns the
/// names it added.
/// `in_use`: the value a secret has now from the process environment, which
/// is kept rather than replaced (a database on a data volume still has it).
pub fn init(
    path: &Path,
    env: &str,
    wanted: &[VarId],
    in_use: &dyn Fn(VarId) -> Option<String>,
) -> Result<Vec<&'static str>> {
    let existing = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut report = Report::default();
    let present: Vec<String> = load::parse_env_file(path, &existing, &mut report)
        .into_iter()
        .map(|a| a.name)
        .collect();
    if report.has_errors() {
        return Err(crate::error::Error::invalid(format!(
            "{} has malformed lines; fix them first (see `torrust-bake check {env}`)",
            path.display()
        ))
        .into());
    }
    let mut text = existing.clone();
    if text.is_empty() {
        text.push_str(&format!(
            "# torrust-bake secrets of {env}: keep this file 0600 and out of git.\n# Rotation is deliberate: see the README, \"Secrets\".\n"
        ));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut added = Vec::new();
    for id in wanted {
        if !present.iter().any(|p| p == id.name()) {
            let value = match in_use(*id) {
                Some(v) => quoted(&v),
                None => format!("'{}'", random_value()?),
            };
            text.push_str(&format!("{}={value}\n", id.name()));
            added.push(id.name());
        }
    }
    if !added.is_empty() {
        write_private(path, text.as_bytes())?;
    }
    Ok(added)
}

/// A value as an env-file line writes it: single quotes when it has none,
/// else double quotes with `\`, `"`, `$` and newlines escaped.
fn quoted(value: &str) -> String {
    if !value.contains('\'') && !value.contains('\n') {
        return format!("'{value}'");
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `bytes` to `path` (the file a symlink points to, if it is one)
/// through a fresh 0600 temporary file in the same directory.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)
            .with_context(|| format!("following the symlink {}", path.display()))?,
        _ => path.to_path_buf(),
    };
    let dir = target
        .parent()
        .context("the secrets file has no directory")?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".secrets-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(&target)
        .with_context(|| format!("renaming into {}", target.display()))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_read_back_as_they_were() {
        for value in ["plain", "it's", "a\"b$c\\d", "two\nlines", "#hash"] {
            let line = format!("X={}\n", quoted(value));
            let mut report = Report::default();
            let read = load::parse_env_file(Path::new("x"), &line, &mut report);
            assert!(
                report.problems.is_empty(),
                "{value:?}: {:?}",
                report.problems
            );
            assert_eq!(read[0].value, value);
        }
    }

    #[test]
    fn init_keeps_values_in_use_and_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.env");
        std::fs::write(&vault, "GRAFANA_ADMIN_PASSWORD='kept-as-is'\n").unwrap();
        std::fs::set_permissions(&vault, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("production.env");
        std::os::unix::fs::symlink(&vault, &link).unwrap();
        let in_use = |id: VarId| {
            (id == VarId::TORRUST_TRACKER_API_TOKEN).then(|| "exported-token".to_string())
        };
        let wanted = [
            VarId::TORRUST_TRACKER_API_TOKEN,
            VarId::GRAFANA_ADMIN_PASSWORD,
            VarId::TORRUST_BAKE_RELEASE_KEY,
        ];
        let added = init(&link, "production", &wanted, &in_use).unwrap();
        assert_eq!(
            added,
            vec!["TORRUST_TRACKER_API_TOKEN", "TORRUST_BAKE_RELEASE_KEY"]
        );
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let text = fs::read_to_string(&vault).unwrap();
        assert!(text.starts_with("GRAFANA_ADMIN_PASSWORD='kept-as-is'\n"));
        assert!(text.contains("TORRUST_TRACKER_API_TOKEN='exported-token'\n"));
        assert_eq!(
            fs::metadata(&vault).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
