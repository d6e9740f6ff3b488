//! Parsing one variable's text by its kind (the table's `Kind`) into a
//! typed value. Rules that involve several variables live in the sections.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::config::vars::Kind;

/// A parsed value of one variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unset,
    Text(String),
    Number(u64),
    Ports(Vec<u16>),
    Ip(IpAddr),
    Net(Ipv4Net),
    Net6(Ipv6Net),
    Ips(Vec<IpAddr>),
}

/// What is wrong with a value, and the fix.
pub type KindError = (String, String);

fn err(message: String, fix: impl Into<String>) -> Result<Value, KindError> {
    Err((message, fix.into()))
}

fn text(v: &str) -> Result<Value, KindError> {
    Ok(Value::Text(v.to_string()))
}

/// Parses `value` (set, not empty) as `kind`.
pub fn parse(kind: Kind, value: &str) -> Result<Value, KindError> {
    if !matches!(kind, Kind::Secret { .. }) && value.chars().any(char::is_control) {
        return err(
            "contains a control character (tab, newline, ...)".into(),
            "remove it; only secrets may span lines",
        );
    }
    match kind {
        Kind::OneOf(words) if words.contains(&value) => text(value),
        Kind::OneOf(words) => err(
            format!("'{value}' is not one of {}", words.join(", ")),
            format!("use one of: {}", words.join(", ")),
        ),
        Kind::Text | Kind::DatabaseUrl | Kind::Secret { .. } => text(value),
        Kind::Hostname => hostname(value),
        Kind::VolumeLabel => volume_label(value),
        Kind::Number { min, max } => number(value, min, max),
        Kind::Port => port(value).map(|p| Value::Number(p.into())),
        Kind::Ports => ports(value),
        Kind::IpAddr => ip::<IpAddr>(value, "an IP address").map(Value::Ip),
        Kind::Ipv4 => ip::<Ipv4Addr>(value, "an IPv4 address").map(|a| Value::Ip(a.into())),
        Kind::Ipv6 => ip::<Ipv6Addr>(value, "an IPv6 address").map(|a| Value::Ip(a.into())),
        Kind::Ipv4Cidr => ipv4_net(value),
        Kind::IpList => value
            .split(',')
            .map(|ip| self::ip::<IpAddr>(ip.trim(), "an IP address"))
            .collect::<Result<_, _>>()
            .map(Value::Ips),
        Kind::Ipv4List => distinct_ips::<Ipv4Addr>(value, "an IPv4 address"),
        Kind::Ipv6List => distinct_ips::<Ipv6Addr>(value, "an IPv6 address"),
        Kind::Ipv6Setting if value == "auto" => text(value),
        Kind::Ipv6Setting => ipv6_net(value),
        Kind::Duration => duration(value),
        Kind::SshPublicKey => ssh_public_key(value),
        Kind::Domain => domain(value),
        Kind::Email => email(value),
        Kind::RegistryHost => registry_host(value),
        Kind::RelativePath => relative_path(value),
        Kind::NameList => name_list(value),
    }
}

/// Docker's registry host: a DNS name (labels joined by dots) or an IPv4
/// address, optionally `:port`; no scheme and no path, because Docker
/// matches `insecure-registries` and `certs.d/<dir>` against exactly that.
fn registry_host(value: &str) -> Result<Value, KindError> {
    let (host, port_ok) = match value.rsplit_once(':') {
        Some((h, p)) => (h, port(p).is_ok()),
        None => (value, true),
    };
    let named = !host.is_empty() && host.len() <= 253 && host.split('.').all(is_dns_label);
    if port_ok && (named || host.parse::<Ipv4Addr>().is_ok()) {
        return text(value);
    }
    err(
        format!("'{value}' is not a registry host"),
        "write host or host:port as image references name it (registry.example.org:5000), without https:// or a path",
    )
}

