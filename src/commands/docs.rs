//! `completions` and `man`, generated from the clap definitions.

use super::*;

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    use clap::CommandFactory as _;
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(
        args.shell,
        &mut cmd,
        "torrust-bake",
        &mut crate::output::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn man() -> Result<ExitCode> {
    use clap::CommandFactory as _;
    clap_mangen::Man::new(crate::cli::Cli::command())
        .render(&mut crate::output::stdout())
        .context("writing the man page")?;
    Ok(ExitCode::SUCCESS)
}
