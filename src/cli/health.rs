//! Arguments of `health` (commands/health.rs).

use super::*;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The environment (ports and token come from it)
    pub env: String,
    /// Host to probe [default: every address the environment serves at:
    /// each of INFRASTRUCTURE_FLOATING_IPV4 and _IPV6 (the API and monitoring
    /// at the first IPv4 one), else INFRASTRUCTURE_IPV4_ADDRESS; else the bind
    /// address, or 127.0.0.1 when it binds all].
    /// The API and health-check API are published on the VM's 127.0.0.1 only, so
    /// they are skipped for any other host, unless the environment sets
    /// PUBLISH_ADMIN_PORTS=true (a test VM on an isolated network).
    #[arg(long)]
    pub host: Option<String>,
    /// Retry with backoff until every check passes or this much time has passed (30s, 5m; at most 24h).
    #[arg(long, value_parser = wait_duration)]
    pub wait: Option<Duration>,
    /// Timeout of a request, 1ms to 60s; UDP retries double it, 3 attempts (BEP 15's backoff, scaled down).
    #[arg(long, default_value = "1s", value_parser = request_timeout)]
    pub timeout: Duration,
    /// Also check Prometheus /-/healthy and Grafana /api/health (when enabled), on loopback
    /// hosts or with PUBLISH_ADMIN_PORTS=true.
    #[arg(long)]
    pub monitoring: bool,
    /// With DOMAIN_NAME the HTTP trackers and the API are checked through
    /// Caddy over HTTPS, their certificates verified against the public
    /// CAs; this PEM file's CA certificates instead (a private ACME CA,
    /// Let's Encrypt's staging roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}
