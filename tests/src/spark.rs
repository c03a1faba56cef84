//! PySpark on `local[N]` from tests and benchmarks: the project venv's Python (where
//! `scripts/install-emulators.sh spark` puts pyspark) with the machine's Java, bound to
//! 127.0.0.1, run to completion in its own process group and killed with it on timeout.

use crate::process::{isolate, kill_group, locate_binary};
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the `java` binary Spark should use (default: `java` on PATH).
pub const JAVA_ENV: &str = "SHOPSTREAM_JAVA";

/// A finished PySpark run.
#[derive(Debug)]
pub struct SparkRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall time from spawn to exit, JVM start-up included.
    pub wall: Duration,
}

impl SparkRun {
    /// Fails with the tail of stderr unless the script exited 0.
    pub fn check(self) -> Result<SparkRun> {
        if self.status.success() {
            return Ok(self);
        }
        let lines: Vec<&str> = self.stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        anyhow::bail!("PySpark exited with {}; stderr tail:\n{tail}", self.status)
    }
}

/// Runs PySpark scripts with the venv's interpreter.
#[derive(Debug, Clone)]
pub struct PySpark {
    python: PathBuf,
    java_home: Option<PathBuf>,
}

impl PySpark {
    /// The venv interpreter, checked to import pyspark, and `$SHOPSTREAM_JAVA`'s home if set.
    pub fn locate() -> Result<PySpark> {
        let python = locate_binary(crate::python::PYTHON_ENV, "venv/bin/python")?;
        let probe = Command::new(&python)
            .args(["-c", "import pyspark; print(pyspark.__version__)"])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        if !probe.status.success() {
            anyhow::bail!(
                "pyspark is not installed in {}; run scripts/install-emulators.sh spark",
                python.display()
            );
        }
        let java_home = std::env::var_os(JAVA_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .and_then(|java| std::fs::canonicalize(java).ok())
            .and_then(|java| java.parent()?.parent().map(Path::to_path_buf));
        Ok(PySpark { python, java_home })
    }

    pub fn python(&self) -> &Path {
        &self.python
    }

    /// The command that runs `script args...` under PySpark's environment.
    pub fn command(&self, script: &Path, args: &[OsString]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(script)
            .args(args)
            .env("PYSPARK_PYTHON", &self.python)
            .env("PYSPARK_DRIVER_PYTHON", &self.python)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env_remove("SPARK_HOME")
            .stdin(Stdio::null());
        if let Some(home) = &self.java_home {
            command.env("JAVA_HOME", home);
        }
        command
    }

    /// Runs `script args...` to completion (at most `timeout`, after which its whole process
    /// group is killed and an error returned).
    pub fn run(&self, script: &Path, args: &[OsString], timeout: Duration) -> Result<SparkRun> {
        let dir = tempfile::Builder::new()
            .prefix("shopstream-pyspark-")
            .tempdir()
            .context("creating a temporary directory for PySpark output")?;
        let stdout_path = dir.path().join("stdout");
        let stderr_path = dir.path().join("stderr");
        let mut command = self.command(script, args);
        command
            .stdout(std::fs::File::create(&stdout_path)?)
            .stderr(std::fs::File::create(&stderr_path)?);
        isolate(&mut command);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {} {}", self.python.display(), script.display()))?;
        loop {
            if exited_unreaped(child.id()) {
                break;
            }
            if started.elapsed() > timeout {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                anyhow::bail!(
                    "PySpark {} did not finish within {timeout:?}; stderr:\n{stderr}",
                    script.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let wall = started.elapsed();
        // The driver has exited but is not reaped, so its group id is still ours: nothing it
        // started (the JVM) outlives the run.
        kill_group(child.id());
        let status = child.wait()?;
        Ok(SparkRun {
            status,
            stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            wall,
        })
    }
}

/// True once the child `pid` has exited, leaving it unreaped (`waitid` with `WNOWAIT`).
#[cfg(unix)]
fn exited_unreaped(pid: u32) -> bool {
    let pid: libc::id_t = pid;
    // SAFETY: plain system call on our own child; `info` is a valid, zeroed siginfo_t.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc != 0 || info.si_pid() != 0
    }
}

#[cfg(not(unix))]
fn exited_unreaped(_pid: u32) -> bool {
    true
}
