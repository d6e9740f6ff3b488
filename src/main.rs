//! Entry point: parse the arguments, hand each command its clap `Args`,
//! print the error chain, and exit 0 (ok), 1 (invalid input or failed
//! check) or 2 (other error; see `error.rs`). Everything printed goes
//! through `outln!`/`errln!`, which a closed pipe does not panic
//! (`output.rs`).

use std::process::ExitCode;

use clap::Parser;

use torrust_bake::cli::{
    BackupCommand, Cli, Command, ImagesCommand, LibvirtCommand, ProbeCommand, ReleasesCommand,
    SecretsCommand,
};
use torrust_bake::{commands, errln, error, outln, output};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; bad arguments are
            // invalid input (exit 1), as everywhere else, and with --json
            // they come in the one error shape on stdout too.
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            if std::env::args().any(|a| a == "--json") {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or("bad arguments");
                let error = first.strip_prefix("error: ").unwrap_or(first);
                let doc = serde_json::json!({ "ok": false, "error": error, "exit_code": 1 });
                outln!("{doc:#}");
            }
            return ExitCode::from(1);
        }
    };
    let result = match &cli.command {
        Command::Completions(args) => commands::completions(args),
        Command::Man => commands::man(),
        Command::Probe {
            action: ProbeCommand::AnnounceLoop(args),
        } => commands::probe_announce_loop(args),
        Command::Probe {
            action: ProbeCommand::OciLayout(args),
        } => commands::probe_oci_layout(args),
        _ => commands::project_root(cli.project.as_deref()).and_then(|p| run(&cli, &p)),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let code = error::exit_code(&e);
            errln!("error: {e:#}");
            if cli.json {
                let doc = serde_json::json!({ "ok": false, "error": format!("{e:#}"), "exit_code": code });
                outln!("{doc:#}");
            }
            ExitCode::from(code)
        }
    };
    // A reader that left early is not a failure; output lost otherwise is.
    match output::failure() {
        Some(why) => {
            errln!("error: writing standard output: {why}");
            ExitCode::from(2)
        }
        None => code,
    }
}

/// Runs a command that works on the project at `project`.
fn run(cli: &Cli, project: &std::path::Path) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Check(args) => commands::check(project, args, cli.json),
        Command::Show(args) => commands::show(project, args, cli.json),
        Command::Build(args) => commands::build(project, args, cli.json),
        Command::Diff(args) => commands::diff(project, args, cli.json),
        Command::Verify(args) => commands::verify(project, args, cli.json),
        Command::Secrets {
            action: SecretsCommand::Init(args),
        } => commands::secrets_init(project, args, cli.json),
        Command::Secrets {
            action: SecretsCommand::Path(args),
        } => commands::secrets_path(project, args, cli.json),
        Command::Images {
            action: ImagesCommand::Pin(args),
        } => commands::images_pin(project, args, cli.json),
        Command::Images {
            action: ImagesCommand::Verify(args),
        } => commands::images_verify(project, args, cli.json),
        Command::Health(args) => commands::health(project, args, cli.json),
        Command::Backup {
            action: BackupCommand::List(args),
        } => commands::backup_list(project, args, cli.json),
        Command::Releases {
            action: ReleasesCommand::List(args),
        } => commands::releases_list(project, args, cli.json),
        Command::Releases {
            action: ReleasesCommand::Prune(args),
        } => commands::releases_prune(project, args, cli.json),
        Command::Completions(_) | Command::Man | Command::Probe { .. } => {
            unreachable!("handled before the project is found")
        }
        Command::Deploy(args) => commands::deploy(project, args, cli.json),
        Command::Status(args) => commands::status(project, args, cli.json),
        Command::Rollback(args) => commands::rollback(project, args, cli.json),
        Command::Destroy(args) => commands::destroy(project, args, cli.json),
        Command::Libvirt { action } => match action {
            LibvirtCommand::Up(args) => commands::libvirt_up(project, args, cli.json),
            LibvirtCommand::Replace(args) => commands::libvirt_replace(project, args, cli.json),
            LibvirtCommand::Rollback(args) => commands::libvirt_rollback(project, args, cli.json),
            LibvirtCommand::Status(args) => commands::libvirt_status(project, args, cli.json),
            LibvirtCommand::Down(args) => commands::libvirt_down(project, args, cli.json),
        },
    }
}
