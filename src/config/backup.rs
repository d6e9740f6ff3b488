//! What the VM backs up, how often, and where to (BACKUP_*): the typed
//! settings, the repository URL parsed into the backend restic will use,
//! and the SFTP key and known_hosts files read from the project once the
//! values are valid (like the registry's CA: validation alone does not
//! know the directory), so a release carries what was checked.
//!
//! Written here rather than taken from restic: restic parses its URLs at
//! run time on the VM, where a typo would be found only at the first
//! backup; and it has no library form. The grammar is restic 0.14's
//! (Debian 12): `sftp:user@host:/path`, `sftp://user@host:port//path`,
//! `s3:https://host/bucket`, `s3:host/bucket`, `rest:https://host/path`.

use std::path::Path;

use serde::Serialize;

use super::load::RawValues;
use super::report::{Problem, Report};
use super::vars::VarId::{self, BACKUP_SFTP_KEY_FILE, BACKUP_SFTP_KNOWN_HOSTS_FILE};
use super::Config;

/// The backups a release makes (rendered only with SQLite: `enabled`).
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// The tracker's database is SQLite on the data volume: the release
    /// backs it up.
    pub enabled: bool,
    /// systemd OnCalendar of the timer (hourly, daily, weekly); None: off.
    pub schedule: Option<String>,
    pub keep: u64,
    /// online (VACUUM INTO) or stopped.
    pub sqlite_method: String,
    pub handover_timeout_secs: u64,
    pub repository: Option<Repository>,
    /// `latest` or a snapshot id, restored at first boot.
    pub restore: Option<String>,
}

/// A restic repository: the URL as restic takes it and its backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub url: String,
    #[serde(flatten)]
    pub backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "backend")]
pub enum Backend {
    Sftp(Sftp),
    S3 { plain_http: bool },
    Rest { plain_http: bool },
}

/// An SFTP server, reached by `ssh` with the release's own key and
/// known_hosts (restic's `sftp.command`): no agent, no prompt, no
/// trust on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sftp {
    pub user: String,
    pub host: String,
    pub port: u16,
    /// known_hosts lines (public: shipped 0644).
    pub known_hosts: String,
    /// The private key; a secret, shipped 0600 (never in the templates'
    /// context: render/secrets.rs).
    #[serde(skip)]
    pub key: String,
    /// Where they are in the project (`backup list` runs ssh with them).
    #[serde(skip)]
    pub key_file: String,
    #[serde(skip)]
    pub known_hosts_file: String,
}

impl Repository {
    pub fn sftp(&self) -> Option<&Sftp> {
        match &self.backend {
            Backend::Sftp(s) => Some(s),
            _ => None,
        }
    }
}

impl Sftp {
    /// restic's `sftp.command` with the key and known_hosts at these paths.
    pub fn command(&self, key: &str, known_hosts: &str) -> String {
        format!(
            "ssh -i {key} -o IdentitiesOnly=yes -o UserKnownHostsFile={known_hosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=20 -o ServerAliveInterval=15 -p {} {}@{} -s sftp",
            self.port, self.user, self.host
        )
    }
}

type Bad = (String, String);

fn bad(message: String, fix: &str) -> Bad {
    (message, fix.to_string())
}

const FORMS: &str = "write sftp:user@host:/path, sftp://user@host:port//path, s3:https://host/bucket or rest:https://host:port/path";

/// Parses BACKUP_REPOSITORY (the SFTP files are attached later).
pub fn parse_repository(url: &str) -> Result<Repository, Bad> {
    if url.chars().any(char::is_whitespace) {
        return Err(bad("contains white space".into(), FORMS));
    }
    let backend = if let Some(rest) = url.strip_prefix("sftp://") {
        sftp_url(rest)?
    } else if let Some(rest) = url.strip_prefix("sftp:") {
        sftp_short(rest)?
    } else if let Some(rest) = url.strip_prefix("s3:") {
        Backend::S3 {
            plain_http: web(rest, "s3", false)?,
        }
    } else if let Some(rest) = url.strip_prefix("rest:") {
        Backend::Rest {
            plain_http: web(rest, "rest", true)?,
        }
    } else {
        return Err(bad(
            format!("'{url}' is not a repository torrust-bake can back up to"),
            FORMS,
        ));
    };
    Ok(Repository {
        url: url.to_string(),
        backend,
    })
}

