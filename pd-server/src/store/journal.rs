//! The lease journal: an append-only file in front of sled that makes one
//! loop turn's records durable with one `write` and one `fdatasync` on the
//! loop thread (ARCHITECTURE rule 4), instead of a sled flush per turn.
//!
//! sled stays the lease database: every record also goes into sled
//! (unflushed). When a journal file grows past [`ROTATE_BYTES`] a new one is
//! started and a background checkpoint flushes sled and then deletes the old
//! file. At open, whatever journal files are left are replayed into sled in
//! order (records are whole values keyed by prefix, so replaying a record
//! sled already holds is harmless), sled is flushed, and they are deleted.
//!
//! File `state-dir/leases.journal/<seq>.log`: frames of
//! `len: u32 LE | crc32: u32 LE | payload[len]`, payload `op | key[17] | value`
//! with op 1 = put (value = the record, `store::encode`) and 2 = delete.
//! A frame that does not check at the end of the newest file is the torn
//! tail of a write that never completed (its Replies never left): it is
//! dropped with a warning. Anywhere else it is damage, reported as an error.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Journal size at which a new file is started and the old one checkpointed.
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;
/// Largest payload a frame may carry (a record is at most ~600 octets).
const MAX_PAYLOAD: usize = 4096;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// One replayed operation.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Write `value` under `key`.
    Put(&'a [u8; 17], &'a [u8]),
    /// Delete `key`.
    Delete(&'a [u8; 17]),
}

/// Append a put frame to `buf`.
pub fn frame_put(buf: &mut Vec<u8>, key: &[u8; 17], value: &[u8]) {
    frame(buf, OP_PUT, key, value);
}

/// Append a delete frame to `buf`.
pub fn frame_delete(buf: &mut Vec<u8>, key: &[u8; 17]) {
    frame(buf, OP_DELETE, key, &[]);
}

fn frame(buf: &mut Vec<u8>, op: u8, key: &[u8; 17], value: &[u8]) {
    let len = 1 + key.len() + value.len();
    let start = buf.len();
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.push(op);
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    let mut h = crc32fast::Hasher::new();
    h.update(buf.get(start + 8..).unwrap_or_default());
    let crc = h.finalize().to_le_bytes();
    if let Some(slot) = buf.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&crc);
    }
}

/// Why a frame does not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer octets left than the header or the length says.
    Truncated,
    /// The checksum differs.
    Checksum,
    /// Length out of range or unknown operation.
    Malformed,
}

impl FrameError {
    /// For messages.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::Truncated => "truncated frame",
            FrameError::Checksum => "checksum mismatch",
            FrameError::Malformed => "malformed frame",
        }
    }
}

/// Decode the frames of `bytes` in order, calling `f` for each. Returns the
/// number of frames and, if decoding stopped early, the offset and reason.
pub fn decode<E>(
    bytes: &[u8],
    mut f: impl FnMut(Op<'_>) -> Result<(), E>,
) -> Result<(u64, Option<(usize, FrameError)>), E> {
    let mut at = 0usize;
    let mut n = 0u64;
    while at < bytes.len() {
        match one(bytes.get(at..).unwrap_or_default()) {
            Ok((op, used)) => {
                f(op)?;
                n += 1;
                at += used;
            }
            Err(e) => return Ok((n, Some((at, e)))),
        }
    }
    Ok((n, None))
}

fn one(b: &[u8]) -> Result<(Op<'_>, usize), FrameError> {
    let head: [u8; 8] = b
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .ok_or(FrameError::Truncated)?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = head;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if !(18..=MAX_PAYLOAD).contains(&len) {
        return Err(FrameError::Malformed);
    }
    let payload = b.get(8..8 + len).ok_or(FrameError::Truncated)?;
    if crc32fast::hash(payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err(FrameError::Checksum);
    }
    let (op, rest) = payload.split_first().ok_or(FrameError::Malformed)?;
    let (key, value) = rest.split_at(17);
    let key: &[u8; 17] = key.try_into().map_err(|_| FrameError::Malformed)?;
    let op = match *op {
        OP_PUT => Op::Put(key, value),
        OP_DELETE if value.is_empty() => Op::Delete(key),
        _ => return Err(FrameError::Malformed),
    };
    Ok((op, 8 + len))
}

/// The journal files of `dir`, oldest first, with their sequence numbers.
pub fn files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The file of sequence number `seq`.
pub fn file_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.log"))
}

