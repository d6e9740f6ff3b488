//! The typed values a validated `Config` holds. Each serializes to the form
//! the templates read (a name, a number, an address as text), so typing the
//! code changed no rendered byte.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Who may announce (tracker.toml `[core] private` and `listed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackerMode {
    /// Any torrent, any peer.
    Public,
    /// Peers need a key.
    Private,
    /// Listed torrents only.
    Whitelisted,
}

impl TrackerMode {
    pub const NAMES: &'static [&'static str] = &["public", "private", "whitelisted"];

    pub fn parse(name: &str) -> Option<TrackerMode> {
        match name {
            "public" => Some(TrackerMode::Public),
            "private" => Some(TrackerMode::Private),
            "whitelisted" => Some(TrackerMode::Whitelisted),
            _ => None,
        }
    }

    /// The tracker refuses some announces in this mode (unknown torrents
    /// or peers without a key), so a health probe may be refused.
    pub fn refuses_strangers(self) -> bool {
        self != TrackerMode::Public
    }
}

/// A UDP port (BEP 15 tracker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UdpPort(pub u16);

/// A TCP port (HTTP tracker, APIs, Prometheus, Grafana).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TcpPort(pub u16);

impl fmt::Display for UdpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TcpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A MySQL database reached as `mysql://user@host:port/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mysql {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub name: String,
    /// Host `mysql`: the MySQL container shipped in the compose stack.
    pub bundled: bool,
}

/// The tracker's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file at this absolute path inside the tracker's container.
    Sqlite {
        path: String,
    },
    Mysql(Mysql),
}

impl Database {
    /// The tracker's driver name.
    pub fn driver(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite3",
            Database::Mysql(_) => "mysql",
        }
    }

    pub fn mysql(&self) -> Option<&Mysql> {
        match self {
            Database::Mysql(m) => Some(m),
            Database::Sqlite { .. } => None,
        }
    }
}

/// Templates read `driver`, `sqlite_path` and `mysql` (one of the two set).
impl Serialize for Database {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Database", 3)?;
        st.serialize_field("driver", self.driver())?;
        let path = match self {
            Database::Sqlite { path } => Some(path),
            Database::Mysql(_) => None,
        };
        st.serialize_field("sqlite_path", &path)?;
        st.serialize_field("mysql", &self.mysql())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for name in TrackerMode::NAMES {
            let mode = TrackerMode::parse(name).unwrap();
            assert_eq!(serde_json::to_value(mode).unwrap(), *name);
        }
        assert!(!TrackerMode::Public.refuses_strangers());
        assert!(TrackerMode::Whitelisted.refuses_strangers());
    }

    #[test]
    fn database_serializes_as_the_templates_read_it() {
        let sqlite = Database::Sqlite {
            path: "/var/lib/t.db".into(),
        };
        assert_eq!(
            serde_json::to_value(&sqlite).unwrap(),
            serde_json::json!({"driver": "sqlite3", "sqlite_path": "/var/lib/t.db", "mysql": null})
        );
        let mysql = Database::Mysql(Mysql {
            user: "u".into(),
            host: "mysql".into(),
            port: 3306,
            name: "db".into(),
            bundled: true,
        });
        let v = serde_json::to_value(&mysql).unwrap();
        assert_eq!(v["driver"], "mysql");
        assert_eq!(v["mysql"]["bundled"], true);
        assert_eq!(v["sqlite_path"], serde_json::Value::Null);
    }
}
