//! Store tests: records, clock conversion, the mark, the journal.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::time::Timestamp;

use super::record::WALL_NEVER;
use super::*;
use crate::lease::{ClientKey, LeaseState};

fn lease(n: u16, state: LeaseState) -> Lease {
    Lease {
        prefix: format!("2001:db8:2222:{n:x}::/64").parse().unwrap(),
        client: ClientKey {
            duid: Duid::ll(1, &[2, 0, 0, 0, 0, n as u8]),
            iaid: u32::from(n),
        },
        state,
        preferred_until: Timestamp::from_secs(1_000 + u64::from(n)),
        valid_until: Timestamp::NEVER,
        next_hop: "fe80::ff:fe00:2".parse().unwrap(),
        iface: Arc::from("veth0"),
    }
}

const CLOCK: Clock = Clock {
    mono: Timestamp::from_secs(500),
    wall: 1_700_000_000,
};

#[test]
fn clock_conversion() {
    assert_eq!(CLOCK.to_wall(Timestamp::from_secs(600)), 1_700_000_100);
    assert_eq!(CLOCK.to_mono(1_700_000_100), Timestamp::from_secs(600));
    assert_eq!(CLOCK.to_wall(Timestamp::NEVER), WALL_NEVER);
    assert_eq!(CLOCK.to_mono(WALL_NEVER), Timestamp::NEVER);
    // Long past: floors at the origin, which is in the past.
    assert_eq!(CLOCK.to_mono(1), Timestamp::ZERO);
    // After a restart (new monotonic origin) the wall time carries over.
    let later = Clock {
        mono: Timestamp::from_secs(5),
        wall: 1_700_000_050,
    };
    assert_eq!(
        later.to_mono(CLOCK.to_wall(Timestamp::from_secs(600))),
        Timestamp::from_secs(55)
    );
}

#[test]
fn exact_pairs_lose_nothing_across_restarts() {
    use std::time::Duration;
    // A deadline 7200.3 s ahead, converted and restored by three
    // "restarts" at odd sub-second moments, stays within half a second.
    let deadline_wall_ms: u64 = 1_700_000_000_000 + 7_200_300;
    let mut mono_deadline = Timestamp::from_millis(7_200_300);
    let mut c = Clock::at(Timestamp::ZERO, Duration::from_millis(1_700_000_000_000));
    for (mono0, wall_ms) in [
        (0u64, 1_700_000_100_777u64),
        (5, 1_700_000_200_001),
        (123, 1_700_000_300_999),
    ] {
        let stored = c.to_wall(mono_deadline);
        c = Clock::at(
            Timestamp::from_millis(mono0),
            Duration::from_millis(wall_ms),
        );
        mono_deadline = c.to_mono(stored);
        let back_ms =
            i128::from(wall_ms) + i128::from(mono_deadline.as_millis()) - i128::from(mono0);
        assert!(
            (back_ms - i128::from(deadline_wall_ms)).abs() <= 500,
            "drifted: {back_ms}"
        );
    }
}

#[test]
fn record_roundtrip_and_corruption() {
    let l = lease(7, LeaseState::Released);
    let v = encode(&l, CLOCK);
    assert_eq!(decode(&key(&l.prefix), &v, CLOCK).unwrap(), l);
    for cut in 0..v.len() {
        assert!(
            decode(&key(&l.prefix), &v[..cut], CLOCK).is_err(),
            "cut at {cut}"
        );
    }
    let mut bad = v.clone();
    bad[0] = 9;
    assert!(matches!(
        decode(&key(&l.prefix), &bad, CLOCK),
        Err(StoreError::Corrupt {
            reason: "unknown record version",
            ..
        })
    ));
    assert!(decode(&[1, 2, 3], &v, CLOCK).is_err());
}

