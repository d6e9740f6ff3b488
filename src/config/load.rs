//! Reading `environments/<env>.env` and the process environment into raw
//! values, each with where it came from.
//!
//! The env-file reader is our own rather than `dotenvy`: we need the line of
//! every value (for `show` and for error messages), strict errors for
//! malformed lines instead of silently skipped ones, and no variable
//! expansion (a `$` in a password is a character, not a reference).
//! Syntax: `NAME=value`, `# comment`, blank lines; a value may be wrapped in
//! single quotes (taken literally) or double quotes (`\\`, `\"`, `\n`, `\$`).

use std::collections::BTreeMap;
use std::path::Path;

use super::report::{Problem, Report};
pub use super::source::{Assignment, Source};
use super::vars::{self, Var, VarId, VARS};

#[derive(Debug, Clone)]
pub struct Raw {
    pub value: String,
    pub source: Source,
}

/// Every variable of the table with its resolved raw value, reached by id.
#[derive(Debug, Clone)]
pub struct RawValues([Raw; VarId::COUNT]);

impl std::ops::Index<VarId> for RawValues {
    type Output = Raw;

    fn index(&self, id: VarId) -> &Raw {
        // In bounds: one entry per id, as `VARS`.
        &self.0[id as usize]
    }
}

impl RawValues {
    /// Every variable in table order with its value.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Var, &Raw)> {
        VARS.iter().zip(self.0.iter())
    }
}

/// Parses an env file; every malformed line is a problem naming file:line.
pub fn parse_env_file(path: &Path, text: &str, report: &mut Report) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let source = Source::File {
            path: path.to_path_buf(),
            line: line_no,
        };
        match parse_line(trimmed) {
            Ok((name, value)) => out.push(Assignment {
                name,
                value,
                line: line_no,
            }),
            Err(why) => report.push(Problem::error(
                None,
                source,
                format!("malformed line: {why}"),
                "write it as NAME=value (quote a value with spaces: NAME=\"a b\"), or start the line with # to comment it out",
            )),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<(String, String), String> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (name, rest) = line
        .split_once('=')
        .ok_or_else(|| "no '=' between name and value".to_string())?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid_name {
        // Not quoted: a line without a name may be a pasted secret.
        return Err("the text before '=' is not a variable name (use A-Z, 0-9 and _)".into());
    }
    let rest = rest.trim();
    let value = if let Some(body) = rest.strip_prefix('\'') {
        let end = body.find('\'').ok_or("the single quote is never closed")?;
        check_tail(&body[end + 1..])?;
        body[..end].to_string()
    } else if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut closed_at = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    closed_at = Some(i);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, e @ ('\\' | '"' | '$'))) => value.push(e),
                    Some(_) => {
                        return Err("an unknown escape in double quotes (only \\n, \\\\, \\\" and \\$ are known)".into())
                    }
                    None => return Err("the double quote is never closed".into()),
                },
                c => value.push(c),
            }
        }
        let end = closed_at.ok_or("the double quote is never closed")?;
        check_tail(&body[end + 1..])?;
        value
    } else {
        // Unquoted: everything up to an inline comment.
        match rest.find(" #") {
            Some(i) => rest[..i].trim_end().to_string(),
            None => rest.to_string(),
        }
    };
    Ok((name.to_string(), value))
}

fn check_tail(tail: &str) -> Result<(), String> {
    let tail = tail.trim();
    if tail.is_empty() || tail.starts_with('#') {
        Ok(())
    } else {
        // Not quoted: it may be the rest of a secret with a quote inside.
        Err(format!(
            "{} characters after the closing quote (a quote inside the value?)",
            tail.chars().count()
        ))
    }
}

/// The known name closest to `name`, when it is close enough to be what
/// was meant.
fn closest(name: &str) -> Option<&'static str> {
    VARS.iter()
        .map(|v| (strsim::levenshtein(v.name, name), v.name))
        .min()
        .filter(|(d, _)| *d <= name.len() / 3 + 2)
        .map(|(_, n)| n)
}

/// An unknown name, as an error when `strict` (a strict environment must
/// not build something other than what it seems to say: a typo silently
/// ignored), else a warning; `undo` is how to take it back ("remove the
/// line", "unset it").
fn unknown_name(name: &str, source: Source, strict: bool, undo: &str) -> Problem {
    let fix = match closest(name) {
        Some(known) => format!("did you mean {known}? Otherwise {undo}"),
        None => format!("{undo}; `torrust-bake show` lists every known variable"),
    };
    let name = Some(name.to_string());
    if strict {
        Problem::error(name, source, "unknown variable".into(), &fix)
    } else {
        Problem::warning(name, source, "unknown variable, ignored".into(), &fix)
    }
}

/// An unknown name in the env file, with the closest known one as the fix.
pub fn unknown(a: &Assignment, source: Source, strict: bool) -> Problem {
    unknown_name(&a.name, source, strict, "remove the line")
}

