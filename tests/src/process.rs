//! A child server process owned by one test: spawned in its own process group with its output in
//! a log file, and killed (group and all) when dropped.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tempfile::TempDir;

/// How many log lines error messages and panic reports quote.
const LOG_TAIL_LINES: usize = 40;

/// Finds an emulator binary: `$env_var` if set, else `<cache>/<default_relative>`, where the
/// cache is `$SHOPSTREAM_CACHE` or `~/.cache/shopstream` (as `scripts/install-emulators.sh` uses).
pub(crate) fn locate_binary(env_var: &str, default_relative: &str) -> Result<PathBuf> {
    match std::env::var_os(env_var).filter(|value| !value.is_empty()) {
        Some(value) => check_binary(PathBuf::from(value), &format!("from ${env_var}"), env_var),
        None => check_binary(
            cache_dir()?.join(default_relative),
            "the default install location",
            env_var,
        ),
    }
}

/// `path` if it is a file, else an error that says how to install the emulators.
fn check_binary(path: PathBuf, origin: &str, env_var: &str) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path);
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "emulator binary".to_owned());
    anyhow::bail!(
        "{name} not found at {} ({origin}); run scripts/install-emulators.sh to install the \
         local emulators, or set {env_var} to the binary",
        path.display(),
    )
}

fn cache_dir() -> Result<PathBuf> {
    if let Some(cache) = std::env::var_os("SHOPSTREAM_CACHE").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(cache));
    }
    let home = std::env::var_os("HOME")
        .filter(|value| !value.is_empty())
        .context("neither SHOPSTREAM_CACHE nor HOME is set; cannot find the emulator cache")?;
    Ok(PathBuf::from(home).join(".cache").join("shopstream"))
}

/// A running server child process and the temporary directory holding its log (and any state).
///
/// Dropping it kills the whole process group with SIGKILL and reaps the child, then removes
/// the directory. If the dropping thread is panicking (a failed test), the log tail is printed
/// to stderr first, which the test harness shows with the failure.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Child,
    log_path: PathBuf,
    stopped: bool,
    graceful_stop: Option<GracefulStop>,
    // Removed after the child is dead: `Drop::drop` runs before the fields are dropped.
    _dir: TempDir,
}

impl ServerProcess {
    /// Spawns `program args...` (with `envs` set and `env_remove` unset) in `dir`, stdin closed and
    /// stdout/stderr appended to `dir/<name>.log`.
    ///
    /// The child gets its own process group, so killing the group also kills anything it
    /// forks, and (on Linux) a parent-death signal, so it dies with the thread that started it
    /// even if the test process is killed without unwinding (Ctrl-C, a runner timeout).
    ///
    /// With `run_as`, `dir` is handed to that user and the child runs under its uid and gid
    /// (the caller must be root).
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[OsString],
        envs: &[(&str, &str)],
        env_remove: &[&str],
        run_as: Option<&RunAs>,
        dir: TempDir,
    ) -> Result<Self> {
        if let Some(user) = run_as {
            user.own(dir.path())?;
        }
        let log_path = dir.path().join(format!("{name}.log"));
        let log = File::create(&log_path)
            .with_context(|| format!("creating {name} log file {}", log_path.display()))?;
        let log_for_stderr = log
            .try_clone()
            .with_context(|| format!("duplicating {name} log file handle"))?;

        let mut command = Command::new(program);
        for key in env_remove {
            command.env_remove(key);
        }
        command
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_for_stderr));
        if let Some(user) = run_as {
            user.apply(&mut command);
        }
        isolate(&mut command);

        let child = command
            .spawn()
            .with_context(|| format!("spawning {name} ({})", program.display()))?;
        Ok(Self {
            name,
            child,
            log_path,
            stopped: false,
            graceful_stop: None,
            _dir: dir,
        })
    }

    /// Makes [`stop`](Self::stop) first send `signal` to the child alone and wait up to
    /// `grace` for it to exit, so a server can release what SIGKILL would leak (PostgreSQL's
    /// System V shared memory segment), before the process group is killed.
    pub(crate) fn stop_gracefully_with(&mut self, signal: i32, grace: Duration) {
        self.graceful_stop = Some(GracefulStop { signal, grace });
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file the child's stdout and stderr go to.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The exit status if the child has already exited.
    pub(crate) fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("checking whether {} is still running", self.name))
    }

    /// The whole log as text (lossy), or an empty string if it cannot be read.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last lines of the log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[start..].join("\n")
    }

    /// Kills the process group and reaps the child. Idempotent.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(graceful) = self.graceful_stop {
            self.signal_and_wait(graceful);
        }
        // Only while the child is unreaped is its pid (its group id) certainly still ours.
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_group(self.child.id());
        }
        // Covers platforms without process groups and a child that left its group.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    fn signal_and_wait(&mut self, graceful: GracefulStop) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        signal_process(self.child.id(), graceful.signal);
        let deadline = Instant::now() + graceful.grace;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// How [`ServerProcess::stop`] asks the child to exit before killing its group.
