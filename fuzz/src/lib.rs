//! Fuzz targets for popview (cargo-fuzz layout). The checks live in
//! `checks.rs`, which `tests/fuzz_regressions.rs` includes as well.

pub mod checks;
