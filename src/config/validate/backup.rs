//! Backup rules: a repository the VM can reach with what it is given
//! (a password always; an s3: repository's keys; an sftp: server's key
//! and known_hosts), credentials that change nothing warned about, a
//! restore only from a repository onto a data volume, and, in a strict
//! environment, a plain word that backups without a repository die with
//! the volume they sit on. The release backs up SQLite; MySQL's dump
//! comes with the production stack.

use super::Checker;
use crate::config::backup::{parse_repository, valid_snapshot, Backend, Backup, Repository};
use crate::config::types::Database;
use crate::config::vars::VarId::{self, *};

pub(super) fn check(c: &mut Checker, database: Option<&Database>) {
    let repository = repository(c);
    let sqlite = matches!(database, Some(Database::Sqlite { .. }));
    if database.is_some() && !sqlite && c.is_set(BACKUP_REPOSITORY) {
        c.warn(
            BACKUP_REPOSITORY,
            "is not used: the release backs up an SQLite database only, and this environment's is MySQL, which nothing backs up yet".into(),
            "back MySQL up yourself (mysqldump --single-transaction) until the release does",
        );
    } else if sqlite && c.env.is_strict() && !c.is_set(BACKUP_REPOSITORY) {
        c.warn(
            BACKUP_REPOSITORY,
            "is not set: backups stay on the data volume, and a lost volume takes them with it"
                .into(),
            "set BACKUP_REPOSITORY to a repository off the VM (README, \"Backups\")",
        );
    }
    credentials(c, repository.as_ref());
    restore(c, repository.is_some(), sqlite);
}

/// The repository, parsed; its problems reported.
fn repository(c: &mut Checker) -> Option<Repository> {
    let url = c.opt(BACKUP_REPOSITORY)?;
    let repo = match parse_repository(&url) {
        Ok(r) => r,
        Err((message, fix)) => {
            c.fail(BACKUP_REPOSITORY, message, &fix);
            return None;
        }
    };
    let plain = matches!(
        repo.backend,
        Backend::S3 { plain_http: true } | Backend::Rest { plain_http: true }
    );
    if plain && c.env.is_strict() {
        let env = c.env.to_string();
        c.fail(
            BACKUP_REPOSITORY,
            format!("is plain HTTP, not allowed in {env}, a strict environment"),
            "serve the repository over https://",
        );
    }
    Some(repo)
}

/// What the repository needs is set; what it does not use is warned about.
fn credentials(c: &mut Checker, repository: Option<&Repository>) {
    let needs = |id: VarId| match (repository.map(|r| &r.backend), id) {
        (None, _) => false,
        (Some(_), BACKUP_PASSWORD) => true,
        (Some(Backend::S3 { .. }), BACKUP_S3_ACCESS_KEY_ID | BACKUP_S3_SECRET_ACCESS_KEY) => true,
        (Some(Backend::Sftp(_)), BACKUP_SFTP_KEY_FILE | BACKUP_SFTP_KNOWN_HOSTS_FILE) => true,
        _ => false,
    };
    let env = c.env.to_string();
    for id in [
        BACKUP_PASSWORD,
        BACKUP_S3_ACCESS_KEY_ID,
        BACKUP_S3_SECRET_ACCESS_KEY,
        BACKUP_SFTP_KEY_FILE,
        BACKUP_SFTP_KNOWN_HOSTS_FILE,
    ] {
        let secret = id.var().is_secret();
        let set = c.is_set(id);
        if needs(id) && !set && (!secret || c.secret_needed(id)) {
            let fix = if id == BACKUP_PASSWORD {
                format!("run `torrust-bake secrets init {env}` (it makes one), and keep a copy away from this machine")
            } else if secret {
                format!(
                    "put it in the secrets file (`torrust-bake secrets path {env}`) or export it"
                )
            } else {
                format!("set it in environments/{env}.env ({})", id.var().help)
            };
            c.fail(
                id,
                "is required with this BACKUP_REPOSITORY and not set".into(),
                &fix,
            );
        } else if set && !needs(id) {
            c.warn(
                id,
                "changes nothing with this BACKUP_REPOSITORY".into(),
                "remove it, or set the repository it belongs to",
            );
        }
    }
}

