//! Environments: every `environments/<name>.env` whose name follows
//! [`NAME_RULE`], and how strict validation is on it.
//!
//! `local`, `staging` and `production` are built in and keep the strictness
//! they always had: no line in a file and no exported variable makes
//! production lenient. Any other environment declares its strictness in its
//! own file (`TORRUST_BAKE_STRICTNESS`), because nothing else can tell
//! whether a new name is a laptop or a second production. The process
//! environment may make an environment stricter (a CI run checking a
//! lenient environment as production would be checked), never more lenient.

use std::fmt;
use std::path::Path;

use serde::{Serialize, Serializer};

use super::report::{Problem, Report};
use super::source::{Assignment, Source};
pub use super::strictness::Strictness;
use super::vars::VarId;

/// The built-in environments in the order they are listed, with the
/// strictness no file can change.
pub const BUILT_IN: [(&str, Strictness); 3] = [
    ("local", Strictness::Lenient),
    ("staging", Strictness::Strict),
    ("production", Strictness::Strict),
];

fn built_in_strictness(name: &str) -> Option<Strictness> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// An environment: its name (`environments/<name>.env`), its strictness and
/// where that came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    name: String,
    pub strictness: Strictness,
    /// `Source::Default` for a built-in environment's own strictness.
    pub source: Source,
}

impl Environment {
    /// One of the built-in environments with its own strictness, or `None`.
    pub fn built_in(name: &str) -> Option<Environment> {
        built_in_strictness(name).map(|strictness| Environment {
            name: name.to_string(),
            strictness,
            source: Source::Default,
        })
    }