/// Exported names that look like the table's (its prefixes, `vars::prefixes`)
/// but are none of its variables nor of the names torrust-bake reads
/// besides (`vars::NOT_SETTINGS`): as a typo in the file, an error when
/// `strict`, else a warning. `TORRUST_TRACKER_UDP_PORT=1234` exported for
/// production would otherwise build the default ports without a word.
pub fn unknown_exported<'a>(
    names: impl IntoIterator<Item = &'a str>,
    strict: bool,
    report: &mut Report,
) {
    let prefixes = vars::prefixes();
    let mut names: Vec<&str> = names
        .into_iter()
        .filter(|n| vars::looks_like_ours(n, &prefixes))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        report.push(unknown_name(name, Source::Process, strict, "unset it"));
    }
}

/// The env file's assignments by variable (the later line wins), with a
/// problem for each unknown or repeated name.
fn by_name<'a>(
    file: &Path,
    assignments: &'a [Assignment],
    strict: bool,
    report: &mut Report,
) -> BTreeMap<&'static str, &'a Assignment> {
    let mut from_file = BTreeMap::new();
    for a in assignments {
        let source = Source::File {
            path: file.to_path_buf(),
            line: a.line,
        };
        let Some(v) = vars::find(&a.name) else {
            report.push(unknown(a, source, strict));
            continue;
        };
        if let Some(prev) = from_file.insert(v.name, a) {
            report.push(Problem::warning(
                Some(a.name.clone()),
                source,
                format!(
                    "set twice (also on line {}); this later line wins",
                    prev.line
                ),
                "keep one of the two lines",
            ));
        }
    }
    from_file
}

/// Resolves every variable: process environment, then the secrets file,
/// then the env file, then the default.
pub fn resolve(
    file: &Path,
    assignments: &[Assignment],
    secrets: Option<(&Path, &[Assignment])>,
    process: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    report: &mut Report,
) -> RawValues {
    // Later lines win, as in the env file.
    let from_secrets: BTreeMap<&str, &Assignment> = secrets
        .map(|(_, a)| a.iter().map(|a| (a.name.as_str(), a)).collect())
        .unwrap_or_default();
    let from_file = by_name(file, assignments, strict, report);
    let at = |path: &Path, line| (path.to_path_buf(), line);
    RawValues(std::array::from_fn(|i| {
        let v = &VARS[i];
        // An empty exported secret (a CI variable whose secret is missing)
        // must not hide the secrets file; other variables may be set empty.
        let from_process = process(v.name).filter(|p| !(p.is_empty() && v.is_secret()));
        let (value, source) = if let Some(value) = from_process {
            (value, Source::Process)
        } else if let (Some(a), Some((path, _))) = (from_secrets.get(v.name), secrets) {
            let (path, line) = at(path, a.line);
            (a.value.clone(), Source::SecretsFile { path, line })
        } else if let Some(a) = from_file.get(v.name) {
            let (path, line) = at(file, a.line);
            (a.value.clone(), Source::File { path, line })
        } else {
            (v.default.to_string(), Source::Default)
        };
        Raw { value, source }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Assignment>, Report) {
        let mut report = Report::default();
        let a = parse_env_file(Path::new("x.env"), text, &mut report);
        (a, report)
    }

    #[test]
    fn values_unquoted_and_quoted() {
        let (a, r) =
            parse("# c\n\nA=1\nexport B = two words # note\nD=\"a\\\"b\\n$c\"\nE='$x #y'\nF=\n");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let got: Vec<(&str, &str, usize)> = a
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str(), a.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "1", 3),
                ("B", "two words", 4),
                ("D", "a\"b\n$c", 5),
                ("E", "$x #y", 6),
                ("F", "", 7),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let (a, r) = parse("A=1\nnot a line\nB='open\nc=lower\n");
        assert_eq!(a.len(), 1);
        let lines: Vec<String> = r.problems.iter().map(|p| p.source.to_string()).collect();
        assert_eq!(lines, vec!["x.env:2", "x.env:3", "x.env:4"]);
    }

    #[test]
    fn exported_typos_are_reported_with_the_closest_name() {
        let names = [
            "TORRUST_TRACKER_UDP_PORT",
            "HOME",
            "TORRUST_BAKE_SECRETS_DIR",
            "TORRUST_TRACKER_MODE",
            "LIBVIRT_QQQQQQQQQQQQQQQQQQQQ",
        ];
        let mut report = Report::default();
        unknown_exported(names, true, &mut report);
        let got: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "error: LIBVIRT_QQQQQQQQQQQQQQQQQQQQ (process environment): unknown variable\n  fix: unset it; `torrust-bake show` lists every known variable",
                "error: TORRUST_TRACKER_UDP_PORT (process environment): unknown variable\n  fix: did you mean TORRUST_TRACKER_UDP_PORTS? Otherwise unset it",
            ]
        );
        let mut report = Report::default();
        unknown_exported(["TORRUST_TRACKER_UDP_PORT"], false, &mut report);
        assert_eq!(
            report.problems[0].to_string(),
            "warning: TORRUST_TRACKER_UDP_PORT (process environment): unknown variable, ignored\n  fix: did you mean TORRUST_TRACKER_UDP_PORTS? Otherwise unset it"
        );
    }
}