/// A path inside the project directory: relative, no `..`, so a release
/// never depends on files elsewhere on the build machine.
fn relative_path(value: &str) -> Result<Value, KindError> {
    let path = std::path::Path::new(value);
    let inside = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if inside && !value.is_empty() {
        return text(value);
    }
    err(
        format!("'{value}' is not a path inside the project directory"),
        "copy the file into the project (e.g. certs/registry-ca.pem) and give that relative path",
    )
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn hostname(value: &str) -> Result<Value, KindError> {
    if is_dns_label(value) {
        return text(value);
    }
    err(
        format!("'{value}' is not a host name"),
        "use 1-63 letters, digits and '-', not starting or ending with '-'",
    )
}

fn volume_label(value: &str) -> Result<Value, KindError> {
    let ok = value.len() <= 16
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok && !value.is_empty() {
        return text(value);
    }
    err(
        format!("'{value}' is not a usable volume label"),
        "use 1-16 letters, digits, '-' or '_' (ext4 labels hold 16 bytes)",
    )
}

fn number(value: &str, min: u64, max: u64) -> Result<Value, KindError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Value::Number(n)),
        _ => err(
            format!("'{value}' is not a whole number from {min} to {max}"),
            format!("use a number from {min} to {max}"),
        ),
    }
}

fn port(s: &str) -> Result<u16, KindError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err((
            format!("'{s}' is not a port"),
            "use a number from 1 to 65535".into(),
        )),
    }
}

fn ports(value: &str) -> Result<Value, KindError> {
    let mut ports = Vec::new();
    for part in value.split(',') {
        let p = port(part.trim())?;
        if ports.contains(&p) {
            return err(format!("port {p} is listed twice"), "list each port once");
        }
        ports.push(p);
    }
    Ok(Value::Ports(ports))
}

/// Names as the user wrote them, trimmed, each once; kept as text, joined
/// by `,` again (a name may hold a space, never a comma).
fn name_list(value: &str) -> Result<Value, KindError> {
    let mut names: Vec<&str> = Vec::new();
    for part in value.split(',').map(str::trim) {
        if part.is_empty() {
            return err(
                "has an empty name in its list".into(),
                "separate names or ids with single commas, e.g. ops-key,backup-key",
            );
        }
        if names.contains(&part) {
            return err(format!("lists '{part}' twice"), "list each name once");
        }
        names.push(part);
    }
    text(&names.join(","))
}

fn ip<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, KindError> {
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<T>().map_err(|_| {
        (
            format!("'{s}' is not {what}"),
            format!("write {what}, without a port"),
        )
    })
}

/// A comma-separated list of addresses of one family, each once.
fn distinct_ips<T>(value: &str, what: &str) -> Result<Value, KindError>
where
    T: std::str::FromStr + Into<IpAddr>,
{
    let mut ips: Vec<IpAddr> = Vec::new();
    for part in value.split(',').map(str::trim) {
        let a: IpAddr = ip::<T>(part, what)?.into();
        if ips.contains(&a) {
            return err(format!("lists {a} twice"), "list each address once");
        }
        ips.push(a);
    }
    Ok(Value::Ips(ips))
}

/// `address/prefix` of IPv6 (the kind `Ipv6Setting` besides `auto`).
fn ipv6_net(value: &str) -> Result<Value, KindError> {
    match value.parse::<Ipv6Net>() {
        Ok(net) if net.prefix_len() >= 1 => Ok(Value::Net6(net)),
        _ => err(
            format!("'{value}' is neither auto nor an IPv6 address with a prefix length"),
            "write auto (router advertisements), or address/prefix, e.g. 2001:db8:1::10/64",
        ),
    }
}

fn ipv4_net(value: &str) -> Result<Value, KindError> {
    match value.parse::<Ipv4Net>() {
        Ok(net) if net.prefix_len() >= 1 => Ok(Value::Net(net)),
        _ => err(
            format!("'{value}' is not an IPv4 address with a prefix length"),
            "write it as address/prefix, e.g. 192.0.2.10/24",
        ),
    }
}