/// `user@host:path`.
fn sftp_short(rest: &str) -> Result<Backend, Bad> {
    let (user, after) = rest.split_once('@').ok_or_else(|| {
        bad(
            "names no user: sftp:user@host:/path".into(),
            "write the login, e.g. sftp:u123456@u123456.your-storagebox.de:/backups/tracker",
        )
    })?;
    let (host, path) = match after.strip_prefix('[') {
        Some(v6) => v6
            .split_once("]:")
            .ok_or_else(|| bad("an IPv6 host needs ]: after it".into(), FORMS))?,
        None => after
            .split_once(':')
            .ok_or_else(|| bad("has no :path after the host".into(), FORMS))?,
    };
    sftp(user, host, 22, path)
}

/// `user@host[:port]/path` (restic's URL form).
fn sftp_url(rest: &str) -> Result<Backend, Bad> {
    let parsed = url::Url::parse(&format!("sftp://{rest}"))
        .map_err(|e| bad(format!("is not a URL: {e}"), FORMS))?;
    if parsed.password().is_some() {
        return Err(bad(
            "carries a password; the VM logs in with BACKUP_SFTP_KEY_FILE".into(),
            "drop the :password from the URL",
        ));
    }
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let path = parsed.path().strip_prefix('/').unwrap_or(parsed.path());
    sftp(parsed.username(), host, parsed.port().unwrap_or(22), path)
}

fn sftp(user: &str, host: &str, port: u16, path: &str) -> Result<Backend, Bad> {
    let user_ok = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !user_ok {
        return Err(bad(
            format!("'{user}' is not a login (letters, digits, . _ -)"),
            FORMS,
        ));
    }
    let host_ok = host.parse::<std::net::IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
            }));
    if !host_ok {
        return Err(bad(
            format!("'{host}' is not a host name or address"),
            FORMS,
        ));
    }
    if path.is_empty() {
        return Err(bad("names no path on the server".into(), FORMS));
    }
    if port == 0 {
        return Err(bad("port 0".into(), FORMS));
    }
    Ok(Backend::Sftp(Sftp {
        user: user.into(),
        host: host.into(),
        port,
        known_hosts: String::new(),
        key: String::new(),
        key_file: String::new(),
        known_hosts_file: String::new(),
    }))
}

