//! Writing a release into `releases/<env>/<version>/` so that a crash at
//! any moment, or a second build running beside this one, leaves every
//! release either whole or absent:
//!
//! - one writer per environment: `releases/<env>/.lock` (flock); a second
//!   build says who holds it and stops;
//! - leftovers of killed builds (`.<version>-*` temporary directories) are
//!   removed by the next writer, under the lock;
//! - files and directories are fsynced before the release becomes visible
//!   by one rename;
//! - a release being replaced is swapped with its new copy atomically
//!   (`renameat2(RENAME_EXCHANGE)`), so the version never goes missing;
//!   where the filesystem cannot exchange, the old copy is moved aside first;
//! - what is in the way and not ours (a file, a folder that is not this
//!   release) is refused before anything is written.
//!
//! Written here: no crate combines an atomic directory exchange with its
//! fallback; `rustix` gives the system call, std the file lock.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::store::{self, env_dir};
use super::verify::Finding;
use super::{Entry, Release};
use crate::error::Error;

/// Writes new files under one directory, creating each directory once (a
/// release has ~30 files in ~25 directories; repeated `mkdir` calls were a
/// visible share of the build time), then fsyncs every file and every
/// directory made, intermediate ones included (each holds the entry of the
/// one below), all at once.
struct Writer {
    made: BTreeSet<PathBuf>,
    written: Vec<(PathBuf, fs::File)>,
}

impl Writer {
    fn write(&mut self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        if let Some(parent) = path.parent() {
            self.mkdirs(parent)?;
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        // The umask may have dropped bits the bundle needs (e.g. 0755
        // scripts); 0600 survives any umask that lets the owner write.
        if mode != 0o600 {
            f.set_permissions(fs::Permissions::from_mode(mode))
                .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
        self.written.push((path.to_path_buf(), f));
        Ok(())
    }

    /// Makes `dir` and every missing directory above it (up to the one the
    /// writer started in), 0700, each recorded to be fsynced.
    fn mkdirs(&mut self, dir: &Path) -> Result<()> {
        if self.made.contains(dir) {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.mkdirs(parent)?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        self.made.insert(dir.to_path_buf());
        Ok(())
    }

    /// fsyncs every file written and every directory made.
    fn sync(mut self) -> Result<()> {
        for dir in &self.made {
            let d = fs::File::open(dir).with_context(|| format!("flushing {}", dir.display()))?;
            self.written.push((dir.clone(), d));
        }
        sync_together(&self.written)
    }
}

/// fsyncs `files` from several threads at once. One after another, each
/// fsync of a new file waited for a journal commit of its own (ext4: ~60
/// commits, most of a build's time); fsyncs that wait together share one.
fn sync_together(files: &[(PathBuf, fs::File)]) -> Result<()> {
    const THREADS: usize = 16;
    let per_thread = files.len().div_ceil(THREADS).max(1);
    std::thread::scope(|s| {
        let threads: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| {
                s.spawn(move || -> Result<()> {
                    for (path, f) in chunk {
                        f.sync_all()
                            .with_context(|| format!("flushing {}", path.display()))?;
                    }
                    Ok(())
                })
            })
            .collect();
        threads.into_iter().try_for_each(|t| {
            t.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread flushing the release panicked")))
        })
    })
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("flushing {}", dir.display()))
}

/// What `write` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    New,
    /// The same release was there, every file as its checksums say.
    Unchanged,
    /// The same release was there but its files were not what its checksums
    /// say (edited by hand?): it was written again.
    Repaired(Vec<Finding>),
}

