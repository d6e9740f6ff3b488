//! The libvirt client: `virsh` run as a subprocess. Chosen over libvirt's
//! Rust bindings (the `virt` crate), which link the C library and need its
//! headers at build time: a plain `cargo build` of torrust-bake must not
//! need libvirt-dev, and every host that runs libvirt has virsh
//! (libvirt-clients). The price is parsing text; we read XML (`dumpxml`,
//! `capabilities`) where there is a choice, and otherwise only single
//! words (`domstate`) and name lists.

use std::io::Write as _;
use std::process::{Command, Output};

use anyhow::{Context as _, Result};

use crate::error::{Error, Kind};

/// A connection: `virsh -c URI`, or libvirt's default (LIBVIRT_DEFAULT_URI,
/// then qemu:///system for root, qemu:///session for others).
#[derive(Debug, Clone, Default)]
pub struct Virsh {
    pub uri: Option<String>,
}

/// How long one virsh call may take: `TORRUST_BAKE_VIRSH_TIMEOUT` (a
/// duration, e.g. 30s) when set, else 5 min for `define` and `start` (the
/// first after libvirtd starts probes QEMU: 80 s seen under TCG) and 2 min
/// for the rest.
fn bound(args: &[&str]) -> std::time::Duration {
    if let Some(d) = std::env::var("TORRUST_BAKE_VIRSH_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
    {
        return d;
    }
    let slow = matches!(args.first(), Some(&"define") | Some(&"start"));
    std::time::Duration::from_secs(if slow { 300 } else { 120 })
}

/// A domain's state as `virsh domstate` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State(pub String);

impl State {
    pub fn is_running(&self) -> bool {
        self.0 == "running" || self.0 == "paused" || self.0 == "in shutdown"
    }

    pub fn is_off(&self) -> bool {
        self.0 == "shut off"
    }
}

impl Virsh {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("virsh");
        if let Some(uri) = &self.uri {
            cmd.arg("-c").arg(uri);
        }
        cmd.arg("-q").args(args);
        cmd
    }

    /// Runs virsh, bounded (#27 item 11: a hanging `list` or `shutdown`
    /// hung `status` and `destroy` forever): killed after `bound(args)`.
    fn output(&self, args: &[&str]) -> Result<Output> {
        use std::process::Stdio;
        use wait_timeout::ChildExt as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let fix = if e.kind() == std::io::ErrorKind::NotFound {
                    "install libvirt's client (Debian: apt-get install libvirt-clients)"
                } else {
                    "check that virsh can be run"
                };
                Error::new(Kind::Unreachable, format!("running virsh: {e}; {fix}"))
            })?;
        // Read both pipes while waiting: a full pipe would block virsh.
        let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
        let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
        let bound = bound(args);
        let status = match child.wait_timeout(bound).context("waiting for virsh")? {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    Kind::Unreachable,
                    format!(
                        "virsh {} did not answer within {} s (killed); is libvirtd hung? Check it (virsh list), restart it, and run again (TORRUST_BAKE_VIRSH_TIMEOUT sets the bound)",
                        args.join(" "),
                        bound.as_secs()
                    ),
                )
                .into());
            }
        };
        Ok(Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }

    /// Runs `virsh ARGS`; its stdout, or an error quoting virsh's message.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let what = format!("virsh {}", args.join(" "));
        Err(self.failure(&what, &stderr).into())
    }

    fn failure(&self, what: &str, stderr: &str) -> Error {
        let uri = self.uri.as_deref().unwrap_or("libvirt's default URI");
        if stderr.contains("Failed to connect") || stderr.contains("failed to connect") {
            return Error::new(
                Kind::Unreachable,
                format!("{what}: cannot connect to {uri}: {stderr}; start libvirtd (or scripts/libvirt-host.sh start), or pass --connect URI"),
            );
        }
        Error::new(Kind::Protocol, format!("{what}: {stderr}"))
    }

    /// Every domain's name, running or not.
    pub fn domains(&self) -> Result<Vec<String>> {
        Ok(self
            .run(&["list", "--all", "--name"])?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    pub fn dumpxml(&self, name: &str) -> Result<String> {
        self.run(&["dumpxml", name])
    }

    pub fn capabilities(&self) -> Result<String> {
        self.run(&["capabilities"])
    }

    pub fn state(&self, name: &str) -> Result<State> {
        Ok(State(self.run(&["domstate", name])?.trim().to_string()))
    }

    /// Defines a domain from XML (through a temporary file: virsh reads files).
    pub fn define(&self, xml: &str) -> Result<()> {
        let mut f = tempfile::Builder::new()
            .prefix("torrust-bake-domain-")
            .suffix(".xml")
            .tempfile()
            .context("creating a temporary file for the domain XML")?;
        f.write_all(xml.as_bytes())
            .and_then(|_| f.flush())
            .context("writing the domain XML")?;
        let path = f.path().to_string_lossy().into_owned();
        self.run(&["define", &path]).map(|_| ())
    }

    /// Runs `virsh ARGS... FILE` with `xml` in a temporary file (virsh reads
    /// files, not standard input).
    fn run_with_xml(&self, args: &[&str], xml: &str) -> Result<()> {
        let mut f = tempfile::Builder::new()
            .prefix("torrust-bake-device-")
            .suffix(".xml")
            .tempfile()
            .context("creating a temporary file for a device's XML")?;
        f.write_all(xml.as_bytes())
            .and_then(|_| f.flush())
            .context("writing a device's XML")?;
        let path = f.path().to_string_lossy().into_owned();
        let mut all = args.to_vec();
        all.insert(2, &path);
        self.run(&all).map(|_| ())
    }

    /// Attaches a device to the domain's definition, and with `live` to the
    /// running guest too (hot-plug).
    pub fn attach_device(&self, name: &str, xml: &str, live: bool) -> Result<()> {
        let mut args = vec!["attach-device", name, "--config"];
        if live {
            args.push("--live");
        }
        self.run_with_xml(&args, xml)
    }

    /// Detaches a device from a stopped domain's definition.
    pub fn detach_device(&self, name: &str, xml: &str) -> Result<()> {
        self.run_with_xml(&["detach-device", name, "--config"], xml)
    }

    pub fn start(&self, name: &str) -> Result<()> {
        self.run(&["start", name]).map(|_| ())
    }

    /// Asks the guest to power off (ACPI power button); returns at once.
    pub fn shutdown(&self, name: &str) -> Result<()> {
        self.run(&["shutdown", name, "--mode", "acpi"]).map(|_| ())
    }

    /// Pulls the plug.
    pub fn destroy(&self, name: &str) -> Result<()> {
        self.run(&["destroy", name]).map(|_| ())
    }

    /// Forgets the domain and its copy of the UEFI variables.
    pub fn undefine(&self, name: &str) -> Result<()> {
        self.run(&["undefine", name, "--nvram"]).map(|_| ())
    }

    /// The bridge of libvirt network `network` (`virsh net-info`), if known.
    pub fn bridge(&self, network: &str) -> Option<String> {
        let out = self.run(&["net-info", network]).ok()?;
        out.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == "Bridge").then(|| value.trim().to_string())
        })
    }

    /// The guest's IPv4 addresses libvirt knows: DHCP leases of its
    /// networks, else the host's ARP table.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        for source in ["lease", "arp"] {
            if let Ok(out) = self.run(&["domifaddr", name, "--source", source]) {
                let found = parse_domifaddr(&out);
                if !found.is_empty() {
                    return found;
                }
            }
        }
        Vec::new()
    }
}

/// The addresses (without prefix) in `virsh domifaddr` output:
/// ` vnet0  52:54:00:..  ipv4  192.168.122.10/24`.
pub fn parse_domifaddr(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            match cols.as_slice() {
                [_, _, proto, addr] if *proto == "ipv4" || *proto == "ipv6" => {
                    Some(addr.split('/').next().unwrap_or(addr).to_string())
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domifaddr_table_gives_addresses() {
        let out = " Name       MAC address          Protocol     Address\n-------------------------------------------------------------------------------\n vnet0      52:54:00:5e:61:2d    ipv4         192.168.123.150/24\n";
        assert_eq!(parse_domifaddr(out), vec!["192.168.123.150"]);
        assert!(parse_domifaddr("").is_empty());
    }

    #[test]
    fn states() {
        assert!(State("running".into()).is_running());
        assert!(State("shut off".into()).is_off());
        assert!(!State("shut off".into()).is_running());
    }
}