/// fsync a directory, so a created or removed file's name is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The journal file being appended to.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    seq: u64,
    size: u64,
}

impl Journal {
    /// Start file `seq` in `dir` (created durably: the directory is synced).
    pub fn create(dir: &Path, seq: u64) -> std::io::Result<Journal> {
        fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(file_path(dir, seq))?;
        let size = file.metadata()?.len();
        sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            seq,
            size,
        })
    }

    /// Append `frames` and make them durable (one write, one fdatasync).
    pub fn append(&mut self, frames: &[u8]) -> std::io::Result<()> {
        self.append_with(frames, true)
    }

    /// Append, with the fdatasync only when `sync` (without it only for
    /// measuring what durability costs).
    pub fn append_with(&mut self, frames: &[u8], sync: bool) -> std::io::Result<()> {
        self.file.write_all(frames)?;
        if sync {
            self.file.sync_data()?;
        }
        self.size += frames.len() as u64;
        Ok(())
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        file_path(&self.dir, self.seq)
    }

    /// Bytes in the current file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Start the next file; returns the path of the one just closed.
    pub fn rotate(&mut self) -> std::io::Result<PathBuf> {
        let next = Journal::create(&self.dir, self.seq + 1)?;
        let old = file_path(&self.dir, self.seq);
        *self = next;
        Ok(old)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const K1: [u8; 17] = [1; 17];
    const K2: [u8; 17] = [2; 17];

    fn collect(b: &[u8]) -> (Vec<String>, Option<(usize, FrameError)>) {
        let mut ops = Vec::new();
        let (_, stop) = decode::<()>(b, |op| {
            ops.push(match op {
                Op::Put(k, v) => format!("put {} {}", k[0], v.len()),
                Op::Delete(k) => format!("del {}", k[0]),
            });
            Ok(())
        })
        .unwrap();
        (ops, stop)
    }

    #[test]
    fn frames_roundtrip() {
        let mut b = Vec::new();
        frame_put(&mut b, &K1, b"hello");
        frame_delete(&mut b, &K2);
        frame_put(&mut b, &K2, &[7; 300]);
        let (ops, stop) = collect(&b);
        assert_eq!(ops, ["put 1 5", "del 2", "put 2 300"]);
        assert_eq!(stop, None);
    }

    #[test]
    fn torn_and_damaged_frames_stop_decoding() {
        let mut b = Vec::new();
        frame_put(&mut b, &K1, b"hello");
        let first = b.len();
        frame_put(&mut b, &K2, b"world");
        // Every cut inside the second frame: first survives, stop at it.
        for cut in first + 1..b.len() {
            let (ops, stop) = collect(&b[..cut]);
            assert_eq!(ops, ["put 1 5"], "cut {cut}");
            assert_eq!(stop, Some((first, FrameError::Truncated)), "cut {cut}");
        }
        // A flipped bit in the payload.
        let mut bad = b.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(collect(&bad).1, Some((first, FrameError::Checksum)));
        // A zeroed length (pre-allocated or zero-filled tail).
        let mut zero = b[..first].to_vec();
        zero.extend_from_slice(&[0; 64]);
        assert_eq!(collect(&zero).1, Some((first, FrameError::Malformed)));
        // A huge length.
        let mut huge = b.clone();
        huge[first..first + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(collect(&huge).1, Some((first, FrameError::Malformed)));
    }

    #[test]
    fn files_sorted_and_rotation() {
        let dir = std::env::temp_dir().join(format!("pd-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut j = Journal::create(&dir, 9).unwrap();
        let mut b = Vec::new();
        frame_put(&mut b, &K1, b"x");
        j.append(&b).unwrap();
        assert_eq!(j.size(), b.len() as u64);
        let old = j.rotate().unwrap();
        assert_eq!(old, file_path(&dir, 9));
        j.append(&b).unwrap();
        fs::write(dir.join("junk.txt"), b"x").unwrap();
        let f = files(&dir).unwrap();
        assert_eq!(
            f.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![9, 10],
            "{f:?}"
        );
        assert_eq!(fs::read(&f[1].1).unwrap(), b);
        let _ = fs::remove_dir_all(&dir);
    }
}
