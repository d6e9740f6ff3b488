//! Provider primitives: the few operations a place where VMs run must offer
//! so that the deploy layer (`crate::deploy`) can put a release there and
//! take it off again, modelled on colmena's `Host` trait. The plan
//! (first deploy or replacement, convergence, the lock, the record, the
//! boot timeline, retention) is written once, in `deploy`, over
//! `&dyn Machines`; a provider adds primitives, never a second copy of it.
//!
//! Provider *settings* (which provider, what it requires, what boot media
//! it takes) are a leaf in `config::provider`, so the config can hold them
//! without importing anything up here.
//!
//! `libvirt`: local VMs through `virsh`; `hetzner`: Hetzner Cloud servers
//! through its API (docs/ARCHITECTURE.md, "Providers"). `boot_status`:
//! the release's boot lines read over the network, for a provider without
//! a console file.

pub mod boot_status;
pub mod hetzner;
pub mod libvirt;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};

pub use crate::config::provider::{BootMedia, Provider};
use crate::config::Config;

/// The name of the machine that boots `version` of `env`, in every
/// provider: `torrust-<env>-<first 8 digits of the version>`.
pub fn machine_name(env: &str, version: &str) -> String {
    let short = version.get(..8).unwrap_or(version);
    format!("torrust-{env}-{short}")
}

/// One machine of an environment, as its provider reports it.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The provider's name for it (libvirt: the domain name).
    pub name: String,
    /// The release it boots.
    pub release: String,
    /// How it is run, in the provider's words (libvirt: `kvm` or `qemu`).
    pub kind: String,
    /// The provider's own description of it (libvirt: the domain XML).
    pub description: String,
    /// Where its boot lines are kept, when the provider keeps them in a file.
    pub console_log: Option<PathBuf>,
    /// The environment's data volume, when this machine has it attached,
    /// in the provider's words (libvirt: the disk image's path; Hetzner:
    /// `volume <id>`).
    pub data_disk: Option<String>,
    /// The directory of the files only it uses, when the provider keeps
    /// them here (libvirt: overlay, seed copy, console log).
    pub dir: Option<PathBuf>,
}

/// Whether a machine runs, in the provider's words (`running`, `shut off`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    pub words: String,
    pub running: bool,
}

/// How a graceful stop ended (in JSON: `acpi`, `destroyed`, `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StopHow {
    /// The guest powered off after the ACPI request.
    Acpi,
    /// Forced off after the bound.
    Destroyed,
    /// It was off.
    Off,
}

impl std::fmt::Display for StopHow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopHow::Acpi => "acpi",
            StopHow::Destroyed => "destroyed",
            StopHow::Off => "off",
        })
    }
}

/// How a graceful stop ended, with what happened in words.
pub type Stopped = (StopHow, String);

