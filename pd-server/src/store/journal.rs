//! The lease journal: an append-only file in front of sled that makes one
//! loop turn's records durable with one `write` and one `fdatasync` on the
//! loop thread (ARCHITECTURE rule 4), instead of a sled flush per turn.
//!
//! sled stays the lease database, as the checkpoint: when a journal file
//! grows past [`ROTATE_BYTES`] a new one is started and a background thread
//! folds the old file's records into sled's blocks (`store::blocks`),
//! flushes sled and then deletes the file. At open, whatever journal files
//! are left are folded the same way in order (records are whole values
//! keyed by prefix, so folding a record sled already holds is harmless),
//! sled is flushed, and they are deleted.
//!
//! Each file is zero-filled to [`PREALLOC_BYTES`] and synced before its
//! first frame, so an append overwrites blocks that are already allocated
//! and written: its fdatasync then carries no metadata (on ext4, no journal
//! commit). On the benchmark machine a 1400-octet write + fdatasync took
//! 135-158 µs (27-37 µs of CPU) into such a file, 232-261 µs (59-61 µs of
//! CPU) as a plain append. The next file is zero-filled ahead, by the
//! checkpoint thread, as `<seq>.next` (renamed into place at rotation).
//! The unused, zero tail of a file is its clean end.
//!
//! File `state-dir/leases.journal/<seq>.log`: frames of
//! `len: u32 LE | crc32: u32 LE | payload[len]`, payload `op | key[17] | value`
//! with op 1 = put (value = the record, `store::encode`) and 2 = delete.
//! A frame that does not check at the end of the newest file is the torn
//! tail of a write that never completed (its Replies never left): it is
//! dropped with a warning. Anywhere else it is damage, reported as an error.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Journal size at which a new file is started and the old one checkpointed.
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;
/// Size each file is zero-filled to before use: one rotation's worth and
/// room for the group that crosses it (a larger group extends the file).
pub const PREALLOC_BYTES: u64 = ROTATE_BYTES + 1024 * 1024;
/// Descriptions opened on each file for concurrent fdatasyncs
/// (`driver::syncers`): each its own open file description, so that each
/// sees a writeback error (Linux reports one per description, errseq).
pub const SYNC_FDS: usize = 4;
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
pub fn decode<'a, E>(
    bytes: &'a [u8],
    mut f: impl FnMut(Op<'a>) -> Result<(), E>,
) -> Result<(u64, Option<(usize, FrameError)>), E> {
    let mut at = 0usize;
    let mut n = 0u64;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or_default();
        match one(rest) {
            Ok((op, used)) => {
                f(op)?;
                n += 1;
                at += used;
            }
            // The unused, zero-filled part of the file: a clean end.
            Err(_) if rest.iter().all(|b| *b == 0) => break,
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

/// The zero-filled file waiting to become `seq` (not a journal file: replay
/// ignores it).
fn next_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.next"))
}

/// Zero-fill the file for `seq` ahead of its use (`<seq>.next`, written
/// under a temporary name, synced, then renamed). Called by the checkpoint
/// thread, off the writer's path; a file already there is kept.
pub fn prepare(dir: &Path, seq: u64) -> std::io::Result<()> {
    let next = next_path(dir, seq);
    if fs::metadata(&next).is_ok_and(|m| m.len() >= PREALLOC_BYTES) {
        return Ok(());
    }
    let tmp = dir.join(format!("{seq:020}.tmp"));
    zero_filled(&tmp)?;
    fs::rename(&tmp, &next)?;
    sync_dir(dir)
}

/// Create `path` (truncating it) holding [`PREALLOC_BYTES`] zeros, synced.
fn zero_filled(path: &Path) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 256 * 1024];
    let mut left = PREALLOC_BYTES;
    while left > 0 {
        let n = left.min(zeros.len() as u64);
        file.write_all(zeros.get(..n as usize).unwrap_or_default())?;
        left -= n;
    }
    file.sync_all()?;
    Ok(file)
}

/// Remove what [`prepare`] left that is not for `seq` (a crash between its
/// steps, or a file prepared for a sequence the journal did not reach).
fn clean_prepared(dir: &Path, seq: u64) -> std::io::Result<()> {
    let keep = next_path(dir, seq);
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str());
        if matches!(ext, Some("tmp" | "next")) && path != keep {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
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
    /// [`SYNC_FDS`] descriptions of the file, opened before its first
    /// write, for the writer threads.
    sync_fds: Vec<Arc<File>>,
}

impl Journal {
    /// Start file `seq` in `dir`, zero-filled (the one [`prepare`] left, or
    /// filled now) and created durably: the directory is synced. There must
    /// be no journal file `seq` yet (replay removed them all).
    pub fn create(dir: &Path, seq: u64) -> std::io::Result<Journal> {
        fs::create_dir_all(dir)?;
        clean_prepared(dir, seq)?;
        let path = file_path(dir, seq);
        if path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        let next = next_path(dir, seq);
        let file = if fs::metadata(&next).is_ok_and(|m| m.len() >= PREALLOC_BYTES) {
            fs::rename(&next, &path)?;
            OpenOptions::new().write(true).open(&path)?
        } else {
            zero_filled(&path)?
        };
        sync_dir(dir)?;
        let sync_fds = (0..SYNC_FDS)
            .map(|_| OpenOptions::new().write(true).open(&path).map(Arc::new))
            .collect::<std::io::Result<_>>()?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            seq,
            size: 0,
            sync_fds,
        })
    }

    /// The sequence number of the current file.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Append `frames` and make them durable (one write, one fdatasync).
    pub fn append(&mut self, frames: &[u8]) -> std::io::Result<()> {
        self.write(frames)?;
        self.file.sync_data()
    }

    /// Append `frames` without the fdatasync: they are durable once an
    /// fdatasync of this file that started after this returned returns
    /// (one of [`sync_fds`](Self::sync_fds)).
    pub fn write(&mut self, frames: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(frames, self.size)?;
        self.size += frames.len() as u64;
        Ok(())
    }

    /// The descriptions to fdatasync this file through, one per writer thread.
    pub fn sync_fds(&self) -> Vec<Arc<File>> {
        self.sync_fds.clone()
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        file_path(&self.dir, self.seq)
    }

    /// Bytes of frames in the current file.
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
        // A zero-filled tail is the clean end; a torn frame before it or
        // anything but zeros after it is not.
        let mut zero = b[..first].to_vec();
        zero.extend_from_slice(&[0; 64]);
        assert_eq!(collect(&zero), (vec!["put 1 5".to_string()], None));
        let mut torn = b[..first + 5].to_vec();
        torn.extend_from_slice(&[0; 64]);
        assert_eq!(collect(&torn).1, Some((first, FrameError::Checksum)));
        zero.push(1);
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
        let second = fs::read(&f[1].1).unwrap();
        assert_eq!(second.len() as u64, PREALLOC_BYTES);
        assert_eq!(&second[..b.len()], &b[..]);
        assert!(second[b.len()..].iter().all(|x| *x == 0));
        // A file prepared ahead is used at the next rotation, and stray
        // prepared files are removed.
        prepare(&dir, 11).unwrap();
        fs::write(dir.join("00000000000000000042.tmp"), b"x").unwrap();
        assert!(next_path(&dir, 11).exists());
        j.rotate().unwrap();
        assert!(!next_path(&dir, 11).exists());
        assert!(!dir.join("00000000000000000042.tmp").exists());
        assert_eq!(j.seq(), 11);
        assert!(
            Journal::create(&dir, 11).is_err(),
            "never over a journal file"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
