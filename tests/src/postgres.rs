//! PostgreSQL (≥ 15, for MERGE): a throwaway server in a temporary directory, for executing the
//! warehouse SQL on a real database.
//!
//! The server binaries come from `$SHOPSTREAM_PG_BINDIR`, else `pg_config --bindir`, else the
//! newest `/usr/lib/postgresql/<major>/bin` (Debian's layout), else `PATH`.
//! `scripts/install-emulators.sh postgres` installs the Debian package `postgresql` and, when
//! run as root, the unprivileged user `shopstream-pg`: PostgreSQL refuses to run as root, so a
//! root caller (CI) runs `initdb` and the server as `$SHOPSTREAM_PG_OS_USER`, else
//! `shopstream-pg`, else the `postgres` user the Debian package creates.
//!
//! The server listens on a free port on 127.0.0.1 only (no Unix socket), trusts local
//! connections as the superuser `postgres`, and runs without fsync: test data is disposable.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

use crate::process::{self, Invocation, LaunchOptions, RunAs, ServerProcess};

/// Environment variable naming the directory holding `initdb`, `postgres` and `psql`.
pub const PG_BINDIR_ENV: &str = "SHOPSTREAM_PG_BINDIR";
/// Environment variable naming the OS user the server runs as when the caller is root.
pub const PG_OS_USER_ENV: &str = "SHOPSTREAM_PG_OS_USER";
/// OS users tried, in order, when the caller is root and `$SHOPSTREAM_PG_OS_USER` is unset.
const DEFAULT_OS_USERS: &[&str] = &["shopstream-pg", "postgres"];
/// The database superuser `initdb` creates.
pub const PG_SUPERUSER: &str = "postgres";
/// The database every connection uses unless told otherwise.
pub const PG_DATABASE: &str = "postgres";
/// MERGE arrived in PostgreSQL 15.
const MIN_MAJOR_VERSION: u32 = 15;
/// `initdb` usually needs one or two seconds; a loaded CI machine more.
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the server may take to accept connections after `initdb`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one `psql` run may take.
const PSQL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a fast shutdown (SIGINT) may take before the process group is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Variables libpq and the server read that must not leak in from the caller's environment.
const IGNORED_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGDATABASE",
    "PGSSLMODE",
    "PGTZ",
    "PGCLIENTENCODING",
];
/// Field and record separators of [`PostgresServer::query`] output, and its NULL marker:
/// control characters that the tests' data does not contain.
const FIELD_SEPARATOR: char = '\u{1f}';
const RECORD_SEPARATOR: char = '\u{1e}';
const NULL_MARKER: &str = "\u{1}";

/// One row of a query result: `None` is SQL NULL, every other value is PostgreSQL's text form.
pub type Row = Vec<Option<String>>;

/// A PostgreSQL server on a private 127.0.0.1 port with its own data directory, running for as
/// long as this value lives.
///
/// Dropping it asks the server for a fast shutdown (so it releases its shared memory), kills
/// the process group if that takes longer than ten seconds, and removes the data directory.
#[derive(Debug)]
pub struct PostgresServer {
    // Declared before `_data`: the server stops before its data directory is removed.
    process: ServerProcess,
    port: u16,
    bindir: PathBuf,
    version: String,
    _data: TempDir,
}

