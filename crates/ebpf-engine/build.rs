//! Compiles the kernel programs under `bpf/` with clang into `OUT_DIR`, where `src/` embeds them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The programs to compile: source under `bpf/`, object name in `OUT_DIR`.
const PROGRAMS: &[(&str, &str)] = &[
    ("xdp.bpf.c", "xdp.bpf.o"),
    ("xdp_generator.bpf.c", "xdp_generator.bpf.o"),
    ("exec.bpf.c", "exec.bpf.o"),
];

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let bpf = manifest.join("bpf");
    println!("cargo:rerun-if-changed={}", bpf.display());
    println!("cargo:rerun-if-env-changed=IRONPOST_CLANG");
    let clang = std::env::var("IRONPOST_CLANG").unwrap_or_else(|_| "clang".to_owned());
    for (source, object) in PROGRAMS {
        compile(&clang, &bpf, &bpf.join(source), &out.join(object));
    }
}

fn compile(clang: &str, include: &Path, source: &Path, object: &Path) {
    let arch_include = format!("/usr/include/{}-linux-gnu", multiarch());
    let output = Command::new(clang)
        .args([
            "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Werror",
        ])
        .arg("-I")
        .arg(include)
        .arg("-I")
        .arg(&arch_include)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(object)
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{clang}` was not found: the eBPF programs are compiled with clang. \
             Install it (Debian/Ubuntu: `apt-get install clang libbpf-dev`) or set IRONPOST_CLANG \
             to a clang binary."
        ),
        Err(e) => panic!("running `{clang}` on {}: {e}", source.display()),
        Ok(o) if !o.status.success() => panic!(
            "clang failed to compile {} (are the libbpf headers installed? Debian: `apt-get \
             install libbpf-dev`):\n{}",
            source.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => {}
    }
}

/// The Debian multiarch triplet's architecture, where `asm/types.h` lives.
fn multiarch() -> &'static str {
    match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "aarch64",
        Ok("riscv64") => "riscv64",
        _ => "x86_64",
    }
}
