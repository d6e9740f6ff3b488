//! Database rules: `TORRUST_TRACKER_DATABASE_URL` is an SQLite path or a
//! MySQL URL without a password (the password goes in `MYSQL_PASSWORD`);
//! MySQL needs its passwords, SQLite warns about unused ones.

use super::Checker;
use crate::config::types::{Database, Mysql};
use crate::config::vars::VarId::*;

const FIX: &str = "use sqlite:///absolute/path.db or mysql://user@host:3306/database (the password goes in MYSQL_PASSWORD)";

pub(super) fn check(c: &mut Checker) -> Option<Database> {
    let value = c.text(TORRUST_TRACKER_DATABASE_URL);
    if value.is_empty() {
        c.fail(
            TORRUST_TRACKER_DATABASE_URL,
            "is empty".into(),
            "use sqlite:///var/lib/torrust/tracker/database/sqlite3.db or mysql://torrust@mysql:3306/torrust_tracker",
        );
        return None;
    }
    let url = match url::Url::parse(&value) {
        Ok(u) => u,
        Err(e) => {
            let message = format!("cannot be parsed as a URL: {e}");
            c.fail(TORRUST_TRACKER_DATABASE_URL, message, FIX);
            return None;
        }
    };
    match url.scheme() {
        "sqlite" => sqlite(c, &url),
        "mysql" => mysql(c, &url),
        other => {
            let message = format!("unsupported database scheme '{other}'");
            c.fail(TORRUST_TRACKER_DATABASE_URL, message, FIX);
            None
        }
    }
}

/// Where the tracker's container keeps data that survives a release: the
/// compose stack mounts the data volume here.
const PERSISTED: &str = "/var/lib/torrust/tracker/";

fn sqlite(c: &mut Checker, url: &url::Url) -> Option<Database> {
    let raw = c.text(TORRUST_TRACKER_DATABASE_URL);
    let path = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .map(|p| p.into_owned())
        .unwrap_or_default();
    if url.host_str().is_some_and(|h| !h.is_empty()) || !path.starts_with('/') || path.len() < 2 {
        c.fail(
            TORRUST_TRACKER_DATABASE_URL,
            "an SQLite URL needs an absolute path: sqlite:///path (three slashes)".into(),
            FIX,
        );
        return None;
    }
    // The URL parser resolves `..` silently: refuse it in the text itself.
    let dotdot = raw
        .split('/')
        .any(|part| part == ".." || part.eq_ignore_ascii_case("%2e%2e"));
    if dotdot || path.ends_with('/') {
        c.fail(
            TORRUST_TRACKER_DATABASE_URL,
            "an SQLite path names a file, without `..` or a trailing /".into(),
            "use sqlite:///var/lib/torrust/tracker/database/sqlite3.db",
        );
        return None;
    }
    if !path.starts_with(PERSISTED) {
        let message = format!("the SQLite file is outside {PERSISTED} (the data volume): the next release starts with an empty database");
        let fix = "use sqlite:///var/lib/torrust/tracker/database/sqlite3.db";
        // Lenient environments may run the tracker outside its container
        // (the tests run it on the host); strict ones deploy.
        if c.env.is_strict() {
            c.fail(TORRUST_TRACKER_DATABASE_URL, message, fix);
            return None;
        }
        c.warn(TORRUST_TRACKER_DATABASE_URL, message, fix);
    }
    for id in [MYSQL_PASSWORD, MYSQL_ROOT_PASSWORD] {
        if c.is_set(id) {
            c.warn(
                id,
                "is set but the database is SQLite; it is not used".into(),
                "remove it, or switch TORRUST_TRACKER_DATABASE_URL to mysql://",
            );
        }
    }
    Some(Database::Sqlite {
        path: path.to_string(),
    })
}

