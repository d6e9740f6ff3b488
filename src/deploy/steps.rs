//! A plan's steps as they run: each one timed, reported as it ends, and
//! kept for the outcome (`steps` in every deploy command's JSON).

use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

/// One step of a deploy, rollback or destroy, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub detail: String,
    pub ms: u128,
}

/// Runs each step, timing it and reporting it to `progress`.
pub struct Steps<'a> {
    pub done: Vec<Step>,
    progress: &'a mut dyn FnMut(&Step),
}

impl<'a> Steps<'a> {
    pub fn new(progress: &'a mut dyn FnMut(&Step)) -> Steps<'a> {
        Steps {
            done: Vec::new(),
            progress,
        }
    }

    pub fn run<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce() -> Result<(T, String)>,
    ) -> Result<T> {
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

    /// One named part of a provider's primitive, as a step of this plan
    /// (a `provider::StepRunner`).
    pub fn part(
        &mut self,
        name: &'static str,
        f: &mut dyn FnMut() -> Result<String>,
    ) -> Result<()> {
        self.run(name, || Ok(((), f()?)))
    }
}