/// A Prometheus duration (`15s`, `30d`) in seconds; `None` if it is not one.
pub fn duration_seconds(value: &str) -> Option<u64> {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let unit = match &value[digits.len()..] {
        "ms" => return Some(n / 1000),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

fn duration(value: &str) -> Result<Value, KindError> {
    if duration_seconds(value).is_some() {
        return text(value);
    }
    err(
        format!("'{value}' is not a duration"),
        "write a number and a unit: ms, s, m, h, d, w or y (e.g. 15s, 30d)",
    )
}

/// An OpenSSH public key line, parsed by `ssh-key` (the key's base64 must
/// decode to a key of the named algorithm, not only look like base64).
fn ssh_public_key(value: &str) -> Result<Value, KindError> {
    if value.contains(crate::version::STAND_IN) {
        // The comment reaches user-data, where the build puts the release
        // version in place of this text.
        return err(
            format!(
                "contains {:?}, which the build reserves",
                crate::version::STAND_IN
            ),
            "change the key's comment (the text after the key)",
        );
    }
    match ssh_key::PublicKey::from_openssh(value) {
        Ok(_) => text(value),
        Err(e) => err(
            format!("is not an OpenSSH public key line ({e})"),
            "paste one line of ~/.ssh/id_ed25519.pub (ssh-ed25519 AAAA... comment)",
        ),
    }
}

/// A domain name: two or more DNS labels, not an IPv4 address.
fn is_domain(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    // A top-level label is never all digits: that is an IPv4 address.
    let numeric_tld = labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()));
    labels.len() >= 2
        && value.len() <= 253
        && labels.iter().all(|l| is_dns_label(l))
        && !numeric_tld
}

fn domain(value: &str) -> Result<Value, KindError> {
    if is_domain(value) {
        return text(&value.to_ascii_lowercase());
    }
    err(
        format!("'{value}' is not a domain name"),
        "use a name such as tracker.example.org, without scheme or port",
    )
}