impl PostgresServer {
    /// Initialises a cluster in a temporary directory, starts it on a free port and waits
    /// until it accepts connections.
    ///
    /// Fails with a hint to run `scripts/install-emulators.sh postgres` when no PostgreSQL ≥ 15
    /// is found or (as root) no unprivileged user exists, and with the `initdb` output or the
    /// server log when either fails.
    pub async fn start() -> Result<Self> {
        let (bindir, version) = locate_bindir()?;
        let run_as = if process::running_as_root() {
            Some(unprivileged_user()?)
        } else {
            None
        };

        let data = tempfile::Builder::new()
            .prefix("shopstream-postgres-data-")
            .tempdir()
            .context("creating a temporary directory for the PostgreSQL cluster")?;
        if let Some(user) = &run_as {
            user.own(data.path())?;
        }
        let cluster = data.path().join("cluster");
        initdb(&bindir, &cluster, run_as.as_ref()).await?;

        let options = LaunchOptions {
            name: "postgres",
            program: bindir.join("postgres"),
            startup_timeout: STARTUP_TIMEOUT,
            attempts: 3,
        };
        let (mut process, port) = process::launch(
            &options,
            |port, _dir| invocation(&cluster, port, run_as.clone()),
            probe,
        )
        .await?;
        process.stop_gracefully_with(libc::SIGINT, SHUTDOWN_GRACE);
        Ok(Self {
            process,
            port,
            bindir,
            version,
            _data: data,
        })
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's version text, e.g. `15.18`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A libpq connection URI for `database` as the superuser (no password: trust auth).
    pub fn connection_uri(&self, database: &str) -> String {
        format!(
            "postgresql://{PG_SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// A psql client for the default database as the superuser.
    pub fn client(&self) -> Psql {
        Psql {
            program: psql_program(&self.bindir),
            uri: self.connection_uri(PG_DATABASE),
            timeout: PSQL_TIMEOUT,
        }
    }

    /// Runs `script` (any number of statements, psql meta-commands and inline
    /// `COPY ... FROM STDIN` data) in the default database, stopping at the first error.
    /// Returns psql's standard output; an error carries psql's messages.
    pub async fn execute(&self, script: &str) -> Result<String> {
        self.client().execute(script).await
    }

    /// Runs one query and returns its rows in the order the server sent them.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>> {
        self.client().query(sql).await
    }

    /// The server's process id (the leader of its own process group).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The file the server's output goes to; removed when the server is dropped.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }
}

/// `psql` connected to one database: a [`PostgresServer`] of this crate's, or any server a
/// libpq URI reaches (`postgres://user@host:port/db`). Every run stops at the first error.
#[derive(Debug, Clone)]
pub struct Psql {
    program: PathBuf,
    uri: String,
    timeout: Duration,
}

impl Psql {
    /// A client for `uri`, with the `psql` beside the PostgreSQL server binaries (see the
    /// module documentation), else the one on `PATH`.
    pub fn for_uri(uri: &str) -> Self {
        let program = locate_bindir()
            .map(|(bindir, _)| psql_program(&bindir))
            .unwrap_or_else(|_| PathBuf::from("psql"));
        Psql {
            program,
            uri: uri.to_owned(),
            timeout: PSQL_TIMEOUT,
        }
    }

    /// The same client with another bound on one run (two minutes by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Runs `script` (statements, psql meta-commands, inline `COPY ... FROM STDIN` data);
    /// returns psql's standard output; an error carries psql's messages.
    pub async fn execute(&self, script: &str) -> Result<String> {
        self.run(&[], script).await
    }

    /// Runs one query and returns its rows in the order the server sent them.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>> {
        self.query_with(sql, &[]).await
    }

    /// [`query`](Self::query) with psql variables set (`:'name'` in the SQL is the value as a
    /// quoted literal).
    pub async fn query_with(&self, sql: &str, variables: &[(&str, &str)]) -> Result<Vec<Row>> {
        let mut args: Vec<OsString> = vec![
            "--no-align".into(),
            "--tuples-only".into(),
            "--field-separator".into(),
            FIELD_SEPARATOR.to_string().into(),
            "--record-separator".into(),
            RECORD_SEPARATOR.to_string().into(),
            "--pset".into(),
            format!("null={NULL_MARKER}").into(),
        ];
        for (name, value) in variables {
            args.push("--set".into());
            args.push(format!("{name}={value}").into());
        }
        let output = self.run(&args, sql).await?;
        Ok(parse_rows(&output))
    }

    async fn run(&self, extra_args: &[OsString], script: &str) -> Result<String> {
        let mut command = tokio::process::Command::new(&self.program);
        for key in IGNORED_ENV {
            command.env_remove(key);
        }
        command
            .args([
                "--no-psqlrc",
                "--quiet",
                "--set",
                "ON_ERROR_STOP=1",
                "--dbname",
            ])
            .arg(&self.uri)
            .args(extra_args)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {}", self.program.display()))?;
        let mut stdin = child.stdin.take().context("psql stdin")?;
        let script = script.to_owned();
        // Written concurrently with reading the output, so a large script cannot deadlock on
        // full pipes.
        let writer = tokio::spawn(async move {
            let written = stdin.write_all(script.as_bytes()).await;
            drop(stdin);
            written
        });
        let timeout = self.timeout;
        let output = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .with_context(|| format!("psql did not finish within {timeout:?}"))?
            .context("waiting for psql")?;
        let written = writer.await.context("psql stdin writer")?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            anyhow::bail!("psql failed ({}): {}", output.status, stderr.trim());
        }
        written.context("writing the script to psql")?;
        Ok(stdout)
    }
}

