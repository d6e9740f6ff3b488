//! The libvirt provider: `up` puts a release on a new VM, `status` lists an
//! environment's VMs, `down` stops and forgets them (docs/ARCHITECTURE.md,
//! "Providers"; libvirt's domain XML format).
//!
//! A VM is a domain named `torrust-<env>-<short version>` whose `<metadata>`
//! records the environment, the release and the VM's directory
//! (`domain.rs`); every command finds its domains by reading that back from
//! libvirt, so nothing is kept on the side. Its files (`disks.rs`) live in
//! `LIBVIRT_STORAGE_DIR/<env>/`: one directory per domain (overlay, seed,
//! console log) and the environment's data disk, which outlives domains so
//! that the next release finds its data. libvirt is driven through `virsh`
//! (`virsh.rs` says why).
//!
//! `up` is written as a list of steps, each timed; `--dry-run` runs the
//! steps that only read and reports what the others would do.

pub mod console;
pub mod deployments;
pub mod disks;
pub mod domain;
mod lifecycle;
mod replace;
pub mod virsh;

pub use lifecycle::{down, status, DomainStatus, DownOptions, DownOutcome};
pub use replace::{replace, rollback_target, ReplaceOptions, ReplaceOutcome};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::config::provider::{nic_mac, DomainType, Firmware, Provider};
use crate::config::Config;
use crate::error::{Error, Kind};
use crate::images::Pinned;
use crate::release::{self, store};
use crate::render::Templates;
use crate::version::Version;
use domain::{Accel, DataDisk, Record, Seed, Spec};
use virsh::Virsh;

/// One step of `up` or `down`, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub detail: String,
    pub ms: u128,
}

/// Runs `f` as the step `name`, timing it and reporting it to `progress`.
struct Steps<'a> {
    done: Vec<Step>,
    progress: &'a mut dyn FnMut(&Step),
}

impl Steps<'_> {
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        let started = Instant::now();
        let (value, detail) = f().with_context(|| format!("step {name}"))?;
        let step = Step {
            step: name,
            detail,
            ms: started.elapsed().as_millis(),
        };
        (self.progress)(&step);
        self.done.push(step);
        Ok(value)
    }
}

/// Which seed the VM gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    Iso,
    Img,
}

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Boot this stored release instead of building the environment's.
    pub release: Option<Version>,
    pub virsh: Virsh,
    pub dry_run: bool,
    pub seed: SeedKind,
}

/// What `up` did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct UpOutcome {
    pub env: String,
    pub version: String,
    pub domain: String,
    pub dry_run: bool,
    /// The domain of this release was already running: nothing was done.
    pub already_running: bool,
    pub domain_type: Accel,
    pub console_log: PathBuf,
    pub data_disk: Option<PathBuf>,
    pub steps: Vec<Step>,
    pub xml: String,
    /// When the domain was started (for the boot timeline).
    #[serde(skip)]
    pub started: Instant,
    /// With `--wait`: the boot timeline and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
}

/// What the VM said on its console while `up --wait` followed it.
#[derive(Debug, Serialize)]
pub struct Boot {
    pub timeline: Vec<console::Event>,
    #[serde(flatten)]
    pub outcome: console::Outcome,
}

/// Why the domain `name` no longer runs, if it does not.
pub(crate) fn off(virsh: &Virsh, name: &str) -> Option<String> {
    match virsh.state(name) {
        Ok(state) if state.is_running() => None,
        Ok(state) => Some(format!("the VM is {}", state.0)),
        Err(_) => None, // libvirt did not answer: keep watching the console
    }
}

/// Follows the console of the domain `up` started until the release says
/// its tracker is healthy or why it failed, or `timeout` passes.
pub fn wait_boot(
    out: &mut UpOutcome,
    virsh: &Virsh,
    timeout: Duration,
    on_event: &mut dyn FnMut(&console::Event),
) {
    let domain = out.domain.clone();
    let mut gone = || off(virsh, &domain);
    let (timeline, outcome) =
        console::watch(&out.console_log, out.started, timeout, on_event, &mut gone);
    out.boot = Some(Boot { timeline, outcome });
}

/// What the environment's release is, and where its seeds are.
struct ReleaseRef {
    version: String,
    dir: PathBuf,
}

fn require_libvirt(config: &Config) -> Result<()> {
    if config.provider != Provider::Libvirt {
        return Err(Error::invalid(format!(
            "{} runs on {} (INFRASTRUCTURE_PROVIDER={}); `libvirt` commands serve environments with INFRASTRUCTURE_PROVIDER=libvirt",
            config.env,
            config.provider.display_name(),
            config.provider.name()
        ))
        .into());
    }
    Ok(())
}