#[derive(Debug, Clone, Copy)]
struct GracefulStop {
    signal: i32,
    grace: Duration,
}

/// An unprivileged OS user a server runs as when the tests run as root (PostgreSQL refuses
/// to run as root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl RunAs {
    /// Looks `name` up in the user database; `None` if there is no such user.
    #[cfg(unix)]
    pub(crate) fn lookup(name: &str) -> Result<Option<Self>> {
        let c_name = std::ffi::CString::new(name)
            .with_context(|| format!("user name {name:?} contains a NUL byte"))?;
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buffer = vec![0 as libc::c_char; 16 * 1024];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to live, correctly sized storage owned by this frame;
        // getpwnam_r writes only into `entry` and `buffer` and sets `found`.
        let status = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            )
        };
        if status != 0 {
            return Err(std::io::Error::from_raw_os_error(status))
                .with_context(|| format!("looking up user {name}"));
        }
        if found.is_null() {
            return Ok(None);
        }
        Ok(Some(Self {
            name: name.to_owned(),
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        }))
    }

    #[cfg(not(unix))]
    pub(crate) fn lookup(_name: &str) -> Result<Option<Self>> {
        Ok(None)
    }

    /// Gives `path` to this user, so the server can write in it.
    #[cfg(unix)]
    pub(crate) fn own(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("handing {} to user {}", path.display(), self.name))
    }

    #[cfg(not(unix))]
    pub(crate) fn own(&self, _path: &Path) -> Result<()> {
        Ok(())
    }

    /// Runs `command` as this user (std drops the supplementary groups when root sets a uid).
    #[cfg(unix)]
    pub(crate) fn apply(&self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        command.uid(self.uid).gid(self.gid);
    }

    #[cfg(not(unix))]
    pub(crate) fn apply(&self, _command: &mut Command) {}
}

/// Whether this process runs as root (effective uid 0).
#[cfg(unix)]
pub(crate) fn running_as_root() -> bool {
    // SAFETY: plain system call without arguments.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
pub(crate) fn running_as_root() -> bool {
    false
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.stopped {
            eprintln!(
                "--- last lines of the {} log ({}) ---\n{}\n--- end of {} log ---",
                self.name,
                self.log_path.display(),
                self.log_tail(),
                self.name
            );
        }
        self.stop();
    }
}

#[cfg(unix)]
pub(crate) fn isolate(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (prctl, getppid); it allocates nothing.
        let parent = std::process::id();
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("parent exited during spawn"));
                }
                Ok(())
            });
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn isolate(_command: &mut Command) {}

