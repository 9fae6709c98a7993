//! How sled holds the records: in blocks of [`BLOCK`] neighbouring prefixes
//! of one length, one sled value per block.
//!
//! Why: sled 0.34 splits a leaf node every 16 keys and copies its parent on
//! each split, so a sled insert cost ~14 µs of CPU per new lease at 4,000
//! Requests/s (17 % of the server's samples, BENCHMARKS "What profiling
//! found"). The journal makes records durable; sled is only the checkpoint
//! they are folded into. A checkpoint that folds a journal file block by
//! block does one sled write per block touched instead of one per record:
//! pools hand out slots from a cursor, so fresh leases fill blocks densely.
//!
//! Tree [`TREE`]: key = the record key (`record::key`) of the block's first
//! prefix; value = `version | entries`, entry = `index u8 | len u16 LE |
//! record` (`record::encode`), indices strictly ascending below the block's
//! size. A block with no entry is removed.

use super::StoreError;

/// Prefixes per block (a power of two: 2^[`BITS`]).
pub const BLOCK: usize = 1 << BITS;
const BITS: u8 = 4;
/// The sled tree of blocks (its name carries the block size, so a build
/// with another size can never misread it).
pub const TREE: &[u8] = b"blocks/16";
const VERSION: u8 = 1;

/// A record key: 16 address octets + prefix length.
pub type Key = [u8; 17];

/// The block holding `key` and the record's index in it; `None` when the
/// key is no prefix (length over 128 or bits set past the length).
pub fn block_of(key: &Key) -> Option<(Key, u8)> {
    let (addr, len) = split(key);
    let len = u32::from(len);
    if len > 128 {
        return None;
    }
    if len == 0 {
        return (addr == 0).then_some((*key, 0));
    }
    let shift = 128 - len;
    let n = addr >> shift;
    if n << shift != addr {
        return None;
    }
    let bits = u32::from(BITS).min(len);
    let index = n & ((1u128 << bits) - 1);
    let start = (n ^ index) << shift;
    Some((join(start, key_len(key)), index as u8))
}

/// The key of record `index` of `block`.
pub fn record_key(block: &Key, index: u8) -> Key {
    let (addr, len) = split(block);
    if len == 0 || len > 128 {
        return *block;
    }
    let shift = 128 - u32::from(len);
    join(addr | (u128::from(index) << shift), len)
}

fn split(key: &Key) -> (u128, u8) {
    let [a @ .., len] = *key;
    (u128::from_be_bytes(a), len)
}

fn key_len(key: &Key) -> u8 {
    split(key).1
}

fn join(addr: u128, len: u8) -> Key {
    let mut k = [len; 17];
    for (d, s) in k.iter_mut().zip(addr.to_be_bytes()) {
        *d = s;
    }
    k
}

/// How many indices a block of `block`'s length has.
fn size_of(block: &Key) -> usize {
    1 << BITS.min(key_len(block))
}

/// The entries of a block value, in index order; any defect is a
/// [`StoreError::Corrupt`] naming the block.
pub fn decode<'a>(block: &Key, v: &'a [u8]) -> Result<Vec<(u8, &'a [u8])>, StoreError> {
    let corrupt = |reason| StoreError::CorruptBlock {
        key: block.iter().map(|b| format!("{b:02x}")).collect(),
        reason,
    };
    if block_of(block) != Some((*block, 0)) {
        return Err(corrupt("key is not the start of a block"));
    }
    let (&version, mut rest) = v.split_first().ok_or_else(|| corrupt("empty block"))?;
    if version != VERSION {
        return Err(corrupt("unknown block version"));
    }
    let size = size_of(block);
    let mut out = Vec::with_capacity(size);
    while let Some((&index, r)) = rest.split_first() {
        if usize::from(index) >= size {
            return Err(corrupt("block index out of range"));
        }
        if out.last().is_some_and(|(last, _)| *last >= index) {
            return Err(corrupt("block indices out of order"));
        }
        let (len, r) = r
            .split_first_chunk::<2>()
            .ok_or_else(|| corrupt("block truncated"))?;
        let len = usize::from(u16::from_le_bytes(*len));
        let (record, r) = r
            .split_at_checked(len)
            .ok_or_else(|| corrupt("block truncated"))?;
        out.push((index, record));
        rest = r;
    }
    Ok(out)
}

