//! Which records the store holds, kept in memory beside sled.

use hashbrown::HashMap;

use super::blocks::{self, Key};

/// Which records exist: per block, one bit per index (a million dense
/// leases: 62,500 entries, ~3 MB). It tells a new record from a rewrite
/// without reading sled on the commit path (a read of a block not in
/// sled's cache cost ~30 µs), and the count, hence the mark, depends on it.
#[derive(Default)]
pub struct Present {
    blocks: HashMap<Key, u16, foldhash::fast::RandomState>,
    pub count: u64,
}

impl Present {
    /// Note a record under `key`; true if it is new.
    pub fn insert(&mut self, key: &Key) -> bool {
        let Some((block, index)) = blocks::block_of(key) else {
            return false;
        };
        let bits = self.blocks.entry(block).or_insert(0);
        let new = *bits & (1 << index) == 0;
        *bits |= 1 << index;
        self.count += u64::from(new);
        new
    }

    /// Note that `key` holds no record; true if it held one.
    pub fn remove(&mut self, key: &Key) -> bool {
        let Some((block, index)) = blocks::block_of(key) else {
            return false;
        };
        let Some(bits) = self.blocks.get_mut(&block) else {
            return false;
        };
        let had = *bits & (1 << index) != 0;
        *bits &= !(1 << index);
        if *bits == 0 {
            self.blocks.remove(&block);
        }
        self.count -= u64::from(had);
        had
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_new_records_once_and_forgets_emptied_blocks() {
        let mut p = Present::default();
        let a = super::super::record::key(&"2001:db8:0:1::/64".parse().unwrap());
        let b = super::super::record::key(&"2001:db8:0:2::/64".parse().unwrap());
        assert!(p.insert(&a));
        assert!(p.insert(&b));
        assert_eq!(p.blocks.len(), 1, "neighbours share a block");
        assert!(p.remove(&b));
        assert!(!p.insert(&a), "a rewrite is not new");
        assert_eq!(p.count, 1);
        assert!(p.remove(&a));
        assert!(!p.remove(&a));
        assert_eq!(p.count, 0);
        assert!(p.blocks.is_empty());
    }
}