/// Runs one named part of a primitive as a timed step of the deploy's plan
/// (the deploy layer owns the steps; a primitive only names its parts):
/// `f` does the work and says what it did.
pub type StepRunner<'a> =
    dyn FnMut(&'static str, &mut dyn FnMut() -> Result<String>) -> Result<()> + 'a;

/// The primitives the deploy layer drives. Every answer that cannot be read
/// is an error: "cannot tell" is never taken for "absent", or a deploy would
/// start a second machine on the data volume and prune would delete a
/// release that runs.
pub trait Machines {
    /// The provider's name, as in INFRASTRUCTURE_PROVIDER.
    fn provider(&self) -> &'static str;
    /// Every machine of `env` that torrust-bake made.
    fn list(&self, env: &str) -> Result<Vec<Machine>>;
    /// Makes, but does not start, the machine of the release in
    /// `release_dir` (`version`): `with_data`, the environment's data
    /// volume attached from the start (a first deploy), else none (a
    /// replacement's standby, which gets it at the hand-over); `dry_run`
    /// changes nothing and reports what would be done.
    fn create(
        &self,
        config: &Config,
        version: &str,
        release_dir: &std::path::Path,
        with_data: bool,
        dry_run: bool,
        step: &mut StepRunner,
    ) -> Result<Machine>;
    /// Gives the data volume to `machine`, running or not (hot-plug). The
    /// deploy layer calls it only when no other running machine holds it.
    fn attach_data(&self, config: &Config, machine: &Machine) -> Result<String>;
    /// Takes the data volume from `machine`, which must not run (refused).
    fn detach_data(&self, config: &Config, machine: &Machine) -> Result<String>;
    /// Points the environment's service address (its floating IP) at
    /// `machine`; `None` when the environment has none.
    fn point(&self, config: &Config, machine: &Machine) -> Result<Option<String>>;
    /// Where the service address points now (the provider's words), if known.
    fn pointed(&self, config: &Config) -> Option<String>;
    fn start(&self, name: &str) -> Result<()>;
    fn state(&self, name: &str) -> Result<MachineState>;
    /// Asks the machine to stop, waits up to `bound`, then forces it off.
    fn stop(&self, name: &str, bound: Duration) -> Result<Stopped>;
    /// Forgets a stopped machine and deletes what only it used (never the
    /// data volume); says what was removed. A machine already gone is done.
    fn retire(&self, machine: &Machine) -> Result<String>;
    /// The machine's whole boot lines written since `cursor` (a position
    /// the provider keeps there), cleaned of terminal noise.
    fn boot_lines(&self, machine: &Machine, cursor: &mut u64) -> Vec<String>;
    /// The machine's most recent boot lines (a bounded tail: enough for
    /// the release's last word), for `status`.
    fn recent_lines(&self, machine: &Machine) -> Vec<String>;
    /// The machine's addresses the provider knows (empty when none).
    fn addresses(&self, name: &str) -> Vec<String>;
    /// The environment's data volume as its configuration names it, when it
    /// exists (for `destroy --purge` when no machine is left to name it);
    /// an error when the provider cannot tell.
    fn data_volume(&self, config: &Config) -> Result<Option<String>>;
    /// Deletes the data volume `volume` (as `data_disk` names it): its
    /// database and state.
    fn delete_data_volume(&self, volume: &str) -> Result<()>;
    /// Takes the environment's deploy lock on the provider's side, for
    /// operators on other machines (the lock file beside the releases stops
    /// only this one's), and says what it took; refused, with who holds it,
    /// when another machine does. Called with the local lock held, so a
    /// lock this machine left (a killed run) is taken over. `None`: the
    /// provider needs none (libvirt: one host, whose lock file it is).
    fn lock(&self, _env: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// Gives back what `lock` took (`held`, its words).
    fn unlock(&self, _env: &str, _held: &str) -> Result<()> {
        Ok(())
    }
}

/// Which NoCloud seed a libvirt VM is given: the one type for the choice,
/// from the `--seed` flag to the domain XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeedKind {
    /// seed.iso, a read-only CD-ROM.
    #[default]
    Iso,
    /// seed.img (vfat), a read-only disk.
    Img,
}

impl SeedKind {
    /// The words `--seed` takes.
    pub const NAMES: [&'static str; 2] = ["iso", "img"];

    pub fn parse(word: &str) -> Option<SeedKind> {
        match word {
            "iso" => Some(SeedKind::Iso),
            "img" => Some(SeedKind::Img),
            _ => None,
        }
    }
}

/// How to reach an environment's provider; flags that apply to one only.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// libvirt: the connection URI (`virsh -c`).
    pub libvirt_uri: Option<String>,
    /// libvirt: the seed new VMs get.
    pub libvirt_seed: SeedKind,
}

/// The primitives of `provider`, or what to do instead when it has none yet.
pub fn open(provider: Provider, env: &str, how: &Connect) -> Result<Box<dyn Machines>> {
    match provider {
        Provider::Libvirt => Ok(Box::new(libvirt::Libvirt::new(how))),
        Provider::Hetzner => Ok(Box::new(
            hetzner::machines::Hetzner::from_env()
                .with_context(|| format!("{env} deploys to Hetzner Cloud"))?,
        )),
    }
}
