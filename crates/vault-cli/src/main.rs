//! `vault`: the command line over the `vault` library (see the README). A thin shell: parsing,
//! password input, output formatting and exit codes; every operation is a library call.

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod run;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    run::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