fn open_retrying(dir: &Path) -> Result<SledStore, StoreError> {
    // sled releases its file lock from a background thread after drop.
    let mut s = SledStore::open(dir);
    for _ in 0..50 {
        if !matches!(s, Err(StoreError::Open { .. })) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        s = SledStore::open(dir);
    }
    s
}

#[test]
fn lost_records_are_an_error_not_a_silent_reset() {
    let dir = std::env::temp_dir().join(format!("pd-store-mark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    {
        let s = SledStore::open(&dir).unwrap();
        s.load(CLOCK).unwrap();
        let all: Vec<Lease> = (1..=5).map(|n| lease(n, LeaseState::Active)).collect();
        s.write(CLOCK, &all, &[]).unwrap();
        s.save_mark().unwrap();
        // Deleting lowers the mark first.
        s.write(CLOCK, &[], &[lease(5, LeaseState::Active).prefix])
            .unwrap();
        s.save_mark().unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("leases.count"))
            .unwrap()
            .trim(),
        "4"
    );
    assert_eq!(restored(&dir), 4);
    // The database loses records (here: replaced by an empty one).
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::remove_dir_all(dir.join("leases")).unwrap();
    let s = open_retrying(&dir).unwrap();
    match s.load(CLOCK) {
        Err(
            e @ StoreError::Damaged {
                found: 0,
                expected: 4,
                ..
            },
        ) => {
            assert!(e.to_string().contains("leases.count"), "{e}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sled_persists_across_reopen() {
    let dir = std::env::temp_dir().join(format!("pd-store-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = SledStore::open(&dir).unwrap();
        s.write(
            CLOCK,
            &[lease(1, LeaseState::Active), lease(2, LeaseState::Expired)],
            &[],
        )
        .unwrap();
        s.write(CLOCK, &[], &[lease(2, LeaseState::Expired).prefix])
            .unwrap();
    }
    let s = open_retrying(&dir).unwrap();
    assert_eq!(s.load(CLOCK).unwrap(), vec![lease(1, LeaseState::Active)]);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh state directory and its store, loaded (empty).
fn loaded(name: &str) -> (std::path::PathBuf, SledStore) {
    let dir = tmp(name);
    let s = SledStore::open(&dir).unwrap();
    s.load(CLOCK).unwrap();
    (dir, s)
}

/// Reopen `dir` and count the leases a load restores.
fn restored(dir: &Path) -> usize {
    let s = open_retrying(dir).unwrap();
    let n = s.load(CLOCK).unwrap().len();
    drop(s);
    n
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pd-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copy only the journal of `from` into a fresh state directory: what a
/// crash leaves when sled never wrote the records itself.
fn journal_only(from: &Path, name: &str) -> std::path::PathBuf {
    let to = tmp(name);
    std::fs::create_dir_all(to.join("leases.journal")).unwrap();
    for (_, p) in journal::files(&from.join("leases.journal")).unwrap() {
        std::fs::copy(&p, to.join("leases.journal").join(p.file_name().unwrap())).unwrap();
    }
    to
}

/// Frames in a journal file (its zero-filled tail is no frame).
fn frames_in(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let (n, stop) = journal::decode::<()>(&bytes, |_| Ok(())).unwrap();
    assert_eq!(stop, None, "{}", path.display());
    n
}

#[test]
fn journal_alone_restores_every_write() {
    let dir = tmp("journal-alone");
    let s = SledStore::open(&dir).unwrap();
    let all: Vec<Lease> = (1..=20).map(|n| lease(n, LeaseState::Active)).collect();
    s.write(CLOCK, &all[..10], &[]).unwrap();
    s.write(CLOCK, &all[10..], &[all[3].prefix]).unwrap();
    let changed = lease(5, LeaseState::Released);
    s.write(CLOCK, std::slice::from_ref(&changed), &[]).unwrap();
    let copy = journal_only(&dir, "journal-alone-copy");
    drop(s);
    let r = open_retrying(&copy).unwrap();
    let got = r.load(CLOCK).unwrap();
    assert_eq!(got.len(), 19, "{got:?}");
    assert!(got.iter().all(|l| l.prefix != all[3].prefix));
    assert!(got.contains(&changed));
    // Replayed into sled and removed: a second open has no journal to
    // replay and still holds everything.
    drop(r);
    let files = journal::files(&copy.join("leases.journal")).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(frames_in(&files[0].1), 0);
    assert_eq!(restored(&copy), 19);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn torn_journal_tail_is_dropped_damage_elsewhere_is_an_error() {
    let dir = tmp("journal-torn");
    let s = SledStore::open(&dir).unwrap();
    s.write(CLOCK, &[lease(1, LeaseState::Active)], &[])
        .unwrap();
    s.write(CLOCK, &[lease(2, LeaseState::Active)], &[])
        .unwrap();
    let copy = journal_only(&dir, "journal-torn-copy");
    drop(s);
    let (_, path) = journal::files(&copy.join("leases.journal"))
        .unwrap()
        .pop()
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Without the zero-filled tail: the frames only.
    bytes.truncate(bytes.iter().rposition(|b| *b != 0).unwrap() + 1);
    // Cut the last write short: the first lease is restored, the second
    // (whose Reply never left) is not, and opening succeeds.
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let r = open_retrying(&copy).unwrap();
    assert_eq!(r.load(CLOCK).unwrap(), vec![lease(1, LeaseState::Active)]);
    drop(r);
    // The same damage in a file that is not the newest is an error naming it.
    let copy2 = journal_only(&dir, "journal-torn-copy2");
    let jdir = copy2.join("leases.journal");
    let (seq, path) = journal::files(&jdir).unwrap().pop().unwrap();
    let mut garbled = bytes.clone();
    let last = garbled.len() - 1;
    garbled[last] ^= 0x55;
    std::fs::write(&path, &garbled).unwrap();
    std::fs::write(journal::file_path(&jdir, seq + 1), b"").unwrap();
    match open_retrying(&copy2) {
        Err(e @ StoreError::JournalDamaged { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected JournalDamaged, got {:?}", other.err()),
    }
    for d in [dir, copy, copy2] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn checkpoint_flushes_sled_and_removes_the_old_journal() {
    let dir = tmp("journal-checkpoint");
    let s = SledStore::open(&dir).unwrap();
    let all: Vec<Lease> = (1..=50).map(|n| lease(n, LeaseState::Active)).collect();
    s.write(CLOCK, &all, &[]).unwrap();
    s.sync(true).unwrap();
    let files = journal::files(&dir.join("leases.journal")).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(frames_in(&files[0].1), 0);
    drop(s);
    assert_eq!(restored(&dir), 50);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn big_journal_rotates_by_itself() {
    let dir = tmp("journal-rotate");
    let s = SledStore::open(&dir).unwrap();
    let jdir = dir.join("leases.journal");
    let first = journal::files(&jdir).unwrap()[0].0;
    let batch: Vec<Lease> = (1..=1000).map(|n| lease(n, LeaseState::Active)).collect();
    let mut written = 0u64;
    while written < journal::ROTATE_BYTES + 100_000 {
        s.write(CLOCK, &batch, &[]).unwrap();
        written += 1000 * 60;
    }
    s.sync(false).unwrap();
    let files = journal::files(&jdir).unwrap();
    assert!(files.iter().all(|(seq, _)| *seq > first), "{files:?}");
    drop(s);
    assert_eq!(restored(&dir), 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_pass_shares_interface_names_and_fills_blocks() {
    let dir = tmp("parts");
    let s = SledStore::open(&dir).unwrap();
    let all: Vec<Lease> = (1..=100).map(|n| lease(n, LeaseState::Active)).collect();
    s.write(CLOCK, &all, &[]).unwrap();
    let got = s.load(CLOCK).unwrap();
    assert_eq!(got, all);
    assert!(got
        .windows(2)
        .all(|w| Arc::ptr_eq(&w[0].iface, &w[1].iface)));
    // Prefixes 1..=100 of one /64 run: blocks 0..=6 of sixteen.
    assert_eq!(s.blocks.len(), 7);
    assert!(s.db.is_empty(), "nothing in sled's default tree");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rewrites_and_deletes_keep_the_count_exact() {
    let (dir, s) = loaded("count");
    let all: Vec<Lease> = (1..=30).map(|n| lease(n, LeaseState::Active)).collect();
    s.write(CLOCK, &all[..20], &[]).unwrap();
    // Into sled, so that what follows is counted against the blocks.
    s.sync(true).unwrap();
    // Rewrites of records in sled, in the journal and twice in one
    // commit; deletes of present and absent ones.
    s.write(CLOCK, &all[10..30], &[]).unwrap();
    s.write(
        CLOCK,
        &[all[0].clone(), all[25].clone(), all[25].clone()],
        &[
            all[1].prefix,
            all[26].prefix,
            lease(99, LeaseState::Active).prefix,
        ],
    )
    .unwrap();
    assert_eq!(s.count.load(Ordering::SeqCst), 28);
    s.save_mark().unwrap();
    drop(s);
    assert_eq!(
        std::fs::read_to_string(dir.join("leases.count"))
            .unwrap()
            .trim(),
        "28"
    );
    assert_eq!(restored(&dir), 28);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_of_an_older_build_move_into_blocks() {
    let dir = tmp("migrate");
    let all: Vec<Lease> = (1..=40).map(|n| lease(n, LeaseState::Active)).collect();
    {
        // What a build before the blocks wrote: one key per prefix in
        // sled's default tree.
        let db = sled::open(dir.join("leases")).unwrap();
        for l in &all {
            db.insert(&key(&l.prefix)[..], encode(l, CLOCK)).unwrap();
        }
        db.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let s = open_retrying(&dir).unwrap();
    assert!(s.db.is_empty(), "the old keys are gone");
    assert_eq!(s.load(CLOCK).unwrap(), all);
    drop(s);
    let r = open_retrying(&dir).unwrap();
    assert_eq!(r.load(CLOCK).unwrap(), all);
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_garbled_block_names_itself() {
    let dir = tmp("garbled");
    let s = SledStore::open(&dir).unwrap();
    s.write(CLOCK, &[lease(3, LeaseState::Active)], &[])
        .unwrap();
    s.sync(true).unwrap();
    let block = blocks::block_of(&key(&lease(3, LeaseState::Active).prefix))
        .unwrap()
        .0;
    s.blocks.insert(block, &[1u8, 3, 9, 0, 1][..]).unwrap();
    match s.load(CLOCK) {
        Err(e @ StoreError::CorruptBlock { .. }) => {
            assert!(
                e.to_string().contains("20010db8222200000000000000000000"),
                "{e}"
            );
            assert!(e.to_string().contains("block truncated"), "{e}");
        }
        other => panic!("expected CorruptBlock, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_journal_folded_twice_changes_nothing() {
    // A crash after a checkpoint flushed sled but before it deleted the
    // journal file: the next open folds the same records again.
    let (dir, s) = loaded("fold-twice");
    let all: Vec<Lease> = (1..=40).map(|n| lease(n, LeaseState::Active)).collect();
    s.write(CLOCK, &all, &[all[7].prefix]).unwrap();
    let copy = journal_only(&dir, "fold-twice-journal");
    s.sync(true).unwrap();
    drop(s);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let jdir = dir.join("leases.journal");
    for (_, p) in journal::files(&jdir).unwrap() {
        std::fs::remove_file(p).unwrap();
    }
    for (_, p) in journal::files(&copy.join("leases.journal")).unwrap() {
        std::fs::copy(&p, jdir.join(p.file_name().unwrap())).unwrap();
    }
    let r = open_retrying(&dir).unwrap();
    let got = r.load(CLOCK).unwrap();
    assert_eq!(got.len(), 39);
    assert!(got.iter().all(|l| l.prefix != all[7].prefix));
    assert_eq!(
        std::fs::read_to_string(dir.join("leases.count"))
            .unwrap()
            .trim(),
        "39"
    );
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn a_write_without_a_load_still_sees_damage() {
    let dir = tmp("write-no-load");
    {
        let s = SledStore::open(&dir).unwrap();
        let all: Vec<Lease> = (1..=5).map(|n| lease(n, LeaseState::Active)).collect();
        s.write(CLOCK, &all, &[]).unwrap();
        s.sync(true).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::remove_dir_all(dir.join("leases")).unwrap();
    // A tool that writes before it reads must not lower the mark to what
    // is left.
    let s = open_retrying(&dir).unwrap();
    assert!(matches!(
        s.write(CLOCK, &[lease(9, LeaseState::Active)], &[]),
        Err(StoreError::Damaged {
            found: 0,
            expected: 5,
            ..
        })
    ));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_checkpoint_stops_the_store() {
    let (dir, s) = loaded("ckpt-fail");
    s.write(CLOCK, &[lease(1, LeaseState::Active)], &[])
        .unwrap();
    // The file the checkpoint will read, garbled under the writer.
    let (_, path) = journal::files(&dir.join("leases.journal"))
        .unwrap()
        .pop()
        .unwrap();
    std::fs::write(&path, [0xa5u8; 64]).unwrap();
    assert!(matches!(s.sync(true), Err(StoreError::Checkpoint(_))));
    // Nothing later is committed or checkpointed: a later journal file
    // must never be folded before the one that failed.
    assert!(matches!(
        s.write(CLOCK, &[lease(2, LeaseState::Active)], &[]),
        Err(StoreError::Stopped(_))
    ));
    assert!(matches!(s.sync(true), Err(StoreError::Stopped(_))));
    assert!(path.exists(), "the failed file stays for the next start");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appended_records_count_once_durable_and_the_mark_stays_under_the_bound() {
    let (dir, s) = loaded("append");
    let mark = || mark::read(&mark::path(&dir)).unwrap().unwrap_or(0);
    let all: Vec<Lease> = (1..=5).map(|n| lease(n, LeaseState::Active)).collect();
    assert_eq!(s.append(CLOCK, &all, &[]).unwrap(), 5);
    // Written, not yet durable: the mark does not move.
    s.save_mark().unwrap();
    assert_eq!(mark(), 0);
    s.durable(5);
    // A deletion written and not yet durable (it leaves 4) bounds the mark:
    // a crash may leave either count.
    assert_eq!(s.append(CLOCK, &[], &[all[4].prefix]).unwrap(), 4);
    s.raise_mark(4).unwrap();
    assert_eq!(mark(), 4);
    s.durable(4);
    s.raise_mark(u64::MAX).unwrap();
    assert_eq!(mark(), 4);
    // Never lowered by a raise.
    s.raise_mark(1).unwrap();
    assert_eq!(mark(), 4);
    // The appended frames are in the journal: a reopen replays them.
    assert!(!s.rotation_due().unwrap());
    drop(s);
    assert_eq!(restored(&dir), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_sync_stops_the_store_and_names_the_file() {
    let (dir, s) = loaded("fail");
    s.append(CLOCK, &[lease(1, LeaseState::Active)], &[])
        .unwrap();
    let why = s.fail("fdatasync failed: EIO");
    assert!(
        why.starts_with("fdatasync failed: EIO (") && why.contains("leases.journal"),
        "{why}"
    );
    assert_eq!(s.fail("later"), why, "the first failure is kept");
    assert!(s
        .append(CLOCK, &[lease(2, LeaseState::Active)], &[])
        .is_err());
    assert!(s.rotation_due().is_err());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