/// A block value of these entries (index order, each index once).
pub fn encode(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let bytes: usize = entries.iter().map(|(_, r)| 3 + r.len()).sum();
    let mut v = Vec::with_capacity(1 + bytes);
    v.push(VERSION);
    for (index, record) in entries {
        v.push(*index);
        let len = u16::try_from(record.len()).unwrap_or(u16::MAX);
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(record.get(..usize::from(len)).unwrap_or_default());
    }
    v
}

/// Does `tree` hold a record under `key`? (The store keeps this in memory.)
#[cfg(test)]
pub fn contains(tree: &sled::Tree, key: &Key) -> Result<bool, StoreError> {
    let Some((block, index)) = block_of(key) else {
        return Ok(false);
    };
    let Some(v) = tree.get(block).map_err(read)? else {
        return Ok(false);
    };
    Ok(decode(&block, &v)?.iter().any(|(i, _)| *i == index))
}

/// One change: a record to write, or `None` to delete it.
pub type Change<'a> = (Key, Option<&'a [u8]>);

/// Fold `changes` (in the order they were made: a later one for the same
/// key wins) into `tree`, one read and at most one write per block touched.
/// Returns how many records were added and how many removed.
pub fn apply(tree: &sled::Tree, changes: &[Change<'_>]) -> Result<(u64, u64), StoreError> {
    let mut placed = Vec::with_capacity(changes.len());
    for (seq, (key, value)) in changes.iter().enumerate() {
        let (block, index) = block_of(key).ok_or_else(|| StoreError::Corrupt {
            key: key.iter().map(|b| format!("{b:02x}")).collect(),
            reason: "key is not a prefix",
        })?;
        placed.push((block, index, seq, *value));
    }
    // By block and index, the last change of each index last.
    placed.sort_unstable_by_key(|&(b, i, seq, _)| (b, i, seq));
    let (mut added, mut removed) = (0, 0);
    for group in placed.chunk_by(|a, b| a.0 == b.0) {
        if let Some((block, ..)) = group.first() {
            let (a, r) = fold(tree, block, group)?;
            added += a;
            removed += r;
        }
    }
    Ok((added, removed))
}

type Placed<'a> = (Key, u8, usize, Option<&'a [u8]>);