/// The release to boot: the stored `version` (verified: checksum lists,
/// manifest, keyed digests), or the environment's own, built now (in memory only with
/// `dry_run`).
fn resolve_release(
    project: &Path,
    config: &Config,
    images: &Pinned,
    templates: &Templates,
    opts: &UpOptions,
) -> Result<(ReleaseRef, String)> {
    let env = config.env.as_str();
    if let Some(v) = &opts.release {
        let dir = store::env_dir(project, env).join(v);
        let manifest = store::read_manifest(&dir)?;
        // Checked under the release key too: a seed edited together with its
        // checksum line must not boot.
        let key = crate::digest::Key::new(&config.secrets.release_key);
        let bad = release::verify::verify(&dir, Some(&key))?;
        if !bad.is_empty() {
            let list: Vec<String> = bad
                .iter()
                .map(|f| format!("{} {}", f.path, f.problem))
                .collect();
            return Err(Error::invalid(format!(
                "release {v} is not what its checksums say ({}); rebuild it with `torrust-bake build {env}`",
                list.join(", ")
            ))
            .into());
        }
        let version = manifest.version.to_string();
        return Ok((
            ReleaseRef { version, dir },
            format!("stored release {v}, SHA256SUMS verified"),
        ));
    }
    if opts.dry_run {
        let made = release::make(config, images, templates, None)?;
        let version = made.manifest.version.to_string();
        let dir = store::env_dir(project, env).join(&version);
        let how = if dir.join("manifest.json").is_file() {
            "built already"
        } else {
            "would be written by `build`"
        };
        return Ok((
            ReleaseRef { version, dir },
            format!("{env}'s release ({how})"),
        ));
    }
    let built = release::build(project, config, images, templates)?;
    let version = built.release.manifest.version.to_string();
    let how = match built.written {
        release::Written::New => "built now",
        release::Written::Unchanged => "built already",
        release::Written::Repaired(_) => "rebuilt: the copy on disk did not match its checksums",
    };
    Ok((
        ReleaseRef {
            version,
            dir: built.path,
        },
        format!("{env}'s release ({how})"),
    ))
}

/// Our domains (by their metadata) of `env`, with their libvirt names.
pub fn find_domains(virsh: &Virsh, env: &str) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for name in virsh.domains()? {
        // A domain may vanish between list and dumpxml: skip it.
        let Ok(xml) = virsh.dumpxml(&name) else {
            continue;
        };
        if let Some(r) = domain::parse_record(&xml)? {
            if r.env == env {
                out.push(r);
            }
        }
    }
    Ok(out)
}

fn decide_accel(virsh: &Virsh, wanted: DomainType, dry_run: bool) -> Result<(Accel, String)> {
    match wanted {
        DomainType::Kvm => Ok((Accel::Kvm, "kvm (LIBVIRT_DOMAIN_TYPE)".into())),
        DomainType::Qemu => Ok((Accel::Qemu, "qemu, TCG (LIBVIRT_DOMAIN_TYPE)".into())),
        DomainType::Auto => {
            let caps = virsh.capabilities().map_err(|e| {
                if dry_run {
                    e.context("LIBVIRT_DOMAIN_TYPE=auto asks libvirt even in a dry run; set kvm or qemu to avoid it")
                } else {
                    e
                }
            })?;
            let offered = domain::offered_domain_types(&caps)?;
            if offered.iter().any(|t| t == "kvm") {
                Ok((
                    Accel::Kvm,
                    "kvm (auto: libvirt offers it; set LIBVIRT_DOMAIN_TYPE=qemu if guests hang)"
                        .into(),
                ))
            } else if offered.iter().any(|t| t == "qemu") {
                Ok((
                    Accel::Qemu,
                    "qemu, TCG (auto: libvirt offers no kvm)".into(),
                ))
            } else {
                Err(Error::new(
                    Kind::Unreachable,
                    "libvirt offers no x86_64 hvm domain: install its QEMU driver (Debian: libvirt-daemon-driver-qemu, qemu-system-x86)",
                )
                .into())
            }
        }
    }
}

/// The environment's data disk, when it has a data volume:
/// `LIBVIRT_STORAGE_DIR/<env>/data-<label>.raw`, serial = the label.
pub fn data_disk(config: &Config) -> Option<DataDisk> {
    let env_dir = config.libvirt.storage_dir.join(config.env.as_str());
    config.data_volume.as_ref().map(|label| DataDisk {
        path: env_dir.join(format!("data-{label}.raw")),
        serial: label.clone(),
    })
}

