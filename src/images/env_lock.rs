//! Which image lock an environment uses: `images/<env>.lock` when that
//! file is there, else the shared `images/images.lock`.
//!
//! A whole-file override, not a merge: the environment's lock names every
//! image it runs, so what staging tries (new digests before production
//! takes them) is one file that can be read, diffed and pinned on its own,
//! and nothing from the shared lock changes under it.

use std::path::Path;

use super::LOCK_PATH;

/// `images/<env>.lock`, relative to the project.
pub fn path_of(env: &str) -> String {
    format!("images/{env}.lock")
}

/// The lock `env` uses, relative to the project. The environment's own
/// lock counts as there when anything is at its path (a dangling link
/// included), so that reading it says what is wrong instead of falling
/// back to the shared lock unnoticed.
pub fn lock_of(project: &Path, env: &str) -> String {
    let own = path_of(env);
    if std::fs::symlink_metadata(project.join(&own)).is_ok() {
        own
    } else {
        LOCK_PATH.to_string()
    }
}

/// The lock, when it is not the shared one: what a release records (a
/// release built from the shared lock records nothing, so its bytes are
/// those of a release built before environments had locks).
pub fn own_lock(lock: &str) -> Option<&str> {
    (lock != LOCK_PATH).then_some(lock)
}

/// The `images pin` command line that pins `lock`.
pub fn pin_command(lock: &str) -> String {
    match own_lock(lock).and_then(|l| l.strip_prefix("images/")?.strip_suffix(".lock")) {
        Some(env) => format!("torrust-bake images pin --env {env}"),
        None => "torrust-bake images pin".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environments_own_lock_wins_when_it_is_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("images")).unwrap();
        assert_eq!(lock_of(dir.path(), "staging"), "images/images.lock");
        std::fs::write(dir.path().join("images/staging.lock"), "").unwrap();
        assert_eq!(lock_of(dir.path(), "staging"), "images/staging.lock");
        assert_eq!(lock_of(dir.path(), "production"), "images/images.lock");
        std::os::unix::fs::symlink("gone", dir.path().join("images/dev.lock")).unwrap();
        assert_eq!(lock_of(dir.path(), "dev"), "images/dev.lock");
        assert_eq!(own_lock("images/images.lock"), None);
        assert_eq!(own_lock("images/dev.lock"), Some("images/dev.lock"));
        assert_eq!(
            pin_command("images/dev.lock"),
            "torrust-bake images pin --env dev"
        );
        assert_eq!(pin_command(LOCK_PATH), "torrust-bake images pin");
    }
}