#[cfg(unix)]
pub(crate) fn kill_group(pid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain system call. The caller checked the child is not yet reaped, and it
        // leads its own group (process_group(0)), so this signals only it and its descendants.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn kill_group(_pid: u32) {}

#[cfg(unix)]
fn signal_process(pid: u32, signal: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain system call; the caller checked the child is not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(not(unix))]
fn signal_process(_pid: u32, _signal: i32) {}

/// How a server is invoked once its port and directory are known.
#[derive(Debug, Default)]
pub(crate) struct Invocation {
    /// Command-line arguments.
    pub(crate) args: Vec<OsString>,
    /// Extra environment variables.
    pub(crate) envs: Vec<(&'static str, String)>,
    /// Environment variables to unset.
    pub(crate) env_remove: Vec<&'static str>,
    /// The user to run the server as, if not the caller.
    pub(crate) run_as: Option<RunAs>,
}

/// Parameters shared by the emulator starters.
#[derive(Debug)]
pub(crate) struct LaunchOptions {
    /// Short name used for the temp dir, the log file and messages ("moto", "tansu").
    pub(crate) name: &'static str,
    /// The binary to run.
    pub(crate) program: PathBuf,
    /// How long one attempt may take to become ready.
    pub(crate) startup_timeout: Duration,
    /// How many fresh ports to try when the chosen one turns out to be taken.
    pub(crate) attempts: u32,
}

/// Delay between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// Starts a server on a free loopback port and waits until `probe` reports it ready.
///
/// `invocation(port, dir)` builds the command line; `probe(port, log)` is called repeatedly with
/// the current log text and must return true only once *this* child serves the port (check
/// the child's own "listening on" log line as well as the protocol, because another process
/// may have grabbed the port between [`free_port`](crate::free_port) and the bind). A child
/// that exits with "Address already in use" is retried on a new port.
pub(crate) async fn launch<I, P, F>(
    options: &LaunchOptions,
    invocation: I,
    mut probe: P,
) -> Result<(ServerProcess, u16)>
where
    I: Fn(u16, &Path) -> Invocation,
    P: FnMut(u16, String) -> F,
    F: std::future::Future<Output = bool>,
{
    let name = options.name;
    let mut last_error = None;
    for _ in 0..options.attempts.max(1) {
        let port = crate::port::free_port()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("shopstream-{name}-"))
            .tempdir()
            .with_context(|| format!("creating a temporary directory for {name}"))?;
        let Invocation {
            args,
            envs,
            env_remove,
            run_as,
        } = invocation(port, dir.path());
        let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut process = ServerProcess::spawn(
            name,
            &options.program,
            &args,
            &env_refs,
            &env_remove,
            run_as.as_ref(),
            dir,
        )?;

        let deadline = Instant::now() + options.startup_timeout;
        loop {
            if let Some(status) = process.exit_status()? {
                let log = process.log_tail();
                let error = anyhow::anyhow!(
                    "{name} exited during startup ({status}) on port {port}; log {}:\n{log}",
                    process.log_path().display()
                );
                if log.contains("Address already in use") || log.contains("AddrInUse") {
                    last_error = Some(error);
                    break;
                }
                return Err(error);
            }
            if probe(port, process.log_text()).await {
                return Ok((process, port));
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "{name} did not become ready on 127.0.0.1:{port} within {:?}; log {}:\n{}",
                    options.startup_timeout,
                    process.log_path().display(),
                    process.log_tail()
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("{name} could not be started")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_says_how_to_install() {
        let error = check_binary(
            PathBuf::from("/nonexistent/shopstream/moto_server"),
            "from $SHOPSTREAM_MOTO_BIN",
            "SHOPSTREAM_MOTO_BIN",
        )
        .expect_err("a missing file is an error");
        let message = error.to_string();
        assert!(
            message.contains("moto_server not found at /nonexistent"),
            "{message}"
        );
        assert!(
            message.contains("scripts/install-emulators.sh"),
            "{message}"
        );
        assert!(message.contains("SHOPSTREAM_MOTO_BIN"), "{message}");
    }

    fn shell_launch(name: &'static str, timeout: Duration) -> LaunchOptions {
        LaunchOptions {
            name,
            program: PathBuf::from("/bin/sh"),
            startup_timeout: timeout,
            attempts: 3,
        }
    }

    fn shell(script: &str) -> Invocation {
        Invocation {
            args: vec!["-c".into(), script.into()],
            ..Invocation::default()
        }
    }

    async fn log_says_ready(_port: u16, log: String) -> bool {
        log.contains("ready")
    }

    #[tokio::test]
    async fn retries_on_a_new_port_when_the_port_is_taken() {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let options = shell_launch("retry", Duration::from_secs(10));
        let (mut process, _port) = launch(
            &options,
            |port, _dir| {
                if attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    shell(&format!("echo 'port {port}: Address already in use'"))
                } else {
                    shell("echo ready; exec sleep 30")
                }
            },
            log_says_ready,
        )
        .await
        .expect("second attempt starts");
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(process.exit_status().expect("status").is_none());
        let pid = process.pid();
        drop(process);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "child reaped");
    }

    #[tokio::test]
    async fn other_startup_failures_are_reported_with_the_log() {
        let options = shell_launch("crash", Duration::from_secs(10));
        let error = launch(
            &options,
            |_, _| shell("echo 'boom: bad config' >&2; exit 3"),
            log_says_ready,
        )
        .await
        .expect_err("a crashing server fails to start");
        let message = format!("{error:#}");
        assert!(message.contains("crash exited during startup"), "{message}");
        assert!(message.contains("boom: bad config"), "{message}");
    }

    #[tokio::test]
    async fn startup_timeout_is_reported_with_the_log() {
        let options = shell_launch("slow", Duration::from_millis(300));
        let error = launch(
            &options,
            |_, _| shell("echo 'still warming up'; exec sleep 30"),
            log_says_ready,
        )
        .await
        .expect_err("a server that never gets ready fails to start");
        let message = format!("{error:#}");
        assert!(message.contains("did not become ready"), "{message}");
        assert!(message.contains("still warming up"), "{message}");
    }

    #[test]
    fn existing_binary_is_accepted() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let found = check_binary(file.path().to_path_buf(), "test", "X").expect("found");
        assert_eq!(found, file.path());
    }
}
