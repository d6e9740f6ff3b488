//! The operator's side of the backups: the environment's restic
//! repository read from this machine (`backup list`), with the
//! credentials the release gives the VM (the repository's password, an
//! s3: repository's keys, an sftp: server's key and known_hosts from the
//! project). restic is run as a program (it has no library); its
//! environment is cleared of the operator's own `RESTIC_*` and `AWS_*`
//! settings so that what is read is the environment's repository, and
//! the secrets travel in the child's environment only, never on its
//! command line. Whatever restic says is passed on with every secret of
//! the environment blanked out.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::config::backup::{Backend, Repository};
use crate::config::Config;
use crate::error::{Error, Kind};

/// One snapshot of the environment's database, newest last (restic's order).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub short_id: String,
    pub id: String,
    pub time: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub hostname: String,
}

impl Snapshot {
    /// What made it: `handover` (an old VM's shutdown) or `scheduled`.
    pub fn kind(&self) -> &str {
        self.tags.first().map(String::as_str).unwrap_or("-")
    }
}

/// The environment's repository, or why it has none.
pub fn repository(config: &Config) -> Result<&Repository> {
    let env = config.env.as_str();
    if !config.backup.enabled {
        return Err(Error::not_found(format!(
            "{env}: the release backs up an SQLite database only, and {env}'s is MySQL: nothing backs it up yet"
        ))
        .into());
    }
    config.backup.repository.as_ref().ok_or_else(|| {
        Error::not_found(format!(
            "{env}: no BACKUP_REPOSITORY: backups stay on the data volume (/var/lib/torrust/backups on the VM) and die with it; set a repository off the VM (README, \"Backups\")"
        ))
        .into()
    })
}

/// Every snapshot of `config`'s environment in its repository.
pub fn list(project: &Path, config: &Config) -> Result<Vec<Snapshot>> {
    let repo = repository(config)?;
    let env = config.env.as_str();
    let mut cmd = restic(project, config, repo);
    cmd.args(["snapshots", "--json", "--host", env]);
    let out = run(cmd, config)?;
    serde_json::from_slice(&out).map_err(|e| {
        Error::new(
            Kind::Protocol,
            format!("restic snapshots said something that is not its JSON: {e}"),
        )
        .into()
    })
}

/// `restic` with the environment's repository and credentials.
fn restic(project: &Path, config: &Config, repo: &Repository) -> Command {
    let mut cmd = Command::new("restic");
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("RESTIC_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    let s = &config.secrets;
    cmd.env("RESTIC_REPOSITORY", &repo.url)
        .env(
            "RESTIC_PASSWORD",
            s.backup_password.as_deref().unwrap_or(""),
        )
        .arg("--no-cache");
    match &repo.backend {
        Backend::S3 { .. } => {
            cmd.env(
                "AWS_ACCESS_KEY_ID",
                s.backup_s3_access_key_id.as_deref().unwrap_or(""),
            )
            .env(
                "AWS_SECRET_ACCESS_KEY",
                s.backup_s3_secret_access_key.as_deref().unwrap_or(""),
            );
        }
        Backend::Sftp(sftp) => {
            // From the project, with the paths as the env file gives them
            // (checked free of what restic's splitting of the command
            // breaks at): the project's own path may hold spaces.
            let command = sftp.command(&sftp.key_file, &sftp.known_hosts_file);
            cmd.current_dir(project)
                .arg("-o")
                .arg(format!("sftp.command={command}"));
        }
        Backend::Rest { .. } => {}
    }
    cmd
}

/// Runs `cmd`; its standard output, or restic's complaint as an error
/// that says what to do.
fn run(mut cmd: Command, config: &Config) -> Result<Vec<u8>> {
    let out =
        match cmd.stdin(Stdio::null()).output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::not_found(
                "restic is not installed on this machine: apt-get install restic (0.14 or later)",
            )
            .into()),
            Err(e) => return Err(e).context("running restic"),
        };
    if out.status.success() {
        return Ok(out.stdout);
    }
    let said = blank_secrets(&String::from_utf8_lossy(&out.stderr), config);
    Err(complaint(&said, config.env.as_str()).into())
}

/// restic's words as an error of the right kind.
fn complaint(said: &str, env: &str) -> Error {
    let last = said
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(restic said nothing)");
    if said.contains("wrong password") {
        Error::new(
            Kind::Denied,
            format!("the repository at BACKUP_REPOSITORY refused BACKUP_PASSWORD (restic: {last}); set the password the repository was made with"),
        )
    } else if said.contains("Is there a repository at the following location?") {
        Error::not_found(format!(
            "there is no repository at BACKUP_REPOSITORY yet: {env}'s VM makes it at its first backup (a hand-over, or BACKUP_SCHEDULE)"
        ))
    } else {
        Error::new(
            Kind::Unreachable,
            format!("cannot read the repository at BACKUP_REPOSITORY (restic: {last}); check the address, the network and the credentials"),
        )
    }
}

/// `text` with every secret of the environment replaced by `********`.
fn blank_secrets(text: &str, config: &Config) -> String {
    let s = &config.secrets;
    let mut out = text.to_string();
    for secret in [
        &s.backup_password,
        &s.backup_s3_access_key_id,
        &s.backup_s3_secret_access_key,
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.is_empty())
    {
        out = out.replace(secret.as_str(), "********");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_complaints_say_what_to_do() {
        let e = complaint("Fatal: wrong password or no key found\n", "e2e");
        assert_eq!(e.kind, Kind::Denied);
        let e = complaint(
            "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n",
            "e2e",
        );
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.to_string().contains("first backup"), "{e}");
        let e = complaint("subprocess ssh: ssh: connect to host 10.0.0.1 port 22: Connection refused\nFatal: unable to open repository\n", "e2e");
        assert_eq!(e.kind, Kind::Unreachable);
        assert!(
            e.to_string().contains("Fatal: unable to open repository"),
            "{e}"
        );
    }

    #[test]
    fn secrets_never_pass_through() {
        let c = crate::config::validate::testing::config(&[
            (
                crate::config::vars::VarId::BACKUP_REPOSITORY,
                "s3:https://s3.example.org/b",
            ),
            (
                crate::config::vars::VarId::BACKUP_PASSWORD,
                "pw-pw-pw-pw-pw-pw",
            ),
            (
                crate::config::vars::VarId::BACKUP_S3_ACCESS_KEY_ID,
                "AKIDEXAMPLE",
            ),
            (
                crate::config::vars::VarId::BACKUP_S3_SECRET_ACCESS_KEY,
                "s3cr3t-s3cr3t",
            ),
        ]);
        assert_eq!(
            blank_secrets("bad key AKIDEXAMPLE, s3cr3t-s3cr3t, pw-pw-pw-pw-pw-pw", &c),
            "bad key ********, ********, ********"
        );
    }
}
