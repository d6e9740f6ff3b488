//! Standard output and standard error for a command in a pipeline. A reader
//! that stops early (`torrust-bake show local | head -1`) closes the pipe;
//! Rust ignores SIGPIPE, so the next write fails with EPIPE, on which
//! `println!` panics (exit 101, "failed printing to stdout"). Every command
//! prints through [`outln!`] / [`errln!`] (clippy's `print_stdout` and
//! `print_stderr` lints keep `println!` out), which treat a closed pipe as a
//! reader that has seen enough: the rest of the output is dropped and the
//! command runs to its end, so its exit code stays the command's own
//! (`check production | head -1` still fails when production is invalid)
//! and nothing it was doing (a build, `libvirt up`) is cut off half-way.
//!
//! Not SIGPIPE's default action instead: neither `libc` nor `nix` is a
//! dependency of ours (only of our dependencies), and dying on the signal
//! would stop `libvirt up | head` between defining and starting a VM, and
//! give 141 for a check whose verdict was already known.
//!
//! Any other write error (a full disk behind `> file`) is kept, and
//! [`failure`] gives it to `main`, which reports it and exits 2: output
//! that was asked for and lost is not success.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Which stream.
#[derive(Debug, Clone, Copy)]
enum Which {
    Out,
    Err,
}

static OUT_CLOSED: AtomicBool = AtomicBool::new(false);
static ERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error on standard output that is not a closed pipe.
static OUT_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// A writer on standard output or error that never fails: see the module.
#[derive(Debug, Clone, Copy)]
pub struct Stream(Which);

/// Standard output, for writers that take `impl Write` (clap_complete, the
/// man page).
pub fn stdout() -> Stream {
    Stream(Which::Out)
}

pub fn stderr() -> Stream {
    Stream(Which::Err)
}

impl Stream {
    fn closed(self) -> &'static AtomicBool {
        match self.0 {
            Which::Out => &OUT_CLOSED,
            Which::Err => &ERR_CLOSED,
        }
    }

    fn absorb(self, e: io::Error) {
        // Once a stream failed, nothing more is written to it: a closed
        // pipe stays closed, and a second error would say nothing new.
        self.closed().store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe && matches!(self.0, Which::Out) {
            if let Ok(mut first) = OUT_FAILURE.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }

    fn run(self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.closed().load(Ordering::Relaxed) {
            return;
        }
        let result = match self.0 {
            Which::Out => f(&mut io::stdout().lock()),
            Which::Err => f(&mut io::stderr().lock()),
        };
        if let Err(e) = result {
            self.absorb(e);
        }
    }

    /// Writes one formatted line (the line, then `\n`).
    pub fn line(self, args: std::fmt::Arguments<'_>) {
        self.run(|w| {
            w.write_fmt(args)?;
            w.write_all(b"\n")
        });
    }

    /// Writes formatted text as it is.
    pub fn text(self, args: std::fmt::Arguments<'_>) {
        self.run(|w| w.write_fmt(args));
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.run(|w| w.write_all(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.run(|w| w.flush());
        Ok(())
    }
}

/// Why standard output lost what was written to it, other than its reader
/// going away; `None` when it did not.
pub fn failure() -> Option<String> {
    // Flushed first: a buffered tail may be what fails.
    stdout().run(|w| w.flush());
    OUT_FAILURE.lock().ok().and_then(|f| f.clone())
}

/// `println!` that survives a closed standard output (see the module).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::stdout().line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout().line(format_args!($($arg)*))
    };
}

/// `print!` that survives a closed standard output.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::stdout().text(format_args!($($arg)*))
    };
}

/// `eprintln!` that survives a closed standard error (`2>&1 | head`).
#[macro_export]
macro_rules! errln {
    () => {
        $crate::output::stderr().line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::stderr().line(format_args!($($arg)*))
    };
}