fn restore(c: &mut Checker, repository: bool, sqlite: bool) {
    let Some(snapshot) = c.opt(BACKUP_RESTORE_SNAPSHOT) else {
        return;
    };
    if !valid_snapshot(&snapshot) {
        c.fail(
            BACKUP_RESTORE_SNAPSHOT,
            format!("'{snapshot}' is not a snapshot"),
            "write latest, or a snapshot id as `torrust-bake backup list` shows it (8 to 64 hex digits)",
        );
    }
    let why = if !repository {
        "restores from BACKUP_REPOSITORY, which is not set"
    } else if !sqlite {
        "restores an SQLite database, and this environment's is MySQL"
    } else if !c.is_set(INFRASTRUCTURE_DATA_VOLUME) {
        "restores onto the data volume, and INFRASTRUCTURE_DATA_VOLUME is empty"
    } else {
        return;
    };
    c.fail(
        BACKUP_RESTORE_SNAPSHOT,
        why.into(),
        "set what it needs, or deploy without --restore",
    );
}

pub(super) fn build(c: &Checker, database: &Database) -> Backup {
    let schedule = c.text(BACKUP_SCHEDULE);
    Backup {
        // On the data volume: a file outside it (lenient only) is not backed up.
        enabled: matches!(database, Database::Sqlite { path } if path.starts_with("/var/lib/torrust/tracker/")),
        schedule: (schedule != "off").then_some(schedule),
        keep: c.number(BACKUP_KEEP),
        sqlite_method: c.text(BACKUP_SQLITE_METHOD),
        handover_timeout_secs: c.number(BACKUP_HANDOVER_TIMEOUT_SECS),
        // Parsed by `check`, which passed.
        repository: c
            .opt(BACKUP_REPOSITORY)
            .and_then(|u| parse_repository(&u).ok()),
        restore: c.opt(BACKUP_RESTORE_SNAPSHOT),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use crate::config::vars::VarId::*;

    #[test]
    fn a_repository_needs_its_credentials() {
        let (_, r) = run(
            "local",
            &[(BACKUP_REPOSITORY, "s3:https://s3.example.org/b")],
        );
        for id in [
            BACKUP_PASSWORD,
            BACKUP_S3_ACCESS_KEY_ID,
            BACKUP_S3_SECRET_ACCESS_KEY,
        ] {
            let got = about(&r, id);
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].starts_with("Error: is required with this BACKUP_REPOSITORY"));
        }
        let (_, r) = run(
            "local",
            &[
                (BACKUP_REPOSITORY, "sftp:u@h:/r"),
                (BACKUP_PASSWORD, "a-long-enough-password"),
            ],
        );
        assert_eq!(about(&r, BACKUP_SFTP_KEY_FILE).len(), 1);
        assert_eq!(about(&r, BACKUP_SFTP_KNOWN_HOSTS_FILE).len(), 1);
        assert!(about(&r, BACKUP_PASSWORD).is_empty());
    }

    #[test]
    fn unused_credentials_are_warned_about() {
        let (c, r) = run("local", &[(BACKUP_PASSWORD, "a-long-enough-password")]);
        assert!(c.is_some());
        assert_eq!(
            about(&r, BACKUP_PASSWORD),
            ["Warning: changes nothing with this BACKUP_REPOSITORY | remove it, or set the repository it belongs to | environments/local.env:1"]
        );
    }

    #[test]
    fn a_restore_needs_a_repository_and_a_snapshot() {
        let (_, r) = run("local", &[(BACKUP_RESTORE_SNAPSHOT, "latest")]);
        assert!(
            about(&r, BACKUP_RESTORE_SNAPSHOT)[0].contains("BACKUP_REPOSITORY, which is not set")
        );
        let (_, r) = run(
            "local",
            &[
                (BACKUP_REPOSITORY, "rest:http://10.0.0.1:8000/"),
                (BACKUP_PASSWORD, "a-long-enough-password"),
                (BACKUP_RESTORE_SNAPSHOT, "last"),
            ],
        );
        assert!(about(&r, BACKUP_RESTORE_SNAPSHOT)[0].contains("'last' is not a snapshot"));
        let c = config(&[
            (BACKUP_REPOSITORY, "rest:http://10.0.0.1:8000/"),
            (BACKUP_PASSWORD, "a-long-enough-password"),
            (BACKUP_RESTORE_SNAPSHOT, "latest"),
            (BACKUP_SCHEDULE, "off"),
        ]);
        assert_eq!(c.backup.restore.as_deref(), Some("latest"));
        assert_eq!(c.backup.schedule, None);
        assert!(c.backup.enabled);
    }

    #[test]
    fn a_bad_repository_names_the_forms() {
        let (_, r) = run("local", &[(BACKUP_REPOSITORY, "/srv/restic")]);
        assert_eq!(about(&r, BACKUP_REPOSITORY).len(), 1);
        assert!(about(&r, BACKUP_REPOSITORY)[0].contains("sftp:user@host:/path"));
    }
}
