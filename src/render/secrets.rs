//! The secrets the templates see, real or redacted (the twin render that
//! `diff` shows), with the URLs that carry them encoded once.

use serde::Serialize;

use super::filters::url_encode;
use crate::config::types::Database;
use crate::config::Config;

/// The secret values the templates see. `redacted()` gives stand-ins with
/// the same structure, for the twin render that `diff` shows.
#[derive(Serialize, Clone)]
pub struct SecretContext {
    pub api_token: String,
    pub grafana_admin_password: String,
    pub mysql_password: String,
    pub mysql_root_password: String,
    pub database_path: String,
    pub stats_url: String,
}

impl SecretContext {
    pub fn real(config: &Config) -> Self {
        let s = &config.secrets;
        Self::build(
            config,
            s.api_token.clone(),
            s.grafana_admin_password.clone(),
            s.mysql_password.clone().unwrap_or_default(),
            s.mysql_root_password.clone().unwrap_or_default(),
        )
    }

    pub fn redacted(config: &Config) -> Self {
        let r = |name: &str| format!("REDACTED_{name}");
        Self::build(
            config,
            r("TORRUST_TRACKER_API_TOKEN"),
            r("GRAFANA_ADMIN_PASSWORD"),
            r("MYSQL_PASSWORD"),
            r("MYSQL_ROOT_PASSWORD"),
        )
    }

    fn build(
        config: &Config,
        api_token: String,
        grafana_admin_password: String,
        mysql_password: String,
        mysql_root_password: String,
    ) -> Self {
        let database_path = match &config.database {
            Database::Sqlite { path } => path.clone(),
            Database::Mysql(m) => format!(
                "mysql://{}:{}@{}:{}/{}",
                m.user,
                url_encode(&mysql_password),
                m.host,
                m.port,
                m.name
            ),
        };
        let stats_url = format!(
            "http://tracker:{}/api/v1/stats?token={}",
            config.api_port,
            url_encode(&api_token)
        );
        SecretContext {
            api_token,
            grafana_admin_password,
            mysql_password,
            mysql_root_password,
            database_path,
            stats_url,
        }
    }
}
