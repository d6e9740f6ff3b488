//! The local build log, `releases/<env>/builds.log`: when each release was
//! built, by which torrust-bake, from which commit of the project. It lives
//! beside the releases, never in one: a release stays byte-reproducible (no
//! clock, no commit in it, so a docs-only commit is not a new release),
//! while `releases list` can still say when a version was made. One JSON
//! object a line, appended under the environment's lock.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const FILE: &str = "builds.log";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// RFC 3339, UTC, seconds.
    pub time: String,
    pub version: String,
    /// `new`, `unchanged` or `repaired`.
    pub outcome: String,
    /// The torrust-bake that built it.
    pub tool: String,
    /// The project's git commit (`-dirty` with uncommitted changes), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl Entry {
    pub fn now(version: &str, outcome: &str, project: &Path) -> Entry {
        Entry::with_commit(version, outcome, git_commit(project))
    }

    /// An entry of now, with the commit [`git_commit`] found (`build` asks
    /// git while the release is made: two git processes cost more than the
    /// rest of the log's work).
    pub fn with_commit(version: &str, outcome: &str, commit: Option<String>) -> Entry {
        Entry {
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            version: version.to_string(),
            outcome: outcome.to_string(),
            tool: env!("CARGO_PKG_VERSION").to_string(),
            commit,
        }
    }
}

/// `git rev-parse HEAD` of the project, `-dirty` when `git status` is not
/// clean; none outside a git work tree or without git. Outside any
/// repository no git process is started (a process start was ~6 % of a
/// build's time, issue 28).
pub fn git_commit(project: &Path) -> Option<String> {
    if !maybe_in_repository(project) {
        return None;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Whether git could find a repository for `project`: a `.git` (a
/// directory, or a worktree's file) in it or above it, or `GIT_DIR` set.
/// A cheap "no" only: git itself decides the rest.
fn maybe_in_repository(project: &Path) -> bool {
    if std::env::var_os("GIT_DIR").is_some() {
        return true;
    }
    let Ok(start) = project.canonicalize() else {
        return true;
    };
    start.ancestors().any(|d| d.join(".git").exists())
}

/// Appends one line (the caller holds the environment's lock).
pub fn append(env_dir: &Path, entry: &Entry) -> Result<()> {
    append_line(&env_dir.join(FILE), entry)
}

/// Appends `value` as one JSON line to `path` (made 0600) and syncs it: the
/// logs beside the releases are only ever appended to.
///
/// A symbolic link in the log's place is refused (`O_NOFOLLOW`): the
/// append followed it, so a link made by anyone who could write the
/// releases directory had torrust-bake append to any file the builder may
/// write (a shell's rc file, an authorized_keys).
pub fn append_line<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let opened = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(crate::error::Error::invalid(format!(
                "{} is a symbolic link: torrust-bake appends to its logs only in place, never through a link (it may point at any file you can write); remove it, or move the file it points to into its place, and run the command again",
                path.display()
            ))
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    f.write_all(&line)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("appending to {}", path.display()))
}

/// What a log held: every line that parses, oldest first, and the numbers
/// (1-based) of those that did not (a torn last line, a crash mid-append,
/// is neither: it is skipped silently).
#[derive(Debug)]
pub struct Lines<T> {
    pub entries: Vec<T>,
    pub unreadable: Vec<usize>,
}

impl<T> Lines<T> {
    /// "; skipped unreadable line(s) N, M of PATH" for a command's output.
    pub fn note(&self, path: &Path) -> Option<String> {
        (!self.unreadable.is_empty()).then(|| {
            let n: Vec<String> = self.unreadable.iter().map(|n| n.to_string()).collect();
            format!(
                "skipped unreadable line(s) {} of {} (not UTF-8 or not an entry); the others were read",
                n.join(", "),
                path.display()
            )
        })
    }
}

/// Every readable entry, oldest first.
pub fn read(env_dir: &Path) -> Result<Lines<Entry>> {
    read_lines(&env_dir.join(FILE))
}

/// Every line of `path` that parses as a `T`, line by line: one bad byte
/// costs its line, never the file (#27 item 5: a non-UTF-8 line emptied the
/// deployment record, and prune deleted the rollback target). A missing
/// file is empty; a symbolic link in its place is refused, as on append.
pub fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Lines<T>> {
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Lines {
                entries: Vec::new(),
                unreadable: Vec::new(),
            })
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(crate::error::Error::invalid(format!(
                "{} is a symbolic link: torrust-bake reads its logs only in place; remove it, or move the file it points to into its place",
                path.display()
            ))
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    let whole = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let count = lines.len() - 1 + usize::from(!whole);
    let mut out = Lines {
        entries: Vec::new(),
        unreadable: Vec::new(),
    };
    for (i, line) in lines.iter().take(count).enumerate() {
        if line.is_empty() {
            continue;
        }
        match std::str::from_utf8(line)
            .ok()
            .and_then(|l| serde_json::from_str(l).ok())
        {
            Some(entry) => out.entries.push(entry),
            // The last line without its newline: torn by a crash.
            None if i + 1 == count && !whole => {}
            None => out.unreadable.push(i + 1),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_work_tree_gives_its_commit_and_dirty_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-C"])
                .arg(dir.path())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("a"), "1").unwrap();
        git(&["add", "a"]);
        git(&["commit", "-qm", "a"]);
        let sub = dir.path().join("environments");
        std::fs::create_dir(&sub).unwrap();
        let clean = git_commit(&sub).expect("a commit");
        assert_eq!(clean.len(), 40, "{clean}");
        std::fs::write(dir.path().join("a"), "2").unwrap();
        assert_eq!(git_commit(&sub), Some(format!("{clean}-dirty")));
    }

    #[test]
    fn entries_round_trip_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let e = Entry::now("0123456789ab", "new", dir.path());
        assert_eq!(e.commit, None, "not a git work tree");
        append(dir.path(), &e).unwrap();
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        f.write_all(b"{\"time\":\"2026-").unwrap();
        let read_back = read(dir.path()).unwrap();
        assert_eq!((read_back.entries, read_back.unreadable), (vec![e], vec![]));
    }

    #[test]
    fn a_bad_line_costs_that_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let e = Entry::now("0123456789ab", "new", dir.path());
        append(dir.path(), &e).unwrap();
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        f.write_all(b"{\"time\":\"\xff\xfe\"}\nnot json\n").unwrap();
        drop(f);
        append(dir.path(), &e).unwrap();
        let read_back = read(dir.path()).unwrap();
        assert_eq!(read_back.entries, vec![e.clone(), e]);
        assert_eq!(read_back.unreadable, vec![2, 3]);
        assert!(read_back
            .note(Path::new("b.log"))
            .unwrap()
            .contains("line(s) 2, 3 of b.log"));
        let link = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(dir.path().join(FILE), link.path().join(FILE)).unwrap();
        assert!(read(link.path())
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
    }

    #[test]
    fn a_symlinked_log_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, "mine\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(FILE)).unwrap();
        let e = append(dir.path(), &Entry::now("0123456789ab", "new", dir.path())).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "mine\n");
    }
}
