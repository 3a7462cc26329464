//! Test support: a temporary PostgreSQL cluster on a free loopback port.
//!
//! [`TempPostgres::start`] runs `initdb` and `pg_ctl` from the PostgreSQL binaries installed
//! under `/usr/lib/postgresql/<version>/bin` (Debian's layout; `IRONPOST_PG_BIN` overrides the
//! directory). As root it runs them as the `postgres` user, since PostgreSQL refuses to run as
//! root. The cluster trusts local connections, skips fsync (`fsync=off`: an immediate stop keeps committed data, only a host crash would lose it) and is
//! stopped and deleted on drop. Tests can stop and start it to simulate an outage.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running temporary cluster.
pub struct TempPostgres {
    fsync: bool,
    tls: Option<(PathBuf, PathBuf)>,
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("IRONPOST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl TempPostgres {
    /// Starts a cluster. `Ok(None)` when no PostgreSQL binaries are installed (the caller skips,
    /// saying so); an error when they are there but the cluster does not start.
    pub fn start() -> Result<Option<TempPostgres>, String> {
        Self::start_with(false)
    }

    /// Like [`TempPostgres::start`]; with `fsync` the server keeps PostgreSQL's durable defaults
    /// (for benchmarks that must not flatter the database).
    pub fn start_with(fsync: bool) -> Result<Option<TempPostgres>, String> {
        Self::start_full(fsync, None)
    }

    /// A cluster that also accepts TLS with the certificate and key at `cert` and `key` (PEM).
    pub fn start_tls(cert: &Path, key: &Path) -> Result<Option<TempPostgres>, String> {
        Self::start_full(false, Some((cert.to_owned(), key.to_owned())))
    }

    fn start_full(
        fsync: bool,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> Result<Option<TempPostgres>, String> {
        let Some(bin) = find_bin() else {
            return Ok(None);
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ironpost-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(
                    "chown to the postgres user failed: is the postgres user there?".into(),
                );
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        let tls = match tls {
            Some((cert, key)) => {
                // The server reads its key as its own user, and only from a private file.
                let (c, k) = (dir.join("server.crt"), dir.join("server.key"));
                std::fs::copy(&cert, &c).map_err(|e| format!("{}: {e}", cert.display()))?;
                std::fs::copy(&key, &k).map_err(|e| format!("{}: {e}", key.display()))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| e.to_string())?;
                Some((c, k))
            }
            None => None,
        };
        if root && tls.is_some() {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status();
        }
        let pg = TempPostgres {
            fsync,
            tls,
            dir,
            bin,
            port: free_port().map_err(|e| e.to_string())?,
            run_as,
        };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        pg.start_again()?;
        Ok(Some(pg))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
            Err(format!(
                "{tool} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Starts the server again after [`TempPostgres::stop`] (on the same port).
    pub fn start_again(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync={}",
            self.port,
            path_str(&self.dir),
            if self.fsync { "on" } else { "off" }
        );
        let opts = match &self.tls {
            Some((cert, key)) => format!(
                "{opts} -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                path_str(cert),
                path_str(key)
            ),
            None => opts,
        };
        let data = self.data_dir();
        let log = self.dir.join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-o",
                &opts,
                "-l",
                path_str(&log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Stops the server at once (`-m immediate`), as a crash or an outage would.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
        )
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for database `db` as the `postgres` superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| e.to_string())?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| e.to_string())?;
        Ok(self.url(name))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}