/// Fold one block's changes (sorted by index, then order made).
fn fold(tree: &sled::Tree, block: &Key, changes: &[Placed<'_>]) -> Result<(u64, u64), StoreError> {
    let old = tree.get(block).map_err(read)?;
    let old_entries = match &old {
        Some(v) => decode(block, v)?,
        None => Vec::new(),
    };
    let mut entries: Vec<(u8, &[u8])> = Vec::with_capacity(BLOCK);
    let (mut added, mut removed) = (0, 0);
    let mut olds = old_entries.iter().peekable();
    // The last change of each index wins.
    for same in changes.chunk_by(|a, b| a.1 == b.1) {
        let Some(&(_, index, _, value)) = same.last() else {
            continue;
        };
        while let Some(&&e) = olds.peek().filter(|e| e.0 < index) {
            entries.push(e);
            olds.next();
        }
        let had = olds.next_if(|e| e.0 == index).is_some();
        match (had, value) {
            (false, Some(_)) => added += 1,
            (true, None) => removed += 1,
            _ => {}
        }
        if let Some(v) = value {
            entries.push((index, v));
        }
    }
    entries.extend(olds.copied());
    let write = |e| StoreError::Io {
        op: "write",
        source: e,
    };
    if entries.is_empty() {
        if old.is_some() {
            tree.remove(block).map_err(write)?;
        }
    } else {
        let new = encode(&entries);
        if old.as_deref() != Some(&new[..]) {
            tree.insert(block, new).map_err(write)?;
        }
    }
    Ok((added, removed))
}

fn read(source: sled::Error) -> StoreError {
    StoreError::Io { op: "read", source }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use pd_core::prefix::Prefix;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn k(s: &str) -> Key {
        super::super::key(&s.parse::<Prefix>().unwrap())
    }

    #[test]
    fn blocks_of_several_lengths() {
        // /64 number 0x...0007 is index 7 of the block starting at 0.
        assert_eq!(
            block_of(&k("2001:db8:2222:7::/64")),
            Some((k("2001:db8:2222::/64"), 7))
        );
        assert_eq!(
            block_of(&k("2001:db8:2222:1f::/64")),
            Some((k("2001:db8:2222:10::/64"), 15))
        );
        // /56: the prefix number is the top 56 bits.
        assert_eq!(
            block_of(&k("2001:db8:0:1300::/56")),
            Some((k("2001:db8:0:1000::/56"), 3))
        );
        assert_eq!(block_of(&k("::1/128")), Some((k("::/128"), 1)));
        // Shorter than the block bits: the block is the whole space.
        assert_eq!(block_of(&k("e000::/3")), Some((k("::/3"), 7)));
        assert_eq!(block_of(&k("::/0")), Some((k("::/0"), 0)));
        for s in [
            "2001:db8:2222:1f::/64",
            "e000::/3",
            "::/0",
            "ffff::1/128",
            "2001:db8:0:1300::/56",
        ] {
            let (b, i) = block_of(&k(s)).unwrap();
            assert_eq!(record_key(&b, i), k(s), "{s}");
        }
        // Not prefixes: bits past the length, or a length over 128.
        let mut bad = k("2001:db8::/32");
        bad[15] = 1;
        assert_eq!(block_of(&bad), None);
        let mut long = k("::/128");
        long[16] = 129;
        assert_eq!(block_of(&long), None);
    }

    #[test]
    fn block_values_are_checked() {
        let b = k("2001:db8::/64");
        let v = encode(&[(1, b"one"), (9, b"nine")]);
        assert_eq!(
            decode(&b, &v).unwrap(),
            vec![(1, &b"one"[..]), (9, &b"nine"[..])]
        );
        assert_eq!(decode(&b, &encode(&[])).unwrap(), vec![]);
        let reason = |v: &[u8]| match decode(&b, v) {
            Err(StoreError::CorruptBlock { reason, key }) => {
                assert_eq!(key, "20010db8000000000000000000000000".to_string() + "40");
                reason
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&[]), "empty block");
        assert_eq!(reason(&[2]), "unknown block version");
        assert_eq!(reason(&[1, 16, 0, 0]), "block index out of range");
        assert_eq!(reason(&[1, 3, 0, 0, 3, 0, 0]), "block indices out of order");
        assert_eq!(reason(&[1, 3, 0, 0, 2, 0, 0]), "block indices out of order");
        for cut in 2..v.len() {
            assert!(
                decode(&b, &v[..cut]).is_err() || cut == 1 + 3 + 3,
                "cut at {cut}"
            );
        }
        // A key that does not start a block (its records would overlap
        // those of the block that holds them).
        assert!(matches!(
            decode(&k("2001:db8:0:3::/64"), &[1]),
            Err(StoreError::CorruptBlock {
                reason: "key is not the start of a block",
                ..
            })
        ));
        // A /3 block has eight indices.
        assert!(decode(&k("::/3"), &[1, 7, 0, 0]).is_ok());
        assert_eq!(
            decode(&k("::/3"), &[1, 8, 0, 0]).unwrap_err().to_string(),
            "lease database block 0000000000000000000000000000000003 is corrupt: block index out of range"
        );
    }

    fn tree() -> sled::Tree {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.open_tree(TREE).unwrap()
    }

    fn contents(t: &sled::Tree) -> BTreeMap<Key, Vec<u8>> {
        let mut out = BTreeMap::new();
        for kv in t.iter() {
            let (bk, v) = kv.unwrap();
            let bk: Key = bk.as_ref().try_into().unwrap();
            let entries = decode(&bk, &v).unwrap();
            assert!(!entries.is_empty(), "an empty block is removed");
            for (i, r) in entries {
                out.insert(record_key(&bk, i), r.to_vec());
            }
        }
        out
    }

    #[test]
    fn dense_records_take_one_value_per_block() {
        let t = tree();
        let values: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 3]).collect();
        let changes: Vec<Change<'_>> = (0..40)
            .map(|i| (k(&format!("2001:db8:0:{i:x}::/64")), Some(&values[i][..])))
            .collect();
        assert_eq!(apply(&t, &changes).unwrap(), (40, 0));
        assert_eq!(t.len(), 3);
        // Rewrites add nothing; the last change of a key wins.
        let again = [
            (k("2001:db8:0:1::/64"), Some(&b"x"[..])),
            (k("2001:db8:0:1::/64"), Some(&b"y"[..])),
            (k("2001:db8:0:2::/64"), None),
            (k("2001:db8:0:2::/64"), Some(&b"z"[..])),
        ];
        assert_eq!(apply(&t, &again).unwrap(), (0, 0));
        let c = contents(&t);
        assert_eq!(c[&k("2001:db8:0:1::/64")], b"y");
        assert_eq!(c[&k("2001:db8:0:2::/64")], b"z");
        // Emptying a block removes it; deleting what is not there is no removal.
        let gone: Vec<Change<'_>> = (32..40)
            .map(|i| (k(&format!("2001:db8:0:{i:x}::/64")), None))
            .chain([(k("2001:db8:1::/64"), None)])
            .collect();
        assert_eq!(apply(&t, &gone).unwrap(), (0, 8));
        assert_eq!(t.len(), 2);
        assert!(contains(&t, &k("2001:db8:0:1f::/64")).unwrap());
        assert!(!contains(&t, &k("2001:db8:0:20::/64")).unwrap());
        assert!(!contains(&t, &k("2001:db8:0:1e::/63")).unwrap());
    }

    #[test]
    fn a_key_that_is_no_prefix_is_refused() {
        let mut bad = k("2001:db8::/32");
        bad[15] = 1;
        assert!(matches!(
            apply(&tree(), &[(bad, Some(b"v"))]),
            Err(StoreError::Corrupt {
                reason: "key is not a prefix",
                ..
            })
        ));
    }

    /// A change: which of a few prefixes of mixed lengths (so blocks of
    /// different lengths interleave in key order), and a value or none.
    fn change() -> impl Strategy<Value = (u8, u8, Option<u8>)> {
        (0u8..3, 0u8..40, proptest::option::of(any::<u8>()))
    }

    fn prefix_of(len_pick: u8, n: u8) -> Key {
        let len = [64u8, 62, 60][usize::from(len_pick)];
        let addr = 0x2001_0db8_0000_0000u128 << 64 | u128::from(n) << (128 - u32::from(len));
        let mut key = [0u8; 17];
        key[..16].copy_from_slice(&addr.to_be_bytes());
        key[16] = len;
        key
    }

    proptest! {
        #[test]
        fn apply_matches_a_map(batches in proptest::collection::vec(proptest::collection::vec(change(), 0..30), 1..6)) {
            let t = tree();
            let mut model: BTreeMap<Key, Vec<u8>> = BTreeMap::new();
            for batch in &batches {
                let values: Vec<Option<Vec<u8>>> = batch.iter().map(|c| c.2.map(|b| vec![b; usize::from(b % 5) + 1])).collect();
                let changes: Vec<Change<'_>> = batch.iter().zip(&values).map(|(c, v)| (prefix_of(c.0, c.1), v.as_deref())).collect();
                let before = model.len() as u64;
                for (key, v) in &changes {
                    match v {
                        Some(v) => { model.insert(*key, v.to_vec()); }
                        None => { model.remove(key); }
                    }
                }
                let (added, removed) = apply(&t, &changes).unwrap();
                prop_assert_eq!(before + added - removed, model.len() as u64);
                prop_assert_eq!(&contents(&t), &model);
                for (key, _) in &changes {
                    prop_assert_eq!(contains(&t, key).unwrap(), model.contains_key(key));
                }
            }
        }
    }
}
