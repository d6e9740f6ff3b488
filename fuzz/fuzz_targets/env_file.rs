//! `environments/<env>.env` (read as UTF-8, like `config::load`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use torrust_bake::config::{load::parse_env_file, Report};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut report = Report::default();
    let assignments = parse_env_file(Path::new("x.env"), text, &mut report);
    let lines = text.lines().count();
    for a in &assignments {
        assert!(a.line >= 1 && a.line <= lines, "line {} of {lines}", a.line);
        assert!(!a.name.is_empty());
    }
    let _ = report.to_string();
});