/// Puts the environment's release (or `opts.release`) on a new domain and
/// starts it.
pub fn up(
    project: &Path,
    config: &Config,
    images: &Pinned,
    templates: &Templates,
    opts: &UpOptions,
    progress: &mut dyn FnMut(&Step),
) -> Result<UpOutcome> {
    require_libvirt(config)?;
    let env = config.env.as_str();
    let mut steps = Steps {
        done: Vec::new(),
        progress,
    };
    let dry = opts.dry_run;
    let rel = steps.run("release", || {
        resolve_release(project, config, images, templates, opts)
    })?;
    let name = domain::domain_name(env, &rel.version);
    if !dry {
        if let Some(record) = check_domains(&mut steps, &opts.virsh, env, &name)? {
            return start_existing(&opts.virsh, record, rel, steps);
        }
    }
    let (spec, xml) = define_new(&mut steps, config, &opts.virsh, &rel, opts.seed, dry)?;
    let started = start(&mut steps, &opts.virsh, config, &spec, dry)?;
    let accel = spec.accel;
    Ok(UpOutcome {
        env: env.to_string(),
        version: rel.version,
        domain: name,
        dry_run: dry,
        already_running: false,
        domain_type: accel,
        console_log: spec.console_log,
        data_disk: spec.data_disk.map(|d| d.path),
        steps: steps.done,
        xml,
        started,
        boot: None,
    })
}

/// One domain per environment until `replace` exists: two would share the
/// data disk and the MAC. Returns this release's domain if it is defined.
fn check_domains(
    steps: &mut Steps,
    virsh: &Virsh,
    env: &str,
    name: &str,
) -> Result<Option<Record>> {
    steps.run("domains", || {
        let found = find_domains(virsh, env)?;
        if let Some(other) = found.iter().find(|r| r.name != name) {
            return Err(Error::invalid(format!(
                "{env} already has domain {} (release {}); stop it with `torrust-bake libvirt down {env}` first (they would share the data disk)",
                other.name, other.version
            ))
            .into());
        }
        let mine = found.into_iter().find(|r| r.name == name);
        let detail = match &mine {
            Some(_) => format!("{name} is defined"),
            None => format!("no domain of {env}"),
        };
        Ok((mine, detail))
    })
}

/// A domain's own directory: overlay, seed copy, console log.
fn vm_dir(config: &Config, name: &str) -> PathBuf {
    config
        .libvirt
        .storage_dir
        .join(config.env.as_str())
        .join(name)
}

/// The domain of release `version`: its files under the storage directory.
fn spec(config: &Config, name: &str, version: &str, accel: Accel, seed: SeedKind) -> Spec {
    let lv = &config.libvirt;
    let dir = vm_dir(config, name);
    Spec {
        name: name.to_string(),
        env: config.env.to_string(),
        version: version.to_string(),
        accel,
        firmware: lv.firmware,
        vcpus: lv.vcpus,
        memory_mib: lv.memory_mib,
        overlay: dir.join("disk.qcow2"),
        seed: match seed {
            SeedKind::Iso => Seed::Iso(dir.join("seed.iso")),
            SeedKind::Img => Seed::Img(dir.join("seed.img")),
        },
        data_disk: data_disk(config),
        network: lv.network.clone(),
        mac: nic_mac(&config.hostname),
        console_log: dir.join("console.log"),
        dir,
    }
}

fn would(dry: bool, s: String) -> String {
    if dry {
        format!("would: {s}")
    } else {
        s
    }
}

/// The overlay over the base image, the seed copy and the data disk.
fn make_disks(
    steps: &mut Steps,
    config: &Config,
    spec: &Spec,
    base: &Path,
    release_dir: &Path,
    dry: bool,
) -> Result<()> {
    let lv = &config.libvirt;
    steps.run("overlay", || {
        let want = lv.disk_size_gb * disks::GIB;
        let (format, base_size) = if base.is_file() {
            disks::probe(base)?
        } else {
            (disks::Format::Qcow2, 0)
        };
        let size = want.max(base_size);
        if !dry {
            disks::mkdir(&spec.dir)?;
            disks::overlay(&spec.overlay, base, format, size)?;
        }
        let detail = format!(
            "{} over {} ({}), {} GiB",
            spec.overlay.display(),
            base.display(),
            format.name(),
            size / disks::GIB
        );
        Ok(((), would(dry, detail)))
    })?;
    let seed_src = match spec.seed {
        Seed::Iso(_) => release_dir.join("seed.iso"),
        Seed::Img(_) => release_dir.join("seed.img"),
    };
    steps.run("seed", || {
        if !dry {
            disks::copy_seed(&seed_src, spec.seed.path())?;
        }
        let detail = format!(
            "{} -> {} (0600)",
            seed_src.display(),
            spec.seed.path().display()
        );
        Ok(((), would(dry, detail)))
    })?;
    if let Some(d) = &spec.data_disk {
        steps.run("data disk", || {
            let exists = d.path.is_file();
            if !dry {
                disks::mkdir(&lv.storage_dir.join(config.env.as_str()))?;
                disks::data_disk(&d.path, config.data_volume_size_gb * disks::GIB)?;
            }
            let detail = if exists {
                format!(
                    "{} kept (serial {}; the guest mounts it as is)",
                    d.path.display(),
                    d.serial
                )
            } else {
                would(
                    dry,
                    format!(
                        "{} created, {} GiB sparse (serial {}; the guest formats it on first use)",
                        d.path.display(),
                        config.data_volume_size_gb,
                        d.serial
                    ),
                )
            };
            Ok(((), detail))
        })?;
    }
    Ok(())
}

