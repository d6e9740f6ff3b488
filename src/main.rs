//! Entry point: parse the arguments, run the command, print the error chain,
//! and exit 0 (ok), 1 (invalid input or failed check) or 2 (other error).

use std::process::ExitCode;

use clap::Parser;

use torrust_bake::cli::{Cli, Command};
use torrust_bake::commands::{self, Invalid};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let project = cli.project.as_path();
    let result = match cli.command {
        Command::Check { env, json } => commands::check(project, &env, json),
        Command::Show { env, json } => commands::show(project, &env, json),
        Command::Build { env, json } => commands::build(project, &env, json),
        Command::Diff {
            env,
            from,
            to,
            json,
        } => commands::diff(project, &env, &from, &to, json),
        Command::Health {
            env,
            host,
            wait,
            timeout,
            monitoring,
            json,
        } => commands::health(project, &env, host, wait, timeout, monitoring, json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<Invalid>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
