//! Arguments of the hidden `probe` (commands/probe.rs): test support.

use super::*;

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// A UDP connect and announce (BEP 15) every --every until the file --until exists
    /// (or --max passes); one line a try on --out: the Unix time and 1 (the tracker
    /// answered: an announce reply or a refusal) or 0. An unanswered request is sent
    /// again once after --timeout, then after twice that, as a client retransmits.
    AnnounceLoop(AnnounceLoopArgs),
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