/// Splits `--no-align --tuples-only` output into rows of fields: nothing at all for no rows,
/// else the records and one final newline.
fn parse_rows(output: &str) -> Vec<Row> {
    if output.is_empty() {
        return Vec::new();
    }
    let body = output.strip_suffix('\n').unwrap_or(output);
    body.split(RECORD_SEPARATOR)
        .map(|record| {
            record
                .split(FIELD_SEPARATOR)
                .map(|field| (field != NULL_MARKER).then(|| field.to_owned()))
                .collect()
        })
        .collect()
}

fn psql_program(bindir: &Path) -> PathBuf {
    let beside = bindir.join("psql");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("psql")
    }
}

async fn initdb(bindir: &Path, cluster: &Path, run_as: Option<&RunAs>) -> Result<()> {
    let mut command = std::process::Command::new(bindir.join("initdb"));
    for key in IGNORED_ENV {
        command.env_remove(key);
    }
    command
        .arg("--pgdata")
        .arg(cluster)
        .args([
            "--username",
            PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ])
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    if let Some(cluster_parent) = cluster.parent() {
        // initdb as another user must be able to enter its working directory.
        command.current_dir(cluster_parent);
    }
    if let Some(user) = run_as {
        user.apply(&mut command);
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(INITDB_TIMEOUT, command.output())
        .await
        .with_context(|| format!("initdb did not finish within {INITDB_TIMEOUT:?}"))?
        .with_context(|| format!("running {}", bindir.join("initdb").display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "initdb failed ({}){}:\n{}{}",
            output.status,
            run_as
                .map(|user| format!(" running as {}", user.name))
                .unwrap_or_default(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn invocation(cluster: &Path, port: u16, run_as: Option<RunAs>) -> Invocation {
    let mut args: Vec<OsString> = vec![
        "-D".into(),
        cluster.as_os_str().to_owned(),
        "-p".into(),
        port.to_string().into(),
    ];
    for setting in [
        "listen_addresses=127.0.0.1",
        "unix_socket_directories=",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "shared_buffers=32MB",
        "max_connections=20",
        "timezone=UTC",
        "datestyle=ISO, YMD",
    ] {
        args.push("-c".into());
        args.push(setting.into());
    }
    Invocation {
        args,
        envs: vec![("LC_ALL", "C".to_owned())],
        env_remove: IGNORED_ENV.to_vec(),
        run_as,
    }
}

/// Ready once our child logged that it listens on the port (so it, not a stranger, owns it)
/// and that it accepts connections.
async fn probe(port: u16, log: String) -> bool {
    log.contains(&format!(
        "listening on IPv4 address \"127.0.0.1\", port {port}"
    )) && log.contains("database system is ready to accept connections")
}

fn unprivileged_user() -> Result<RunAs> {
    let explicit = std::env::var(PG_OS_USER_ENV)
        .ok()
        .filter(|name| !name.is_empty());
    if let Some(name) = explicit {
        return RunAs::lookup(&name)?
            .with_context(|| format!("${PG_OS_USER_ENV} names user {name}, which does not exist"));
    }
    for name in DEFAULT_OS_USERS {
        if let Some(user) = RunAs::lookup(name)? {
            return Ok(user);
        }
    }
    anyhow::bail!(
        "running as root, and PostgreSQL refuses to: no unprivileged user to run it as (tried {}); \
         run scripts/install-emulators.sh postgres (creates shopstream-pg) or set ${PG_OS_USER_ENV}",
        DEFAULT_OS_USERS.join(", ")
    )
}

/// The first directory holding `initdb` and `postgres` of a version ≥ 15, with that version.
fn locate_bindir() -> Result<(PathBuf, String)> {
    if let Some(dir) = std::env::var_os(PG_BINDIR_ENV).filter(|value| !value.is_empty()) {
        let dir = PathBuf::from(dir);
        return server_version(&dir)
            .map(|version| (dir.clone(), version))
            .with_context(|| format!("${PG_BINDIR_ENV}={}", dir.display()));
    }
    let mut tried = Vec::new();
    for dir in candidate_bindirs() {
        match server_version(&dir) {
            Ok(version) => return Ok((dir, version)),
            Err(error) => tried.push(format!("{}: {error:#}", dir.display())),
        }
    }
    anyhow::bail!(
        "no PostgreSQL ≥ {MIN_MAJOR_VERSION} server found (looked in pg_config --bindir, \
         /usr/lib/postgresql/*/bin and PATH{}); run scripts/install-emulators.sh postgres to \
         install the Debian package postgresql, or set {PG_BINDIR_ENV} to its bin directory",
        if tried.is_empty() {
            String::new()
        } else {
            format!(": {}", tried.join("; "))
        }
    )
}

fn candidate_bindirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(output) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        if output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if !text.is_empty() {
                dirs.push(PathBuf::from(text));
            }
        }
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    dirs.extend(debian.into_iter().map(|(_, dir)| dir));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut unique = Vec::new();
    for dir in dirs {
        if !unique.contains(&dir) && dir.join("initdb").is_file() && dir.join("postgres").is_file()
        {
            unique.push(dir);
        }
    }
    unique
}

/// `postgres --version` of `dir`, checked to be at least 15.
fn server_version(dir: &Path) -> Result<String> {
    for binary in ["initdb", "postgres"] {
        if !dir.join(binary).is_file() {
            anyhow::bail!("no {binary} in {}", dir.display());
        }
    }
    let output = std::process::Command::new(dir.join("postgres"))
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {}/postgres --version", dir.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = parse_version(&text)
        .with_context(|| format!("unrecognised postgres --version output {text:?}"))?;
    let major = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .unwrap_or(0);
    if major < MIN_MAJOR_VERSION {
        anyhow::bail!("PostgreSQL {version} is too old: MERGE needs {MIN_MAJOR_VERSION} or later");
    }
    Ok(version)
}

/// `15.18` from `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
fn parse_version(text: &str) -> Option<String> {
    let rest = text.split("(PostgreSQL)").nth(1)?;
    let version = rest.split_whitespace().next()?;
    version
        .chars()
        .next()
        .filter(char::is_ascii_digit)
        .map(|_| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_text_is_parsed() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 16devel\n").as_deref(),
            Some("16devel")
        );
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn rows_split_on_separators_with_nulls_and_newlines_kept() {
        let output = "1\u{1f}\u{1}\u{1f}x\ny\u{1e}2\u{1f}\u{1f}z\n";
        assert_eq!(
            parse_rows(output),
            vec![
                vec![Some("1".into()), None, Some("x\ny".into())],
                vec![Some("2".into()), Some(String::new()), Some("z".into())],
            ]
        );
        assert!(parse_rows("").is_empty());
        assert_eq!(parse_rows("\n"), vec![vec![Some(String::new())]]);
    }

    #[test]
    fn a_directory_without_the_binaries_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let message = format!("{:#}", server_version(dir.path()).expect_err("no binaries"));
        assert!(message.contains("no initdb in"), "{message}");
    }
}
