//! Replays every committed fuzz input (`fuzz/corpus/<target>/*`, and any crash, leak or
//! timeout reproducer in `fuzz/artifacts/<target>/*`) through its decoder on stable Rust, so an
//! input that once found a bug keeps being checked by `cargo test`. `scripts/fuzz.sh` fuzzes.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

#[test]
fn every_committed_fuzz_input_decodes_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for target in vault::fuzzing::TARGETS {
        let mut replayed = 0;
        for dir in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                vault::fuzzing::run(target, &data);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no corpus for fuzz target {target}");
    }
}

#[test]
fn seeds_are_valid_inputs_of_their_decoders() {
    let seeds = vault::fuzzing::seeds();
    for target in vault::fuzzing::TARGETS {
        assert!(
            seeds.iter().any(|(t, _, _)| *t == target),
            "no seed for {target}"
        );
    }
    for (target, name, data) in seeds {
        assert!(
            vault::fuzzing::accepts(target, &data),
            "seed {target}/{name} is not a valid input"
        );
    }
}

/// Writes the seed corpus (`fuzz/corpus/<target>/seed-*`) from the golden fixture:
/// `scripts/fuzz.sh` runs it before fuzzing (`cargo test -p vault --test fuzz_corpus --
/// --ignored write_seed_corpus`).
#[test]
#[ignore = "writes the seed corpus"]
fn write_seed_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    for (target, name, data) in vault::fuzzing::seeds() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}