/// The characters a local part may hold here: letters, digits and
/// `. _ % + -`. RFC 5322 allows more (`'`, `` ` ``, `$`, `{`, quoted
/// strings with `"`), but the address lands verbatim in the Caddyfile and
/// in shell-read files, where those would be syntax, and no mailbox an
/// operator reads needs them.
fn is_local_part_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// A conservative addr-spec (RFC 5322 §3.4.1): `local@domain`, the local
/// part a dot-atom of [`is_local_part_char`]s of at most 64 characters
/// (RFC 5321 §4.5.3.1.1), the domain a domain name, at most 254 in all.
fn email(value: &str) -> Result<Value, KindError> {
    let fix = "use a plain address such as admin@example.org: letters, digits and . _ % + - before the @, a domain name after it";
    let why = match value.rsplit_once('@') {
        None => Some("has no @".to_string()),
        Some((local, domain)) => {
            if local.is_empty() || local.len() > 64 {
                Some("needs 1 to 64 characters before the @".to_string())
            } else if let Some(c) = local.chars().find(|c| !is_local_part_char(*c)) {
                Some(format!("{c:?} may not be before the @"))
            } else if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
                Some("a dot before the @ may not be first, last or doubled".to_string())
            } else if value.len() > 254 || !is_domain(domain) {
                Some("the part after the @ is not a domain name".to_string())
            } else {
                None
            }
        }
    };
    match why {
        None => text(value),
        Some(why) => err(format!("'{value}' is not an e-mail address ({why})"), fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: Kind, v: &str) -> Value {
        parse(kind, v).unwrap_or_else(|e| panic!("{v}: {e:?}"))
    }

    fn bad(kind: Kind, v: &str) -> KindError {
        parse(kind, v).expect_err(v)
    }

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbooaqW1i3NLZTK+HlEwCOiEn901vgCjmAva1DELskl me@host";

    #[test]
    fn one_of() {
        let kind = Kind::OneOf(&["a", "b"]);
        assert_eq!(ok(kind, "a"), Value::Text("a".into()));
        let (message, fix) = bad(kind, "c");
        assert_eq!(message, "'c' is not one of a, b");
        assert_eq!(fix, "use one of: a, b");
    }

    #[test]
    fn control_characters_only_in_secrets() {
        assert!(bad(Kind::Text, "a\tb").0.contains("control character"));
        assert_eq!(
            ok(Kind::Secret { min_len: 1 }, "a\nb"),
            Value::Text("a\nb".into())
        );
    }

    #[test]
    fn hostnames_and_labels() {
        ok(Kind::Hostname, "a");
        ok(Kind::Hostname, &"a".repeat(63));
        bad(Kind::Hostname, &"a".repeat(64));
        bad(Kind::Hostname, "-a");
        bad(Kind::Hostname, "a.b");
        ok(Kind::VolumeLabel, &"x".repeat(16));
        assert!(bad(Kind::VolumeLabel, &"x".repeat(17))
            .1
            .contains("16 bytes"));
        bad(Kind::VolumeLabel, "a b");
    }

    #[test]
    fn numbers_and_ports() {
        let kind = Kind::Number { min: 10, max: 20 };
        assert_eq!(ok(kind, "10"), Value::Number(10));
        assert_eq!(ok(kind, "20"), Value::Number(20));
        assert_eq!(
            bad(kind, "21").0,
            "'21' is not a whole number from 10 to 20"
        );
        bad(kind, "-1");
        assert_eq!(ok(Kind::Port, "65535"), Value::Number(65535));
        assert_eq!(bad(Kind::Port, "0").1, "use a number from 1 to 65535");
        bad(Kind::Port, "65536");
        assert_eq!(
            ok(Kind::Ports, "6969, 6868"),
            Value::Ports(vec![6969, 6868])
        );
        assert_eq!(bad(Kind::Ports, "1,1").0, "port 1 is listed twice");
        bad(Kind::Ports, "1,");
    }

    #[test]
    fn addresses() {
        assert_eq!(ok(Kind::IpAddr, "[::]"), Value::Ip("::".parse().unwrap()));
        ok(Kind::Ipv4, "192.0.2.1");
        assert_eq!(bad(Kind::Ipv4, "::1").0, "'::1' is not an IPv4 address");
        bad(Kind::Ipv6, "192.0.2.1");
        assert_eq!(
            ok(Kind::Ipv4Cidr, "10.0.2.15/24"),
            Value::Net("10.0.2.15/24".parse().unwrap())
        );
        ok(Kind::Ipv4Cidr, "10.0.2.15/32");
        bad(Kind::Ipv4Cidr, "10.0.2.15/0");
        bad(Kind::Ipv4Cidr, "10.0.2.15/33");
        assert!(bad(Kind::Ipv4Cidr, "10.0.2.15").1.contains("192.0.2.10/24"));
        assert_eq!(
            ok(Kind::IpList, "1.1.1.1, 2606:4700::1111"),
            Value::Ips(vec![
                "1.1.1.1".parse().unwrap(),
                "2606:4700::1111".parse().unwrap()
            ])
        );
        bad(Kind::IpList, "1.1.1.1,nope");
        assert_eq!(
            ok(Kind::Ipv4List, "192.0.2.1, 192.0.2.2"),
            Value::Ips(vec![
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap()
            ])
        );
        assert_eq!(
            bad(Kind::Ipv4List, "192.0.2.1,192.0.2.1").0,
            "lists 192.0.2.1 twice"
        );
        assert_eq!(
            bad(Kind::Ipv4List, "192.0.2.1,2001:db8::1").0,
            "'2001:db8::1' is not an IPv4 address"
        );
        // The same address written twice differently is still twice.
        bad(Kind::Ipv6List, "2001:db8::1,2001:DB8:0::1");
        bad(Kind::Ipv6List, "2001:db8::1,");
        assert_eq!(ok(Kind::Ipv6Setting, "auto"), Value::Text("auto".into()));
        assert_eq!(
            ok(Kind::Ipv6Setting, "2001:db8:1::10/64"),
            Value::Net6("2001:db8:1::10/64".parse().unwrap())
        );
        assert!(bad(Kind::Ipv6Setting, "2001:db8:1::10")
            .1
            .contains("address/prefix"));
        bad(Kind::Ipv6Setting, "dhcp");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("15s"), Some(15));
        assert_eq!(duration_seconds("30d"), Some(30 * 86_400));
        assert_eq!(duration_seconds("1y"), Some(365 * 86_400));
        assert_eq!(duration_seconds("0s"), None);
        assert_eq!(duration_seconds("15"), None);
        assert_eq!(duration_seconds("1.5h"), None);
        assert!(bad(Kind::Duration, "15x")
            .1
            .contains("ms, s, m, h, d, w or y"));
    }

    #[test]
    fn ssh_keys_are_parsed_not_just_looked_at() {
        ok(Kind::SshPublicKey, ED25519);
        // Right characters, wrong content: base64 of "hello" is not a key.
        let fake = "ssh-ed25519 aGVsbG8= me@host";
        assert!(bad(Kind::SshPublicKey, fake)
            .0
            .contains("not an OpenSSH public key"));
        bad(Kind::SshPublicKey, "ssh-ed25519");
        let reserved = format!("{ED25519} {}", crate::version::STAND_IN);
        assert!(bad(Kind::SshPublicKey, &reserved).0.contains("reserves"));
    }

    #[test]
    fn domains_and_emails() {
        assert_eq!(
            ok(Kind::Domain, "Tracker.Example.org"),
            Value::Text("tracker.example.org".into())
        );
        bad(Kind::Domain, "localhost");
        bad(Kind::Domain, "1.2.3.4");
        ok(Kind::Domain, "1.example.org");
        bad(Kind::Domain, "https://x.org");
        ok(Kind::RegistryHost, "registry.example.org");
        ok(Kind::RegistryHost, "192.168.123.1:5000");
        ok(Kind::RegistryHost, "localhost:5000");
        bad(Kind::RegistryHost, "https://registry.example.org");
        bad(Kind::RegistryHost, "registry.example.org/v2");
        bad(Kind::RegistryHost, "host:0");
        ok(Kind::RelativePath, "certs/ca.pem");
        bad(Kind::RelativePath, "/etc/ssl/ca.pem");
        bad(Kind::RelativePath, "../ca.pem");
        ok(Kind::Email, "a@b.org");
        ok(
            Kind::Email,
            "first.last+acme-2025_x%y@mail.tracker.example.org",
        );
        ok(Kind::Email, &format!("{}@b.org", "a".repeat(64)));
        for (v, why) in [
            ("a@b", "the part after the @ is not a domain name"),
            ("@b.org", "needs 1 to 64 characters before the @"),
            ("admin", "has no @"),
            ("a\"b@x.org", "'\"' may not be before the @"),
            ("\"a b\"@x.org", "'\"' may not be before the @"),
            ("`id`@x.org", "'`' may not be before the @"),
            ("$(reboot)@x.org", "'$' may not be before the @"),
            ("a b@x.org", "' ' may not be before the @"),
            ("a@b@x.org", "'@' may not be before the @"),
            ("a'b@x.org", "'\\'' may not be before the @"),
            (
                ".a@x.org",
                "a dot before the @ may not be first, last or doubled",
            ),
            (
                "a.@x.org",
                "a dot before the @ may not be first, last or doubled",
            ),
            (
                "a..b@x.org",
                "a dot before the @ may not be first, last or doubled",
            ),
            ("a@x.org\"", "the part after the @ is not a domain name"),
            ("a@$(x).org", "the part after the @ is not a domain name"),
            ("a@1.2.3.4", "the part after the @ is not a domain name"),
            ("a@[192.0.2.1]", "the part after the @ is not a domain name"),
            ("a@-x.org", "the part after the @ is not a domain name"),
        ] {
            let (message, fix) = bad(Kind::Email, v);
            assert_eq!(message, format!("'{v}' is not an e-mail address ({why})"));
            assert!(
                fix.starts_with("use a plain address such as admin@example.org"),
                "{fix}"
            );
        }
        bad(Kind::Email, &format!("{}@b.org", "a".repeat(65)));
        bad(Kind::Email, &format!("a@{}.org", "b.".repeat(125)));
    }

    #[test]
    fn name_lists_are_trimmed_and_each_name_given_once() {
        assert_eq!(
            ok(Kind::NameList, " ops key , 123"),
            Value::Text("ops key,123".into())
        );
        assert_eq!(
            bad(Kind::NameList, "a,,b").0,
            "has an empty name in its list"
        );
        assert_eq!(bad(Kind::NameList, "a,a").0, "lists 'a' twice");
    }
}
