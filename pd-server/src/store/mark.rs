//! The record-count mark: a lower bound on how many records the lease
//! database holds, kept in a small file beside it (`leases.count`).
//!
//! sled 0.34 takes a cut-off or garbled end of its log for an unfinished
//! write and silently drops what follows, so a damaged database would
//! restore fewer leases without an error. The mark counts the records in
//! sled and the journal together. It is raised (atomically) after records
//! added are durable in the journal, and to what a load read, and lowered
//! *before* records are deleted, so at start fewer records than the mark
//! means damage, reported as an error rather than a silent reset.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The mark file of a state directory.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("leases.count")
}

/// Read the mark; `Ok(None)` if there is none yet.
pub fn read(path: &Path) -> Result<Option<u64>, String> {
    match fs::read_to_string(path) {
        Ok(t) => t
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{} is corrupt (expected a number)", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Write the mark atomically and durably (temp file, fsync, rename, fsync
/// of the directory).
pub fn write(path: &Path, count: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("count.tmp");
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "{count}")?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