/// An s3: or rest: URL; whether it is plain HTTP. `needs_scheme`: rest:
/// always names one; s3: without one is HTTPS.
fn web(rest: &str, kind: &str, needs_scheme: bool) -> Result<bool, Bad> {
    let (plain, full) = if rest.starts_with("http://") {
        (true, rest.to_string())
    } else if rest.starts_with("https://") {
        (false, rest.to_string())
    } else if needs_scheme {
        return Err(bad(
            format!("{kind}: needs http:// or https://"),
            "write rest:https://host:port/path",
        ));
    } else {
        (false, format!("https://{rest}"))
    };
    let parsed = url::Url::parse(&full).map_err(|e| bad(format!("is not a URL: {e}"), FORMS))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let fix = if kind == "s3" {
            "drop them: the keys are BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY, secrets"
        } else {
            "drop them: restic 0.14 (Debian 12) takes a REST server's login only in the URL, where it would be printed; serve the repository without a login on a network only the VM reaches, or use sftp: or s3:"
        };
        return Err(bad(
            "carries a login in the URL, which is no secret there".into(),
            fix,
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host".into(), FORMS));
    }
    if kind == "s3" && parsed.path().trim_matches('/').is_empty() {
        return Err(bad(
            "names no bucket".into(),
            "write s3:https://host/bucket[/prefix]",
        ));
    }
    Ok(plain)
}

/// `latest` or a restic snapshot id (8 to 64 hex digits).
pub fn valid_snapshot(s: &str) -> bool {
    s == "latest"
        || ((8..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Reads the SFTP key and known_hosts into the config, or reports why
/// they cannot be used (and drops the config).
pub fn attach(project: &Path, raw: &RawValues, config: &mut Option<Config>, report: &mut Report) {
    let Some(c) = config.as_mut() else { return };
    let Some(Backend::Sftp(s)) = c.backup.repository.as_mut().map(|r| &mut r.backend) else {
        return;
    };
    let key = read(project, raw, BACKUP_SFTP_KEY_FILE, private_key);
    let hosts = read(project, raw, BACKUP_SFTP_KNOWN_HOSTS_FILE, |t, _| {
        known_hosts(t, &s.host, s.port)
    });
    let mut failed = false;
    for (id, r) in [
        (BACKUP_SFTP_KEY_FILE, &key),
        (BACKUP_SFTP_KNOWN_HOSTS_FILE, &hosts),
    ] {
        if let Err((message, fix)) = r {
            let rel = &raw[id].value;
            report.push(Problem::error(
                Some(id.name().into()),
                raw[id].source.clone(),
                format!("{rel}: {message}"),
                fix,
            ));
            failed = true;
        }
    }
    if failed {
        *config = None;
        return;
    }
    s.key = key.unwrap_or_default();
    s.known_hosts = hosts.unwrap_or_default();
    s.key_file = raw[BACKUP_SFTP_KEY_FILE].value.clone();
    s.known_hosts_file = raw[BACKUP_SFTP_KNOWN_HOSTS_FILE].value.clone();
}

/// The file `id` names, checked by `check(text, mode)`.
fn read(
    project: &Path,
    raw: &RawValues,
    id: VarId,
    check: impl Fn(&str, u32) -> Result<(), Bad>,
) -> Result<String, Bad> {
    use std::os::unix::fs::PermissionsExt as _;
    splittable(&raw[id].value)?;
    let path = project.join(&raw[id].value);
    let meta = std::fs::metadata(&path).map_err(|e| {
        bad(
            format!("cannot be read: {e}"),
            "give a path inside the project directory",
        )
    })?;
    if meta.len() > 16 * 1024 {
        return Err(bad(
            format!(
                "is {} bytes; a key or known_hosts file is a few hundred",
                meta.len()
            ),
            "name the right file",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(
            format!("cannot be read as text: {e}"),
            "name the right file",
        )
    })?;
    check(&text, meta.permissions().mode() & 0o777)?;
    Ok(text)
}

/// `backup list` hands the path to ssh inside restic's sftp.command, which
/// restic splits at white space, quotes and backslashes; ssh expands `%`
/// in both paths.
fn splittable(path: &str) -> Result<(), Bad> {
    if path
        .chars()
        .any(|ch| ch.is_whitespace() || matches!(ch, '\'' | '"' | '\\' | '%'))
    {
        return Err(bad(
            "holds a space, a quote, a backslash or a %, which restic's sftp.command and ssh cannot carry"
                .into(),
            "move or rename the file to a path without them",
        ));
    }
    Ok(())
}

/// An unencrypted OpenSSH or PEM private key, readable by its owner only.
fn private_key(text: &str, mode: u32) -> Result<(), Bad> {
    use base64::Engine as _;
    if mode & 0o077 != 0 {
        return Err(bad(
            format!("is mode {mode:04o}: a private key others can read is no secret"),
            "chmod 0600 it (and make a new key if others may have read it)",
        ));
    }
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        // openssh-key-v1: magic, then the cipher's name ("none" unencrypted).
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|_| bad("is not a valid OpenSSH key".into(), "name the right file"))?;
        let magic = b"openssh-key-v1\0";
        let cipher = bytes
            .strip_prefix(magic.as_slice())
            .and_then(|r| {
                let n = u32::from_be_bytes(r.get(..4)?.try_into().ok()?) as usize;
                r.get(4..4 + n)
            })
            .ok_or_else(|| bad("is not a valid OpenSSH key".into(), "name the right file"))?;
        if cipher != b"none" {
            return Err(bad(
                "is encrypted with a passphrase, which no one types on the VM".into(),
                "make a key without one for the backups alone: ssh-keygen -t ed25519 -N '' -f backup_key",
            ));
        }
        return Ok(());
    }
    if text.contains("PRIVATE KEY-----") && !text.contains("ENCRYPTED") {
        return Ok(());
    }
    Err(bad(
        "is not an unencrypted private key (-----BEGIN OPENSSH PRIVATE KEY-----)".into(),
        "make one: ssh-keygen -t ed25519 -N '' -f backup_key",
    ))
}

/// known_hosts lines, one of them for the server (`host` or `[host]:port`;
/// hashed names cannot be checked and are taken as they are).
fn known_hosts(text: &str, host: &str, port: u16) -> Result<(), Bad> {
    let name = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut lines = 0;
    let mut ours = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || fields[0].starts_with('@') {
            return Err(bad(
                format!("line {} is not `host key-type key`", n + 1),
                "write the server's keys as `ssh-keyscan -p PORT HOST` prints them, checked against the server's own",
            ));
        }
        lines += 1;
        ours |= fields[0].starts_with("|1|") || fields[0].split(',').any(|h| h == name);
    }
    if lines == 0 || !ours {
        return Err(bad(
            format!("holds no key for {name}, the repository's server"),
            &format!("add it: ssh-keyscan -p {port} {host} (checked against the server's own)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_parse_into_their_backends() {
        let r = parse_repository("sftp:u1@box.example.org:/backups/t").unwrap();
        let s = r.sftp().unwrap();
        assert_eq!(
            (s.user.as_str(), s.host.as_str(), s.port),
            ("u1", "box.example.org", 22)
        );
        let r = parse_repository("sftp://u1@10.0.0.1:2222//srv/restic").unwrap();
        assert_eq!(r.sftp().unwrap().port, 2222);
        let r = parse_repository("sftp:u1@[2001:db8::1]:/r").unwrap();
        assert_eq!(r.sftp().unwrap().host, "2001:db8::1");
        assert_eq!(
            parse_repository("s3:s3.amazonaws.com/bucket")
                .unwrap()
                .backend,
            Backend::S3 { plain_http: false }
        );
        assert_eq!(
            parse_repository("rest:http://10.0.0.1:8000/")
                .unwrap()
                .backend,
            Backend::Rest { plain_http: true }
        );
        for (url, why) in [
            ("/srv/restic", "is not a repository"),
            ("sftp:box:/r", "names no user"),
            ("sftp:u@box", "no :path"),
            ("sftp:u@bad_host:/r", "is not a host"),
            ("sftp:u@box:", "names no path"),
            ("sftp://u:pw@box/r", "carries a password"),
            ("s3:https://k:s@host/b", "carries a login"),
            ("s3:https://host/", "names no bucket"),
            ("rest:https://u:p@host/", "carries a login"),
            ("rest:host:8000/", "needs http"),
            ("sftp:u@box:/a b", "white space"),
        ] {
            let e = parse_repository(url).unwrap_err();
            assert!(e.0.contains(why), "{url}: {e:?}");
        }
    }

    #[test]
    fn snapshot_ids_are_latest_or_hex() {
        assert!(valid_snapshot("latest"));
        assert!(valid_snapshot("4bbad8a1"));
        assert!(!valid_snapshot("4bbad8a"));
        assert!(!valid_snapshot("LATEST"));
        assert!(!valid_snapshot("4bbad8a1; reboot"));
    }

    #[test]
    fn a_private_key_is_unencrypted_and_its_owners_alone() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(private_key(key, 0o600), Ok(()));
        assert!(private_key(key, 0o644).unwrap_err().0.contains("0644"));
        // The same header, cipher aes256-ctr.
        let enc = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCu\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(private_key(enc, 0o600)
            .unwrap_err()
            .0
            .contains("passphrase"));
        assert!(private_key("ssh-ed25519 AAAA x", 0o600).is_err());
    }

    #[test]
    fn key_paths_survive_restics_splitting() {
        assert_eq!(splittable("backup/id_ed25519"), Ok(()));
        for path in ["my keys/id", "it's", "a\"b", "a\\b", "tab\there", "id_%u"] {
            assert!(
                splittable(path).unwrap_err().0.contains("cannot carry"),
                "{path}"
            );
        }
    }

    #[test]
    fn known_hosts_must_name_the_server() {
        let line = "[10.0.0.1]:2222 ssh-ed25519 AAAAC3Nza\n";
        assert_eq!(known_hosts(line, "10.0.0.1", 2222), Ok(()));
        assert!(known_hosts(line, "10.0.0.1", 22)
            .unwrap_err()
            .0
            .contains("no key for 10.0.0.1"));
        assert_eq!(
            known_hosts("|1|abc=|def= ssh-ed25519 AAAA\n", "h", 22),
            Ok(())
        );
        assert!(known_hosts("h ssh-ed25519\n", "h", 22)
            .unwrap_err()
            .0
            .contains("line 1"));
    }
}
