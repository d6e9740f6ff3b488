//! Arguments of the hidden `probe` (commands/probe.rs): test support.

use super::*;

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// A UDP connect and announce (BEP 15) every --every until the file --until exists
    /// (or --max passes); one line a try on --out: the Unix time and 1 (the tracker
    /// answered: an announce reply or a refusal) or 0. An unanswered request is sent
    /// again once after --timeout, then after twice that, as a client retransmits.
    AnnounceLoop(AnnounceLoopArgs),
    /// An OCI image layout of one layer at --out (which must not exist) from the tree
    /// at --root (modes and numeric owners as on disk, name order, mtime 0, gzip),
    /// with the image config's `config` from --config (JSON) and --tag in its index;
    /// prints {"manifest": "sha256:...", "layer_size": N}. The same tree gives the same
    /// digests on every machine (scripts/e2e-registry.sh).
    OciLayout(OciLayoutArgs),
}

#[derive(Debug, Args)]
pub struct OciLayoutArgs {
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// The image config's `config` object: User, ExposedPorts, Env, Cmd...
    #[arg(long, value_name = "JSON")]
    pub config: String,
    #[arg(long)]
    pub tag: String,
    /// OCI architecture, e.g. amd64 (`dpkg --print-architecture`).
    #[arg(long)]
    pub architecture: String,
    /// The history entry's created_by.
    #[arg(long)]
    pub created_by: String,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct AnnounceLoopArgs {
    /// The UDP tracker, HOST:PORT.
    pub target: String,
    /// The torrent announced, 40 hex digits.
    #[arg(long, value_name = "HEX")]
    pub info_hash: String,
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub every: Duration,
    /// The first wait for a reply.
    #[arg(long, default_value = "500ms", value_parser = request_timeout)]
    pub timeout: Duration,
    /// Stop once this file exists.
    #[arg(long, value_name = "FILE")]
    pub until: PathBuf,
    #[arg(long, default_value = "20m", value_parser = wait_duration)]
    pub max: Duration,
    /// Where the lines go (created, or truncated).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}