/// Writes every file of `release` under `dir` (a fresh directory), then
/// fsyncs all of it together. Each top-level part (bundle/, redacted/, the
/// files beside them) is written on a thread of its own, making its own
/// directories (the parts share none but `dir`): creating ~60 files and
/// ~25 directories one after another was a quarter of a build.
fn write_files(dir: &Path, release: &Release) -> Result<()> {
    let entries = release.entries();
    let mut parts: BTreeMap<Option<&str>, Vec<&Entry>> = BTreeMap::new();
    for e in &entries {
        let top = e.path.split_once('/').map(|(top, _)| top);
        parts.entry(top).or_default().push(e);
    }
    let writers: Vec<Result<Writer>> = std::thread::scope(|s| {
        let threads: Vec<_> = parts
            .values()
            .map(|part| {
                s.spawn(move || -> Result<Writer> {
                    let mut w = Writer {
                        made: BTreeSet::from([dir.to_path_buf()]),
                        written: Vec::new(),
                    };
                    for e in part {
                        w.write(&dir.join(&e.path), e.bytes, e.mode)?;
                    }
                    Ok(w)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(anyhow::anyhow!("a thread writing the release panicked"))
                })
            })
            .collect()
    });
    let mut all = Writer {
        made: BTreeSet::new(),
        written: Vec::new(),
    };
    for w in writers {
        let w = w?;
        all.made.extend(w.made);
        all.written.extend(w.written);
    }
    all.sync()
}

/// How an existing copy of this release differs from the one in memory:
/// every file compared byte for byte (regular files only: a symlink is a
/// difference), and every file it holds beyond them. No key needed.
fn differences(target: &Path, release: &Release) -> Result<Vec<Finding>> {
    let finding = |path: &str, problem: &str| Finding {
        path: path.to_string(),
        problem: problem.to_string(),
    };
    let mut out = Vec::new();
    let expected = release.entries();
    for e in &expected {
        match store::read_regular(&target.join(&e.path)) {
            Ok(bytes) if bytes == e.bytes => {}
            Ok(_) => out.push(finding(&e.path, "differs")),
            Err(_) => out.push(finding(&e.path, "missing, or not a regular file")),
        }
    }
    let mut on_disk = Vec::new();
    super::verify::files_on_disk(target, Path::new(""), &mut on_disk)?;
    for path in on_disk {
        if !expected.iter().any(|e| e.path == path) {
            out.push(finding(&path, "not part of the release (added by hand?)"));
        }
    }
    Ok(out)
}

/// The environment's lock, held until dropped.
fn lock(env_dir: &Path) -> Result<fs::File> {
    let path = env_dir.join(".lock");
    try_lock(&path)?.ok_or_else(|| {
        Error::new(
            crate::error::Kind::Unreachable,
            format!(
                "another torrust-bake is writing {} (it holds {}); wait for it to finish, then run this again",
                env_dir.display(),
                path.display()
            ),
        )
        .into()
    })
}

/// An exclusive flock on `path` (made 0600), held until the file is
/// dropped and gone with the process; `None` when another holds it.
pub fn try_lock(path: &Path) -> Result<Option<fs::File>> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Removes what killed builds left: hidden entries beside the releases
/// (temporary copies, copies moved aside, the seed.qcow2 scratch files
/// that builds before in-memory images made). Only
/// under the lock.
fn remove_leftovers(env_dir: &Path) -> Result<()> {
    for entry in fs::read_dir(env_dir).with_context(|| format!("reading {}", env_dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') || name == ".lock" {
            continue;
        }
        let path = entry.path();
        // `.V-xxxx.replaced` is the old copy of V from a fallback
        // replacement killed between its two renames: if V is missing, it
        // is the only copy, so it goes back.
        if let Some(version) = name
            .strip_suffix(".replaced")
            .and_then(|n| n[1..].split('-').next())
        {
            let original = env_dir.join(version);
            if crate::version::is_version(version) && !original.exists() {
                fs::rename(&path, &original)
                    .with_context(|| format!("restoring {}", original.display()))?;
                continue;
            }
        }
        let removed = if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.with_context(|| format!("removing the leftover {}", path.display()))?;
    }
    Ok(())
}

/// What is at the release's place now.
enum Place {
    Empty,
    Same,
    Replace(Vec<Finding>),
}

