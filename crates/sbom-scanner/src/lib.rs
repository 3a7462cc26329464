//! Software inventory and vulnerability matching for Ironpost.
//!
//! This crate will own lockfile discovery (`discover/`), one parser per lockfile format
//! (`lockfiles/`), one total version ordering per ecosystem (`versions/`), SBOM writers for
//! CycloneDX and SPDX (`sbom/`), the offline OSV database and its index (`vulndb/`), and the
//! report formats (`report/`).
