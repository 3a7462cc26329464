//! `ironpost scan --container` and `--image` against a real Docker Engine: the lockfiles and
//! package databases inside a container's filesystem are read from the engine's export stream.

mod support;

use std::path::Path;
use std::process::Command;

use support::{cli_bin, docker, stderr};

fn shared(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(path)
}

/// Removes the test's container and image even when the test fails.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.container]);
        let _ = docker(&["rmi", "-f", &self.image]);
    }
}

fn findings(out: &std::process::Output) -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)));
    doc["findings"].as_array().unwrap().clone()
}

#[test]
fn a_containers_filesystem_is_scanned_through_the_export_stream() {
    if !docker(&["info"]).status.success() {
        eprintln!("skipped: no Docker Engine answers (scripts/start-dockerd starts one)");
        return;
    }
    if !docker(&["image", "inspect", "ironpost-test/busybox:latest"])
        .status
        .success()
    {
        eprintln!(
            "skipped: the image ironpost-test/busybox:latest is missing (scripts/start-dockerd builds it)"
        );
        return;
    }
    let name = format!("ironpost-test-scan-{}", std::process::id());
    let guard = Cleanup {
        container: name.clone(),
        image: format!("ironpost-test-scan-image:{}", std::process::id()),
    };
    let out = docker(&[
        "create",
        "--name",
        &name,
        "ironpost-test/busybox:latest",
        "sleep",
        "3600",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lockfile = shared("data/lockfiles/cargo/Cargo.lock");
    let out = docker(&[
        "cp",
        lockfile.to_str().unwrap(),
        &format!("{name}:/Cargo.lock"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let dpkg = dir.path().join("status");
    std::fs::write(&dpkg, "Package: busybox\nStatus: install ok installed\nVersion: 1:1.35.0-4+b3\nArchitecture: amd64\n\n").unwrap();
    // `docker cp` of a tar stream creates the directories inside the (stopped) container.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mkdir -p {d}/var/lib/dpkg && cp {s} {d}/var/lib/dpkg/status && tar -C {d} -cf - var | docker cp - {name}:/",
            d = dir.path().display(),
            s = dpkg.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let db = dir.path().join("vulndb");
    let out = Command::new(cli_bin())
        .args(["db", "import"])
        .arg(shared("data/advisories/rustsec-osv"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let scan = |target: &[&str]| {
        Command::new(cli_bin())
            .arg("scan")
            .args(target)
            .arg("--db")
            .arg(&db)
            .args(["--format", "json", "--fail-on", "never"])
            .output()
            .unwrap()
    };
    let on_disk = findings(&scan(&[lockfile.to_str().unwrap()]));
    assert!(!on_disk.is_empty());
    let out = scan(&["--container", &name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let in_container = findings(&out);
    assert_eq!(
        in_container.len(),
        on_disk.len(),
        "the container's Cargo.lock gives other findings"
    );
    assert!(
        in_container
            .iter()
            .all(|f| f["lockfile"] == format!("container:{name}:/Cargo.lock")),
        "{:?}",
        in_container[0]
    );

    // The SBOM of the container lists the dpkg package and the crates.
    let out = Command::new(cli_bin())
        .args(["sbom", "--container", &name, "--format", "cyclonedx-json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bom: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls
            .iter()
            .any(|p| p.starts_with("pkg:deb/") && p.contains("busybox")),
        "{purls:?}"
    );
    assert!(purls.iter().any(|p| p.starts_with("pkg:cargo/")));

    // An image: the same through a scratch container that is removed afterwards.
    let out = docker(&["commit", &name, &guard.image]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = docker(&["ps", "-aq"]).stdout.len();
    let out = scan(&["--image", &guard.image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(findings(&out).len(), on_disk.len());
    assert_eq!(
        docker(&["ps", "-aq"]).stdout.len(),
        before,
        "the scratch container was left behind"
    );

    // An unknown container is a clear error.
    let out = scan(&["--container", "ironpost-test-no-such-container"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ironpost-test-no-such-container"),
        "{}",
        stderr(&out)
    );
}
