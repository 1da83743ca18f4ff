//! What machine the figures come from.

use std::process::Command;

/// Facts printed at the top of `BENCHMARKS.md`.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `nproc`.
    pub nproc: String,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// UTC date and time of the run.
    pub date: String,
    /// `rustc -V`.
    pub rustc: String,
    /// The file `libsystemd.so.0` resolves to, if any.
    pub libsystemd: String,
    /// `/proc/loadavg` at the start.
    pub load_start: String,
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The first three fields of `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

impl Machine {
    /// Reads everything now.
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "?".into());
        let libsystemd = [
            "/lib/x86_64-linux-gnu/libsystemd.so.0",
            "/usr/lib/x86_64-linux-gnu/libsystemd.so.0",
            "/usr/lib64/libsystemd.so.0",
            "/lib/aarch64-linux-gnu/libsystemd.so.0",
        ]
        .iter()
        .find_map(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "not found".into());
        Machine {
            nproc: output("nproc", &[]).unwrap_or_else(|| {
                std::thread::available_parallelism().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
            }),
            cpu,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "?".into()),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "?".into()),
            rustc: output("rustc", &["-V"]).unwrap_or_else(|| "?".into()),
            libsystemd,
            load_start: loadavg(),
        }
    }

    /// The header section of the report.
    pub fn markdown(&self, load_end: &str) -> String {
        format!(
            "| machine | |\n|---|---|\n| `nproc` | {} |\n| CPU | {} |\n| kernel | {} |\n| date | {} |\n| rustc | {} |\n| libsystemd.so.0 | {} |\n| load average (1/5/15 min) at start → end | {} → {} |\n",
            self.nproc,
            self.cpu,
            self.kernel,
            self.date,
            self.rustc,
            self.libsystemd,
            self.load_start,
            load_end
        )
    }
}