fn mysql(c: &mut Checker, url: &url::Url) -> Option<Database> {
    if url.password().is_some() {
        c.fail(
            TORRUST_TRACKER_DATABASE_URL,
            "carries a password; a URL is shown and committed, a password must not be".into(),
            "remove ':password' from the URL and set MYSQL_PASSWORD instead",
        );
    }
    let host = url.host_str().unwrap_or("").to_string();
    let name = url.path().trim_start_matches('/').to_string();
    if url.username().is_empty() || host.is_empty() || name.is_empty() || name.contains('/') {
        c.fail(
            TORRUST_TRACKER_DATABASE_URL,
            "a MySQL URL needs a user, a host and a database name".into(),
            FIX,
        );
        return None;
    }
    let bundled = host == "mysql";
    if !c.is_set(MYSQL_PASSWORD) && c.secret_needed(MYSQL_PASSWORD) {
        c.fail(
            MYSQL_PASSWORD,
            "is required with a MySQL database".into(),
            "export MYSQL_PASSWORD=\"$(openssl rand -base64 33)\"",
        );
    }
    if bundled && !c.is_set(MYSQL_ROOT_PASSWORD) && c.secret_needed(MYSQL_ROOT_PASSWORD) {
        c.fail(
            MYSQL_ROOT_PASSWORD,
            "is required with the bundled MySQL (database host mysql)".into(),
            "export MYSQL_ROOT_PASSWORD=\"$(openssl rand -base64 33)\"",
        );
    }
    Some(Database::Mysql(Mysql {
        user: url.username().to_string(),
        host,
        port: url.port().unwrap_or(3306),
        name,
        bundled,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn sqlite_paths_are_absolute() {
        assert_eq!(
            config(&[]).database,
            Database::Sqlite {
                path: "/var/lib/torrust/tracker/database/sqlite3.db".into()
            }
        );
        let (_, r) = run(
            "local",
            &[(
                TORRUST_TRACKER_DATABASE_URL,
                "sqlite:///var/lib/torrust/tracker/my%20db.sqlite",
            )],
        );
        assert!(about(&r, TORRUST_TRACKER_DATABASE_URL).is_empty());
        let c = config(&[(
            TORRUST_TRACKER_DATABASE_URL,
            "sqlite:///var/lib/torrust/tracker/my%20db.sqlite",
        )]);
        assert_eq!(
            c.database,
            Database::Sqlite {
                path: "/var/lib/torrust/tracker/my db.sqlite".into()
            }
        );
        for bad in [
            "sqlite:///../../etc/passwd",
            "sqlite:///var/lib/torrust/tracker/../../../etc/passwd",
            "sqlite:///var/lib/torrust/tracker/%2e%2e/x.db",
            "sqlite:///var/lib/torrust/tracker/",
        ] {
            let (_, r) = run("local", &[(TORRUST_TRACKER_DATABASE_URL, bad)]);
            let got = about(&r, TORRUST_TRACKER_DATABASE_URL);
            assert_eq!(got.len(), 1, "{bad}: {got:?}");
            assert!(
                got[0].starts_with("Error: an SQLite path names a file"),
                "{bad}: {got:?}"
            );
        }
        let outside = [(TORRUST_TRACKER_DATABASE_URL, "sqlite:///tmp/tracker.db")];
        let (_, r) = run("production", &outside);
        let got = about(&r, TORRUST_TRACKER_DATABASE_URL);
        assert!(
            got[0].starts_with("Error: the SQLite file is outside /var/lib/torrust/tracker/"),
            "{got:?}"
        );
        let (_, r) = run("local", &outside);
        let got = about(&r, TORRUST_TRACKER_DATABASE_URL);
        assert!(
            got[0].starts_with("Warning: the SQLite file is outside"),
            "{got:?}"
        );
        for bad in ["sqlite://relative.db", "sqlite:/", "sqlite://host/x.db"] {
            let (_, r) = run("local", &[(TORRUST_TRACKER_DATABASE_URL, bad)]);
            let got = about(&r, TORRUST_TRACKER_DATABASE_URL);
            assert_eq!(got.len(), 1, "{bad}: {got:?}");
            assert!(got[0].contains("needs an absolute path"), "{bad}: {got:?}");
        }
    }

    #[test]
    fn mysql_urls_have_their_parts_and_no_password() {
        let set = [
            (
                TORRUST_TRACKER_DATABASE_URL,
                "mysql://torrust@mysql:3307/tracker",
            ),
            (MYSQL_PASSWORD, "a-password"),
            (MYSQL_ROOT_PASSWORD, "a-root-password"),
        ];
        let db = config(&set).database;
        let m = db.mysql().unwrap();
        assert_eq!(
            (m.user.as_str(), m.port, m.name.as_str(), m.bundled),
            ("torrust", 3307, "tracker", true)
        );
        let (_, r) = run(
            "local",
            &[(TORRUST_TRACKER_DATABASE_URL, "mysql://u:pw@db.internal/t")],
        );
        let got = about(&r, TORRUST_TRACKER_DATABASE_URL);
        assert!(got[0].contains("carries a password"), "{got:?}");
        assert!(about(&r, MYSQL_PASSWORD)[0].contains("is required with a MySQL database"));
        // Not bundled: no root password needed.
        assert!(about(&r, MYSQL_ROOT_PASSWORD).is_empty());
        let (_, r) = run(
            "local",
            &[(TORRUST_TRACKER_DATABASE_URL, "mysql://db.internal/t")],
        );
        assert!(about(&r, TORRUST_TRACKER_DATABASE_URL)[0]
            .contains("needs a user, a host and a database name"));
    }

    #[test]
    fn other_schemes_and_unused_passwords() {
        let (_, r) = run(
            "local",
            &[(TORRUST_TRACKER_DATABASE_URL, "postgres://u@h/d")],
        );
        assert_eq!(
            about(&r, TORRUST_TRACKER_DATABASE_URL),
            vec![format!(
                "Error: unsupported database scheme 'postgres' | {FIX} | environments/local.env:1"
            )]
        );
        let (_, r) = run("local", &[(MYSQL_PASSWORD, "unused")]);
        assert!(
            about(&r, MYSQL_PASSWORD)[0].starts_with("Warning: is set but the database is SQLite")
        );
    }

    #[test]
    fn sqlite_and_the_bundled_mysql_get_a_data_volume_by_default() {
        // Their data must outlive the VM: a new release is a new VM.
        assert_eq!(config(&[]).data_volume.as_deref(), Some("torrust-data"));
        let bundled = [
            (TORRUST_TRACKER_DATABASE_URL, "mysql://torrust@mysql:3306/t"),
            (MYSQL_PASSWORD, "a-password"),
            (MYSQL_ROOT_PASSWORD, "a-root-password"),
        ];
        assert_eq!(
            config(&bundled).data_volume.as_deref(),
            Some("torrust-data")
        );
        let external = [
            (
                TORRUST_TRACKER_DATABASE_URL,
                "mysql://torrust@db.internal:3306/t",
            ),
            (MYSQL_PASSWORD, "a-password"),
        ];
        assert_eq!(config(&external).data_volume, None);
        let mut asked = external.to_vec();
        asked.push((INFRASTRUCTURE_DATA_VOLUME, "state"));
        assert_eq!(config(&asked).data_volume.as_deref(), Some("state"));
        // Set empty: no volume, even with SQLite.
        assert_eq!(
            config(&[(INFRASTRUCTURE_DATA_VOLUME, "")]).data_volume,
            None
        );
    }
}
