//! Entry point: parse the arguments, run the command, print the error chain,
//! and exit 0 (ok), 1 (invalid input or failed check) or 2 (other error).

use std::process::ExitCode;

use clap::Parser;

use torrust_bake::cli::{Cli, Command, ImagesCommand};
use torrust_bake::commands::{self, Invalid};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let project = cli.project.as_path();
    let result = match cli.command {
        Command::Check { env, json } => commands::check(project, &env, json),
        Command::Show { env, json } => commands::show(project, &env, json),
        Command::Build {
            env,
            seed_formats,
            json,
        } => commands::build(project, &env, &seed_formats, json),
        Command::Diff {
            env,
            from,
            to,
            json,
        } => commands::diff(project, &env, &from, &to, json),
        Command::Images {
            action: ImagesCommand::Pin { services, registry },
        } => commands::images_pin(project, &services, &registry),
        Command::Images {
            action: ImagesCommand::Verify { registry },
        } => commands::images_verify(project, &registry),
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