    /// An environment whose strictness was read from `source`; the name is
    /// taken as given (checked by [`unknown`] before any file is read).
    pub fn declared(name: &str, strictness: Strictness, source: Source) -> Environment {
        Environment {
            name: name.to_string(),
            strictness,
            source,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn is_strict(&self) -> bool {
        self.strictness == Strictness::Strict
    }

    /// Where the strictness came from, as `show` prints it.
    pub fn strictness_source(&self) -> String {
        match &self.source {
            Source::Default => "built in".to_string(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<Path> for Environment {
    fn as_ref(&self) -> &Path {
        self.name.as_ref()
    }
}

/// Templates and manifests see the name only: strictness decides what is
/// accepted, never what is rendered.
impl Serialize for Environment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

/// The rule a name follows. It becomes directory and file names
/// (`releases/<env>/`, the secrets file, the libvirt storage directory),
/// libvirt domain names (`torrust-<env>-<version>`) and may become a host
/// name: a lower-case DNS label, short enough to leave room around it.
/// `images` is taken: its own lock would be the shared `images/images.lock`.
pub const NAME_RULE: &str = "1 to 32 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'; not `images` (images/images.lock is the shared lock)";

pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    name != "images"
        && (1..=32).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `environments/<name>.env`, relative to the project.
pub fn file(name: &str) -> String {
    format!("environments/{name}.env")
}

/// The environments a project has: the built-in ones whose file exists,
/// then every other `environments/*.env` with a valid name, sorted.
pub fn existing(project: &Path) -> Vec<String> {
    let mut others: Vec<String> = std::fs::read_dir(project.join("environments"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".env").map(str::to_string))
        .filter(|n| valid_name(n))
        .collect();
    others.sort();
    let mut out: Vec<String> = BUILT_IN
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| others.contains(n))
        .collect();
    out.extend(
        others
            .into_iter()
            .filter(|n| built_in_strictness(n).is_none()),
    );
    out
}

/// `(message, fix)` when `name` is not an environment of `project`: a name
/// that breaks [`NAME_RULE`], or one without a file. A built-in name is
/// always known: its missing file is reported when it is read, with the
/// advice to restore it.
pub fn unknown(project: &Path, name: &str) -> Option<(String, String)> {
    // symlink_metadata: a dangling link is there, and reading it says why.
    let there = valid_path(name) && std::fs::symlink_metadata(project.join(file(name))).is_ok();
    if !valid_name(name) {
        let fix = if there {
            "rename the file to follow the rule and use the new name (environments/dev.env is `dev`)".to_string()
        } else {
            listing(project)
        };
        return Some((
            format!(
                "{}: '{name}' is not an environment name ({NAME_RULE})",
                file(name)
            ),
            fix,
        ));
    }
    if built_in_strictness(name).is_some() || there {
        return None;
    }
    Some((
        format!("unknown environment '{name}': there is no {}", file(name)),
        format!(
            "{}; or create {} with TORRUST_BAKE_STRICTNESS=lenient or strict",
            listing(project),
            file(name)
        ),
    ))
}

/// Whether `name` stays inside environments/ as a file name: only then is
/// looking for its file meaningful.
fn valid_path(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// The environments there are, as the fix of an unknown name.
fn listing(project: &Path) -> String {
    let known = existing(project);
    if known.is_empty() {
        format!(
            "there is no environment in {}: run from the project directory (-C DIR)",
            project.join("environments").display()
        )
    } else {
        format!(
            "use one of: {} (the files in environments/)",
            known.join(", ")
        )
    }
}

const VAR: VarId = VarId::TORRUST_BAKE_STRICTNESS;

/// The environment `name` read from `file`'s `assignments` and the process
/// environment, or `None` after reporting why its strictness cannot be
/// known (then nothing else should be validated: strictness decides what
/// counts as a problem).
pub fn resolve(
    name: &str,
    file: &Path,
    assignments: &[Assignment],
    process: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) -> Option<Environment> {
    let at = |line| Source::File {
        path: file.to_path_buf(),
        line,
    };
    let declared = declared_in(assignments, &at, report)?;
    let base = match (built_in_strictness(name), declared) {
        (Some(own), Some((said, line))) if said != own => {
            report.push(Problem::error(
                Some(VAR.name().into()),
                at(line),
                format!("{name} is always {own}; its file cannot make it {said}"),
                &format!("remove the line: local is lenient, staging and production strict, always; a {said} environment needs a name of its own (a file environments/<name>.env)"),
            ));
            return None;
        }
        (Some(own), _) => Environment::declared(name, own, Source::Default),
        (None, Some((said, line))) => Environment::declared(name, said, at(line)),
        (None, None) => {
            report.push(Problem::error(
                Some(VAR.name().into()),
                at(0),
                format!("is not set; an environment other than local, staging and production declares its strictness in {}", file.display()),
                &format!("add TORRUST_BAKE_STRICTNESS=lenient (local defaults and tags allowed, like local) or TORRUST_BAKE_STRICTNESS=strict (real secrets and digests only, like production) to {}", file.display()),
            ));
            return None;
        }
    };
    tightened(base, process, report)
}

/// The strictness the file declares, with its line; `Some(None)` when it
/// declares none, `None` after reporting a word that is not a strictness or
/// two lines that disagree. Unlike other variables, a later line does not
/// win here: `strict` then `lenient` (a line appended to a copied file) would
/// relax the environment silently, so a file that says both is refused.
fn declared_in(
    assignments: &[Assignment],
    at: &dyn Fn(usize) -> Source,
    report: &mut Report,
) -> Option<Option<(Strictness, usize)>> {
    let mut declared: Option<(Strictness, usize)> = None;
    for a in assignments
        .iter()
        .filter(|a| a.name == VAR.name() && !a.value.is_empty())
    {
        let Some(said) = Strictness::parse(&a.value) else {
            report.push(not_a_strictness(at(a.line)));
            return None;
        };
        match declared {
            Some((first, line)) if first != said => {
                report.push(Problem::error(
                    Some(VAR.name().into()),
                    at(a.line),
                    format!(
                        "is declared twice with different values ({first} on line {line}, {said} on line {}); the file cannot say both",
                        a.line
                    ),
                    "keep one TORRUST_BAKE_STRICTNESS line: strict (real secrets and digests only, like production) or lenient (local defaults and tags allowed, like local)",
                ));
                return None;
            }
            // The same word again: the first line stands (set twice is
            // reported with the other variables).
            Some(_) => {}
            None => declared = Some((said, a.line)),
        }
    }
    Some(declared)
}

fn not_a_strictness(source: Source) -> Problem {
    Problem::error(
        Some(VAR.name().into()),
        source,
        "is not strict or lenient".into(),
        "write TORRUST_BAKE_STRICTNESS=strict or TORRUST_BAKE_STRICTNESS=lenient",
    )
}

/// `env` with the process environment's `TORRUST_BAKE_STRICTNESS` applied:
/// it may make the environment strict; asking for lenient on a strict
/// environment is refused, so that an exported variable (a CI setting, a
/// shell left over) cannot relax what production checks. Set empty: no
/// effect.
fn tightened(
    env: Environment,
    process: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) -> Option<Environment> {
    let Some(word) = process(VAR.name()).filter(|w| !w.is_empty()) else {
        return Some(env);
    };
    match Strictness::parse(&word) {
        None => {
            report.push(not_a_strictness(Source::Process));
            None
        }
        Some(Strictness::Lenient) if env.is_strict() => {
            report.push(Problem::error(
                Some(VAR.name().into()),
                Source::Process,
                format!(
                    "cannot make {env} lenient: it is strict ({})",
                    env.strictness_source()
                ),
                &format!("unset {} (the process environment may make an environment stricter, never more lenient)", VAR.name()),
            ));
            None
        }
        Some(s) => Some(Environment::declared(env.as_str(), s, Source::Process)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn resolve_with(
        name: &str,
        lines: &[&str],
        exported: Option<&str>,
    ) -> (Option<Environment>, Vec<String>) {
        let assignments: Vec<Assignment> = lines
            .iter()
            .enumerate()
            .map(|(i, value)| Assignment {
                name: VAR.name().into(),
                value: value.to_string(),
                line: i + 1,
            })
            .collect();
        let mut report = Report::default();
        let process = |n: &str| {
            (n == VAR.name())
                .then(|| exported.map(str::to_string))
                .flatten()
        };
        let path = PathBuf::from(file(name));
        let env = resolve(name, &path, &assignments, &process, &mut report);
        let problems = report.problems.iter().map(|p| p.to_string()).collect();
        (env, problems)
    }

    fn strictness(env: &Option<Environment>) -> Option<(Strictness, String)> {
        env.as_ref().map(|e| (e.strictness, e.strictness_source()))
    }

    #[test]
    fn built_ins_keep_their_strictness() {
        assert!(Environment::built_in("production").unwrap().is_strict());
        assert!(Environment::built_in("staging").unwrap().is_strict());
        assert!(!Environment::built_in("local").unwrap().is_strict());
        assert_eq!(Environment::built_in("dev"), None);
        let (env, problems) = resolve_with("local", &[], None);
        assert_eq!(
            strictness(&env),
            Some((Strictness::Lenient, "built in".into()))
        );
        assert!(problems.is_empty());
        // Restating it is fine; it stays built in.
        let (env, _) = resolve_with("production", &["strict"], None);
        assert_eq!(
            strictness(&env),
            Some((Strictness::Strict, "built in".into()))
        );
        assert_eq!(
            serde_json::to_string(&env.unwrap()).unwrap(),
            "\"production\""
        );
    }

    #[test]
    fn a_built_in_declaring_another_strictness_is_refused() {
        let (env, problems) = resolve_with("production", &["lenient"], None);
        assert_eq!(env, None);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("error: TORRUST_BAKE_STRICTNESS (environments/production.env:1): production is always strict"),
            "{problems:?}"
        );
        let (env, _) = resolve_with("local", &["strict"], None);
        assert_eq!(env, None);
    }

    #[test]
    fn other_environments_declare_theirs() {
        let (env, problems) = resolve_with("dev", &["lenient"], None);
        assert_eq!(
            strictness(&env),
            Some((Strictness::Lenient, "environments/dev.env:1".into()))
        );
        assert!(problems.is_empty());
        // The same word twice is one declaration, from its first line.
        let (env, problems) = resolve_with("dev", &["strict", "strict"], None);
        assert_eq!(
            strictness(&env),
            Some((Strictness::Strict, "environments/dev.env:1".into()))
        );
        assert!(problems.is_empty());
        // Two different words: the file cannot say both (a later line
        // does not relax it), whichever comes first.
        for (lines, name) in [
            (["strict", "lenient"], "dev"),
            (["lenient", "strict"], "dev"),
            (["strict", "lenient"], "production"),
        ] {
            let (env, problems) = resolve_with(name, &lines, None);
            assert_eq!(env, None, "{lines:?}");
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with(&format!("error: TORRUST_BAKE_STRICTNESS (environments/{name}.env:2): is declared twice with different values ({} on line 1, {} on line 2)", lines[0], lines[1])),
                "{problems:?}"
            );
        }
        let (env, problems) = resolve_with("dev", &[], None);
        assert_eq!(env, None);
        assert!(
            problems[0]
                .starts_with("error: TORRUST_BAKE_STRICTNESS (environments/dev.env): is not set"),
            "{problems:?}"
        );
        // Set empty is not a declaration.
        assert_eq!(resolve_with("dev", &[""], None).0, None);
        let (env, problems) = resolve_with("dev", &["loose"], None);
        assert_eq!(env, None);
        assert!(problems[0].contains("dev.env:1): is not strict or lenient"));
        // The process environment does not declare it for the file.
        assert_eq!(resolve_with("dev", &[], Some("strict")).0, None);
    }

    #[test]
    fn the_process_environment_only_tightens() {
        let (env, _) = resolve_with("dev", &["lenient"], Some("strict"));
        assert_eq!(
            strictness(&env),
            Some((Strictness::Strict, "process environment".into()))
        );
        let (env, _) = resolve_with("local", &[], Some("strict"));
        assert_eq!(strictness(&env).unwrap().0, Strictness::Strict);
        for (name, lines) in [("production", &[][..]), ("dev", &["strict"][..])] {
            let (env, problems) = resolve_with(name, lines, Some("lenient"));
            assert_eq!(env, None, "{name}");
            assert!(
                problems[0].contains(&format!(
                    "(process environment): cannot make {name} lenient"
                )),
                "{problems:?}"
            );
        }
        let (env, _) = resolve_with("production", &[], Some(""));
        assert_eq!(strictness(&env).unwrap().1, "built in");
        assert_eq!(resolve_with("local", &[], Some("lax")).0, None);
    }

    #[test]
    fn names() {
        for good in ["dev", "a", "staging-2", "eu1", &"a".repeat(32)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Dev",
            "1dev",
            "-dev",
            "dev-",
            "dev_1",
            "dev.x",
            "../x",
            "a/b",
            "dév",
            &"a".repeat(33),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_names_list_the_environments_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let envs = dir.path().join("environments");
        std::fs::create_dir(&envs).unwrap();
        for f in [
            "production.env",
            "zz.env",
            "dev.env",
            "local.env",
            "Bad.env",
            "notes.txt",
        ] {
            std::fs::write(envs.join(f), "").unwrap();
        }
        assert_eq!(existing(dir.path()), ["local", "production", "dev", "zz"]);
        assert_eq!(unknown(dir.path(), "dev"), None);
        // Built in: its missing file is reported when it is read.
        assert_eq!(unknown(dir.path(), "staging"), None);
        let (message, fix) = unknown(dir.path(), "prod").unwrap();
        assert_eq!(
            message,
            "unknown environment 'prod': there is no environments/prod.env"
        );
        assert!(
            fix.starts_with("use one of: local, production, dev, zz (the files in environments/)"),
            "{fix}"
        );
        let (message, _) = unknown(dir.path(), "Bad").unwrap();
        assert!(
            message.starts_with(
                "environments/Bad.env: 'Bad' is not an environment name (1 to 32 characters"
            ),
            "{message}"
        );
    }
}
