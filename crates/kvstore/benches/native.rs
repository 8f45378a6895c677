//! Native benchmarks of every backend beside its raw crate (see `native_rows.rs`);
//! `scripts/bench.sh native` runs them and prints the ratios. Nothing to run on wasm32, where
//! `tests/browser_bench.rs` is the harness.

#[cfg(not(target_arch = "wasm32"))]
include!("native_rows.rs");

#[cfg(target_arch = "wasm32")]
fn main() {}
