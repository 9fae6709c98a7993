//! Folding journal files into sled's blocks (at open and in the
//! checkpoint thread), moving records of older builds into blocks, and the
//! flush that ends both.

use std::path::Path;

use super::{blocks, hex, journal, Key, StoreError};

/// sled's flush ends in sync_file_range, which does not make appended data
/// survive a power cut: its log is fdatasynced as well.
pub(super) fn flush_sled(db: &sled::Db, log: &std::fs::File) -> Result<(), StoreError> {
    db.flush().map_err(|source| StoreError::Io {
        op: "flush",
        source,
    })?;
    log.sync_data().map_err(|e| StoreError::Io {
        op: "fdatasync",
        source: sled::Error::Io(e),
    })
}

/// Fold the frames of one journal file into the blocks; returns how many
/// there were and where decoding stopped early, if it did (the frames
/// before that point are folded).
pub(super) fn fold_file(
    tree: &sled::Tree,
    bytes: &[u8],
) -> Result<(u64, Option<(usize, journal::FrameError)>), StoreError> {
    let mut changes = Vec::new();
    let (n, stop) = journal::decode::<std::convert::Infallible>(bytes, |op| {
        changes.push(match op {
            journal::Op::Put(k, v) => (*k, Some(v)),
            journal::Op::Delete(k) => (*k, None),
        });
        Ok(())
    })
    .unwrap_or_else(|never| match never {});
    blocks::apply(tree, &changes)?;
    Ok((n, stop))
}

/// Move records that a build before the blocks left in sled's default tree
/// (one key per prefix) into the blocks, once.
pub(super) fn migrate(
    db: &sled::Db,
    tree: &sled::Tree,
    log: &std::fs::File,
) -> Result<(), StoreError> {
    let read = |source| StoreError::Io { op: "read", source };
    let mut moved = 0u64;
    loop {
        let batch = db
            .iter()
            .take(4096)
            .collect::<Result<Vec<_>, _>>()
            .map_err(read)?;
        if batch.is_empty() {
            break;
        }
        let changes = batch
            .iter()
            .map(|(k, v)| {
                let k: Key = k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    key: hex(k),
                    reason: "key is not 17 octets",
                })?;
                Ok((k, Some(v.as_ref())))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        blocks::apply(tree, &changes)?;
        for (k, _) in &batch {
            db.remove(k).map_err(|source| StoreError::Io {
                op: "write",
                source,
            })?;
        }
        moved += batch.len() as u64;
    }
    if moved > 0 {
        flush_sled(db, log)?;
        tracing::info!(records = moved, "lease database moved to blocks");
    }
    Ok(())
}

/// Fold the journal files left in `jdir` into sled, flush sled, delete
/// them; returns the sequence number for the next file.
pub(super) fn replay(
    db: &sled::Db,
    tree: &sled::Tree,
    log: &std::fs::File,
    jdir: &Path,
) -> Result<u64, StoreError> {
    let jio = |op, path: &Path, source| StoreError::JournalIo {
        op,
        path: path.to_path_buf(),
        source,
    };
    let files = journal::files(jdir).map_err(|e| jio("list", jdir, e))?;
    let Some(newest) = files.last().map(|(seq, _)| *seq) else {
        return Ok(0);
    };
    for (seq, path) in &files {
        let bytes = std::fs::read(path).map_err(|e| jio("read", path, e))?;
        if *seq != newest {
            // Damage in a file that is not the newest: nothing of it goes.
            if let (_, Some((offset, why))) =
                journal::decode::<()>(&bytes, |_| Ok(())).unwrap_or_default()
            {
                return Err(StoreError::JournalDamaged {
                    path: path.clone(),
                    offset,
                    reason: why.as_str(),
                });
            }
        }
        let (n, stop) = fold_file(tree, &bytes)?;
        if let Some((at, why)) = stop {
            // The newest file may end in a write that never completed; its
            // Replies never left (they wait for the fdatasync).
            tracing::warn!(
                journal = %path.display(),
                records = n,
                dropped_octets = bytes.len() - at,
                reason = why.as_str(),
                "lease journal ends in an unfinished write; dropped it"
            );
        }
        tracing::info!(journal = %path.display(), records = n, "lease journal replayed");
    }
    flush_sled(db, log)?;
    for (_, path) in &files {
        std::fs::remove_file(path).map_err(|e| jio("remove", path, e))?;
    }
    journal::sync_dir(jdir).map_err(|e| jio("sync", jdir, e))?;
    Ok(newest + 1)
}
