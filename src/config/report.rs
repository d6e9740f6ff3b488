//! The validation report: every problem found in one run, each with the
//! variable, where its value came from, and the fix (as butane reports).

use std::fmt;

use serde::Serialize;

use super::source::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub severity: Severity,
    pub variable: Option<String>,
    pub source: Source,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub fn error(variable: Option<String>, source: Source, message: String, fix: &str) -> Self {
        Problem {
            severity: Severity::Error,
            variable,
            source,
            message,
            fix: fix.to_string(),
        }
    }

    pub fn warning(variable: Option<String>, source: Source, message: String, fix: &str) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(variable, source, message, fix)
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (&self.variable, &self.source) {
            (Some(v), source) => write!(f, "{level}: {v} ({source}): {}", self.message)?,
            // Not about a value: no "default" source to show.
            (None, super::source::Source::Default) => write!(f, "{level}: {}", self.message)?,
            (None, source) => write!(f, "{level}: {source}: {}", self.message)?,
        }
        write!(f, "\n  fix: {}", self.fix)
    }
}

/// JSON form, for `check --json`.
#[derive(Serialize)]
pub struct ProblemJson<'a> {
    pub severity: Severity,
    pub variable: Option<&'a str>,
    pub source: String,
    pub message: &'a str,
    pub fix: &'a str,
}

#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    pub fn json(&self) -> Vec<ProblemJson<'_>> {
        self.problems
            .iter()
            .map(|p| ProblemJson {
                severity: p.severity,
                variable: p.variable.as_deref(),
                source: p.source.to_string(),
                message: &p.message,
                fix: &p.fix,
            })
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        let warnings = self.problems.len() - self.errors();
        write!(f, "{} error(s), {} warning(s)", self.errors(), warnings)
    }
}
