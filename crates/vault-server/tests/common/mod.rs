//! What the tests running the real `vault-server` binary share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts the binary on PostgreSQL `database`, listening on a free loopback port, logging at
/// `log` (`RUST_LOG`); returns the child and the address it printed (`listening on ADDR`).
pub fn spawn_server(database: &str, log: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vault-server"))
        .args(["--database-url", database, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start vault-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("its first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the address line")
        .to_owned();
    (child, addr)
}
