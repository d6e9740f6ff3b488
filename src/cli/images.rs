//! Arguments of `images pin|verify` (commands/images_cmds.rs).

use super::*;

pub(super) const REGISTRY_HELP: &str = "\
Registry credentials come from the environment, per registry as written in the
reference (non-alphanumerics become _):
  TORRUST_BAKE_REGISTRY_<REGISTRY>_USERNAME, TORRUST_BAKE_REGISTRY_<REGISTRY>_PASSWORD
  e.g. TORRUST_BAKE_REGISTRY_GHCR_IO_USERNAME, TORRUST_BAKE_REGISTRY_127_0_0_1_5000_PASSWORD
They answer Basic challenges and are sent to Bearer token services (Docker Hub).
Docker Hub references may omit docker.io/ and library/ (caddy:2.10.2).

Without --env the lock is images/images.lock, which every environment without a
lock of its own uses. With --env ENV it is images/ENV.lock, which replaces
images/images.lock for ENV as a whole (it lists every image ENV runs): copy
images/images.lock there, change what ENV should try, pin it with --env ENV.

Examples:
  torrust-bake images pin
  torrust-bake images pin tracker
  torrust-bake images verify --json
  cp images/images.lock images/staging.lock && torrust-bake images pin --env staging tracker
  torrust-bake images verify --env staging

Exit codes: 0 ok, 1 mismatch, unknown image, bad reference or refused
credentials, 2 registry unreachable or other error.";

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Resolve each service's tag to its digest (and linux/amd64, linux/arm64 digests of a
    /// multi-arch index), show what changed and rewrite the lock atomically. If any image
    /// fails to resolve, the lock is left as it was.
    #[command(after_help = REGISTRY_HELP)]
    Pin(PinArgs),
    /// Check that every digest in the lock is what its tag resolves to now; exit 1 naming
    /// each mismatch (and whether the locked digest can still be pulled).
    #[command(after_help = REGISTRY_HELP)]
    Verify(ImagesVerifyArgs),
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// Services to pin (keys of the lock) [default: all].
    pub services: Vec<String>,
    /// Pin this environment's own lock, images/ENV.lock (it must exist: pinning never
    /// creates one, nor edits the shared lock for one environment).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct ImagesVerifyArgs {
    /// Verify the lock this environment builds with: images/ENV.lock when it exists,
    /// else images/images.lock.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to this registry (host[:port] as in the reference), e.g. a local
    /// mirror. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Timeout of each request; 429, 5xx and connection failures are retried 4 times
    /// with backoff, honouring Retry-After up to 60s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}
