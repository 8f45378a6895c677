//! Native vault benchmarks (see `vault_rows.rs`); `scripts/bench.sh vault` prints the table.

#[cfg(not(target_arch = "wasm32"))]
include!("vault_rows.rs");

#[cfg(target_arch = "wasm32")]
fn main() {}
