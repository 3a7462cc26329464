//! The PID file: refuses a second daemon on the same data, replaces a stale file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A PID file removed when dropped.
pub struct PidFile {
    path: PathBuf,
}

/// True when a process with `pid` exists.
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl PidFile {
    /// Writes this process's PID to `path`, unless a live process already holds it.
    /// Returns whether a stale file was replaced.
    pub fn acquire(path: &Path) -> anyhow::Result<(PidFile, Option<i32>)> {
        let mut stale = None;
        if let Ok(text) = std::fs::read_to_string(path) {
            match text.trim().parse::<i32>() {
                Ok(pid) if pid != std::process::id() as i32 && process_alive(pid) => {
                    bail!(
                        "another ironpost-daemon (pid {pid}) is running with PID file {}; stop it first",
                        path.display()
                    );
                }
                Ok(pid) => stale = Some(pid),
                Err(_) => stale = Some(0),
            }
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing PID file {}", path.display()))?;
        Ok((
            PidFile {
                path: path.to_owned(),
            },
            stale,
        ))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
