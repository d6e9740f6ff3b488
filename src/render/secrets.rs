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
    /// The backup repository's password, an s3: repository's keys, an
    /// sftp: repository's private key (empty when not used).
    pub backup_password: String,
    pub backup_s3_access_key_id: String,
    pub backup_s3_secret_access_key: String,
    pub backup_sftp_key: String,
}

impl SecretContext {
    pub fn real(config: &Config) -> Self {
        let s = &config.secrets;
        let mut ctx = Self::build(
            config,
            s.api_token.clone(),
            s.grafana_admin_password.clone(),
            s.mysql_password.clone().unwrap_or_default(),
            s.mysql_root_password.clone().unwrap_or_default(),
        );
        ctx.backup_password = s.backup_password.clone().unwrap_or_default();
        ctx.backup_s3_access_key_id = s.backup_s3_access_key_id.clone().unwrap_or_default();
        ctx.backup_s3_secret_access_key = s.backup_s3_secret_access_key.clone().unwrap_or_default();
        ctx.backup_sftp_key = config
            .backup
            .repository
            .as_ref()
            .and_then(|r| r.sftp())
            .map(|s| s.key.clone())
            .unwrap_or_default();
        ctx
    }

    pub fn redacted(config: &Config) -> Self {
        let r = |name: &str| format!("REDACTED_{name}");
        let mut ctx = Self::build(
            config,
            r("TORRUST_TRACKER_API_TOKEN"),
            r("GRAFANA_ADMIN_PASSWORD"),
            r("MYSQL_PASSWORD"),
            r("MYSQL_ROOT_PASSWORD"),
        );
        ctx.backup_password = r("BACKUP_PASSWORD");
        ctx.backup_s3_access_key_id = r("BACKUP_S3_ACCESS_KEY_ID");
        ctx.backup_s3_secret_access_key = r("BACKUP_S3_SECRET_ACCESS_KEY");
        ctx.backup_sftp_key = format!("{}\n", r("BACKUP_SFTP_KEY_FILE"));
        ctx
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
            backup_password: String::new(),
            backup_s3_access_key_id: String::new(),
            backup_s3_secret_access_key: String::new(),
            backup_sftp_key: String::new(),
        }
    }
}
