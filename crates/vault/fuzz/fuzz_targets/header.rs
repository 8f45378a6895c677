//! Fuzz target `header`: see `vault::fuzzing` for the input layout.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vault::fuzzing::run("header", data));