/// Looks at `target` before anything is written: refuses what is not ours.
fn inspect(target: &Path, release: &Release) -> Result<Place> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Place::Empty),
        Err(e) => return Err(e).with_context(|| format!("looking at {}", target.display())),
    };
    let refuse = |what: &str| -> Result<Place> {
        Err(Error::invalid(format!(
            "{} {what}; move it away and build again (nothing was written)",
            target.display()
        ))
        .into())
    };
    if !meta.is_dir() {
        return refuse("is in the way: it is not a directory");
    }
    let Ok(existing) = store::read_regular(&target.join("manifest.json")) else {
        if fs::read_dir(target)?.next().is_none() {
            fs::remove_dir(target).with_context(|| format!("removing {}", target.display()))?;
            return Ok(Place::Empty);
        }
        return refuse("holds files that are not a release (no manifest.json)");
    };
    if existing == release.manifest_json {
        let findings = differences(target, release)?;
        return Ok(if findings.is_empty() {
            Place::Same
        } else {
            Place::Replace(findings)
        });
    }
    let theirs: Option<super::Manifest> = serde_json::from_slice(&existing).ok();
    match theirs {
        Some(m) if m.version == release.manifest.version && m.env == release.manifest.env => {
            // Ours, written by another build of torrust-bake: replace it.
            Ok(Place::Replace(vec![Finding {
                path: "manifest.json".into(),
                problem: "differs from this build's".into(),
            }]))
        }
        _ => refuse("holds a manifest.json of another release"),
    }
}

/// Swaps two directories atomically; false when the filesystem cannot.
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) => Err(std::io::Error::from(e))
            .with_context(|| format!("exchanging {} with {}", a.display(), b.display())),
    }
}

/// Puts the finished copy `new` in `target`'s place; the old copy, if any,
/// never leaves a moment with no release there when the system can exchange.
fn install(new: &Path, target: &Path, existed: bool) -> Result<()> {
    if !existed {
        return fs::rename(new, target)
            .with_context(|| format!("renaming into {}", target.display()));
    }
    if exchange(new, target)? {
        // `new` now holds the old copy.
        return fs::remove_dir_all(new).with_context(|| format!("removing {}", new.display()));
    }
    let aside = new.with_extension("replaced");
    fs::rename(target, &aside).with_context(|| format!("moving {} aside", target.display()))?;
    fs::rename(new, target).with_context(|| format!("renaming into {}", target.display()))?;
    fs::remove_dir_all(&aside).with_context(|| format!("removing {}", aside.display()))
}

/// The right to write an environment's releases: the lock, held until
/// dropped, and leftovers of killed builds already removed.
pub struct EnvLock {
    _file: fs::File,
    env_dir: PathBuf,
}

impl EnvLock {
    /// `releases/<env>`.
    pub fn dir(&self) -> &Path {
        &self.env_dir
    }
}

/// Takes `releases/<env>`'s lock (or says who holds it) and cleans up.
pub fn lock_env(project: &Path, env: &str) -> Result<EnvLock> {
    let env_dir = env_dir(project, env);
    super::store::ensure_dir(&env_dir)?;
    let file = lock(&env_dir)?;
    remove_leftovers(&env_dir)?;
    Ok(EnvLock {
        _file: file,
        env_dir,
    })
}

/// Writes the release into `releases/<env>/<version>/`, under the lock.
pub fn write(lock: &EnvLock, release: &Release) -> Result<(PathBuf, Written)> {
    let env_dir = lock.env_dir.clone();
    let target = env_dir.join(&release.manifest.version);
    let (existed, outcome) = match inspect(&target, release)? {
        Place::Same => return Ok((target, Written::Unchanged)),
        Place::Empty => (false, Written::New),
        Place::Replace(findings) => (true, Written::Repaired(findings)),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}-", release.manifest.version))
        .tempdir_in(&env_dir)
        .with_context(|| format!("creating a temporary directory in {}", env_dir.display()))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700))?;
    write_files(tmp.path(), release)?;
    let new = tmp.keep();
    install(&new, &target, existed)?;
    sync_dir(&env_dir)?;
    Ok((target, outcome))
}
