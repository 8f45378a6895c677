//! What a command writes: names escaped for terminals, one JSON value with `--json`, secret
//! bytes unbuffered, and files atomically and privately.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use vault::KeyInfo;

use crate::cli::Cli;

/// `text` as it is safe to show on a terminal: control characters, bidi controls, zero-width
/// and other invisible or unassigned characters are shown as `\u{…}` escapes (so a name read
/// from a store or a backup cannot move the cursor, recolour the terminal or display as
/// another name), and a backslash as `\\`. Combining marks inside a name stay as they are.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    let needs_escape = |(i, c): (usize, char)| {
        c == '\\' || (c != '"' && c != '\'' && escaped(c, i == 0) != c.to_string())
    };
    if !text.char_indices().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        if c == '"' || c == '\'' {
            out.push(c);
        } else {
            out.push_str(&escaped(c, i == 0));
        }
    }
    Cow::Owned(out)
}

/// Rust's `escape_debug` of `c`, as it would be inside a string (after its first character,
/// a combining mark is printable) or at its start.
fn escaped(c: char, at_start: bool) -> String {
    let mut probe = String::from(if at_start { "" } else { "a" });
    probe.push(c);
    let escaped: String = probe.escape_debug().collect();
    escaped[probe.len() - c.len_utf8()..].to_owned()
}

pub(crate) fn key_json(info: &KeyInfo) -> serde_json::Value {
    json!({
        "name": info.name,
        "type": info.key_type.as_str(),
        "public_key": hex::encode(&info.public_key),
        "eth_address": info.eth_address().map(|a| vault::eth_checksum_address(&a)),
        "seed": info.derivation.as_ref().map(|d| &d.seed),
        "path": info.derivation.as_ref().map(|d| &d.path),
    })
}

pub(crate) fn key_line(info: &KeyInfo) -> String {
    let mut line = format!(
        "{}\t{}\t{}",
        printable(&info.name),
        info.key_type,
        hex::encode(&info.public_key)
    );
    if let Some(address) = info.eth_address() {
        line += &format!("\t{}", vault::eth_checksum_address(&address));
    }
    if let Some(derivation) = &info.derivation {
        line += &format!("\t{}", printable(&derivation.path));
    }
    line
}

pub(crate) fn say(cli: &Cli, human: impl FnOnce() -> String, machine: serde_json::Value) {
    if cli.json {
        println!("{machine}");
    } else {
        println!("{}", human());
    }
}

/// A list of names: one per line, escaped for a terminal, or one JSON array.
pub(crate) fn say_names(cli: &Cli, names: &[String]) {
    say(
        cli,
        || {
            let lines: Vec<_> = names.iter().map(|n| printable(n)).collect();
            lines.join("\n")
        },
        json!(names),
    );
}

/// Standard output without Rust's buffer in between: secret bytes written here leave no copy
/// in a buffer that outlives the write.
pub(crate) fn raw_stdout() -> Result<File> {
    Ok(File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot write standard output")?,
    ))
}

/// Writes `path` through `write`.
///
/// A regular file (new, or existing, also behind symbolic links) is written into a new private
/// temporary file in the directory of the file itself, synced, then renamed over it: on any
/// error the temporary file is removed and whatever the file held before is untouched; it never
/// holds partial output, and a symbolic link stays a link to the new file.
///
/// Anything else that exists (`/dev/null`, a terminal, a FIFO, a socket) is opened and written
/// in place: renaming over it would replace the device or pipe with a regular file (as root,
/// `-o /dev/null` would replace the system's `/dev/null`). A directory or a dangling symbolic
/// link is refused.
pub(crate) fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<()>,
) -> Result<()> {
    let cannot = || format!("cannot write {}", path.display());
    let target = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => bail!("cannot write {}: it is a directory", path.display()),
        Ok(meta) if !meta.is_file() => {
            let mut file = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(cannot)?;
            return write(&mut file);
        }
        Ok(_) => std::fs::canonicalize(path).with_context(cannot)?,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                bail!(
                    "cannot write {}: it is a symbolic link to a file that does not exist",
                    path.display()
                );
            }
            path.to_path_buf()
        }
        Err(err) => return Err(err).with_context(cannot),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".vault-")
        .suffix(".partial")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    write(temp.as_file_mut())?;
    temp.as_file().sync_all().with_context(cannot)?;
    temp.persist(&target).with_context(cannot)?;
    // The rename is durable once the directory is.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

pub(crate) fn write_output(path: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_file_atomically(path, |file| {
            file.write_all(bytes)
                .with_context(|| format!("cannot write {}", path.display()))
        }),
        None => raw_stdout()?
            .write_all(bytes)
            .context("cannot write standard output"),
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn names_are_escaped_for_terminals_only_where_needed() {
        assert_eq!(printable("wallet 2"), "wallet 2");
        assert_eq!(printable("über \"key\" it's"), "über \"key\" it's");
        assert_eq!(printable("pa\u{308}ss"), "pa\u{308}ss");
        assert_eq!(printable("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(printable("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(printable("zero\u{200B}width"), "zero\\u{200b}width");
        assert_eq!(printable("tab\there"), "tab\\there");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
        assert_eq!(printable("\u{308}start"), "\\u{308}start");
    }
}
