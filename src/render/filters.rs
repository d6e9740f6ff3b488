//! The escaping filters the templates use, one for each format a value
//! lands in (`toml_str`, `yaml_str`, `compose_str`, `sh_str`), and the URL
//! encoding of secrets inside URLs. Each is tested below against the
//! characters that break its format.

use std::collections::HashMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tera::Value;

/// Characters kept as-is in a URL's user-info or query value (RFC 3986 unreserved).
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_VALUE).to_string()
}

fn str_arg(value: &Value, filter: &str) -> tera::Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| tera::Error::msg(format!("{filter} expects a string, got {value}")))
}

pub(super) fn toml_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "toml_str")?;
    Ok(Value::String(toml::Value::String(s).to_string()))
}

/// A POSIX shell word in single quotes (`'` written as `'\''`).
pub(super) fn sh_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(sh_quote(&str_arg(value, "sh_str")?)))
}

/// `s` as one POSIX shell word (the `sh_str` filter, for files made in code).
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A YAML double-quoted scalar; JSON's string escaping is valid YAML 1.2.
pub(super) fn yaml_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "yaml_str")?;
    Ok(Value::String(
        serde_json::to_string(&s).map_err(tera::Error::msg)?,
    ))
}

/// A YAML scalar in a compose file, where `$` starts an interpolation: `$$` is a literal `$`.
pub(super) fn compose_str(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "compose_str")?;
    yaml_str(&Value::String(s.replace('$', "$$")), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Filter = fn(&Value, &HashMap<String, Value>) -> tera::Result<Value>;

    fn apply(filter: Filter, s: &str) -> String {
        match filter(&Value::String(s.into()), &HashMap::new()).unwrap() {
            Value::String(out) => out,
            other => panic!("not a string: {other}"),
        }
    }

    /// What breaks one format or another: quotes of every kind, escapes,
    /// line breaks and controls, comment and key markers, YAML's
    /// indicators and plain scalars that mean something else, shell
    /// expansions, non-ASCII.
    const NASTY: &[&str] = &[
        "",
        "plain",
        "it's",
        "\"quoted\"",
        "back\\slash",
        "new\nline",
        "cr\r\nlf",
        "tab\there",
        "ctrl\u{1}\u{7f}",
        "#comment",
        "key: value",
        "- item",
        "*alias",
        "&anchor",
        "!tag",
        "%directive",
        "@at `tick`",
        "yes",
        "null",
        "~",
        "0x1F",
        "1e3",
        " leading and trailing ",
        "{flow: map}",
        "[flow, seq]",
        "]]",
        "$HOME ${X} $$",
        "$(id) `id` ; rm -rf / &",
        "é ☃ \u{2028} \u{feff}",
    ];

    #[test]
    fn toml_str_gives_back_every_string() {
        for s in NASTY {
            let doc = format!("k = {}\n", apply(toml_str, s));
            let parsed: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(parsed["k"].as_str(), Some(*s), "{doc}");
        }
    }

    #[test]
    fn yaml_str_gives_back_every_string() {
        for s in NASTY {
            let doc = format!("k: {}\n", apply(yaml_str, s));
            let parsed: serde_json::Value =
                serde_saphyr::from_str(&doc).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(parsed["k"].as_str(), Some(*s), "{doc}");
        }
    }

    #[test]
    fn compose_str_doubles_dollars_for_compose_to_undo() {
        for s in NASTY {
            let doc = format!("k: {}\n", apply(compose_str, s));
            let parsed: serde_json::Value = serde_saphyr::from_str(&doc).unwrap();
            assert_eq!(
                parsed["k"].as_str(),
                Some(s.replace('$', "$$").as_str()),
                "{doc}"
            );
        }
    }

    /// The real shell reads each word back unchanged: nothing expands.
    #[test]
    fn sh_str_gives_back_every_string_to_a_real_shell() {
        for s in NASTY {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", apply(sh_str, s)))
                .output()
                .unwrap();
            assert!(out.status.success(), "{s:?}");
            assert_eq!(String::from_utf8(out.stdout).unwrap(), *s);
        }
    }

    #[test]
    fn url_encoding_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(
            url_encode("p@ss:w/rd?&=#%+ é"),
            "p%40ss%3Aw%2Frd%3F%26%3D%23%25%2B%20%C3%A9"
        );
    }

    #[test]
    fn a_value_that_is_not_text_is_refused() {
        let err = toml_str(&Value::Bool(true), &HashMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("toml_str expects a string"),
            "{err}"
        );
    }
}
