//! Every rendered TOML, YAML and JSON file parsed back before a release
//! accepts it.

use std::path::Path;

use anyhow::{anyhow, Result};

/// Parses a rendered structured file (the format follows from its
/// extension), so a template edit or an unescaped value fails the build
/// instead of the VM. The error says what and where, never the text: the
/// parsers quote the offending line, and rendered files carry secrets.
pub fn parse_back(path: &str, text: &str) -> Result<()> {
    let located = |format: &str, message: &str, offset: Option<usize>| {
        let line = offset.map_or(0, |o| text[..o.min(text.len())].lines().count().max(1));
        anyhow!("{format}: {message} (line {line}; the line is not shown, it may hold a secret)")
    };
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("toml") => {
            toml::from_str::<toml::Value>(text)
                .map_err(|e| located("TOML", e.message(), e.span().map(|s| s.start)))?;
        }
        Some("yaml" | "yml") => {
            serde_saphyr::from_str::<serde_json::Value>(text).map_err(|e| {
                // The first line is "error: line L column C: message"; the
                // rest is a snippet of the text.
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                anyhow!(
                    "YAML: {} (the line is not shown, it may hold a secret)",
                    first.trim_start_matches("error: ")
                )
            })?;
        }
        Some("json") => {
            serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
                anyhow!(
                    "JSON: {:?} error at line {}, column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}