/// Makes the domain of release `rel` (its disks, then `virsh define`),
/// not started.
fn define_new(
    steps: &mut Steps,
    config: &Config,
    virsh: &Virsh,
    rel: &ReleaseRef,
    seed: SeedKind,
    dry: bool,
) -> Result<(Spec, String)> {
    let lv = &config.libvirt;
    let name = domain::domain_name(config.env.as_str(), &rel.version);
    let (accel, accel_detail) = decide_accel(virsh, lv.domain_type, dry)?;
    steps.run("domain type", || Ok(((), accel_detail)))?;
    let cache = lv.storage_dir.join("cache");
    let base = steps.run("base image", || {
        let mut report = |line: &str| errln!("{line}");
        let (path, how) = disks::base_image(&lv.base_image, &cache, dry, &mut report)?;
        let detail = format!("{} ({how})", path.display());
        Ok((path, detail))
    })?;
    let spec = spec(config, &name, &rel.version, accel, seed);
    let xml = domain::xml(&spec);
    make_disks(steps, config, &spec, &base, &rel.dir, dry)?;
    define(steps, virsh, config, &spec, &xml, dry)?;
    Ok((spec, xml))
}

fn define(
    steps: &mut Steps,
    virsh: &Virsh,
    config: &Config,
    spec: &Spec,
    xml: &str,
    dry: bool,
) -> Result<()> {
    let lv = &config.libvirt;
    let name = &spec.name;
    steps.run("define", || {
        if !dry {
            virsh.define(xml)?;
        }
        let firmware = match lv.firmware {
            Firmware::Efi => "UEFI, Secure Boot off",
            Firmware::Bios => "BIOS",
        };
        let detail = format!(
            "{name} ({}, {firmware}, {} vCPU, {} MiB)",
            spec.accel.name(),
            lv.vcpus,
            lv.memory_mib
        );
        Ok(((), would(dry, detail)))
    })
}

/// Starts the defined domain; returns when it was started.
fn start(
    steps: &mut Steps,
    virsh: &Virsh,
    config: &Config,
    spec: &Spec,
    dry: bool,
) -> Result<Instant> {
    let (name, env) = (&spec.name, config.env.as_str());
    steps.run("start", || {
        let started = Instant::now();
        if !dry {
            virsh.start(name).with_context(|| {
                format!("{name} is defined but did not start; `torrust-bake libvirt down {env}` removes it")
            })?;
        }
        let detail = format!("{name}; console: {}", spec.console_log.display());
        Ok((started, would(dry, detail)))
    })
}

/// `up` for a release whose domain exists: start it if it is off.
fn start_existing(
    virsh: &Virsh,
    record: Record,
    rel: ReleaseRef,
    mut steps: Steps,
) -> Result<UpOutcome> {
    let xml = virsh.dumpxml(&record.name)?;
    let state = virsh.state(&record.name)?;
    let running = state.is_running();
    let mut started = Instant::now();
    if !running {
        started = steps.run("start", || {
            let started = Instant::now();
            virsh.start(&record.name)?;
            Ok((started, format!("{} (was {})", record.name, state.0)))
        })?;
    }
    let accel = if xml.starts_with("<domain type='kvm'") || xml.starts_with("<domain type=\"kvm\"")
    {
        Accel::Kvm
    } else {
        Accel::Qemu
    };
    Ok(UpOutcome {
        env: record.env,
        version: rel.version,
        domain: record.name,
        dry_run: false,
        already_running: running,
        domain_type: accel,
        console_log: record
            .console_log
            .unwrap_or_else(|| record.dir.join("console.log")),
        data_disk: record.data_disk,
        steps: steps.done,
        xml,
        started,
        boot: None,
    })
}
