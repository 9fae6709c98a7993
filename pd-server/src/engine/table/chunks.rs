//! A growable array in fixed-size chunks: pushing never moves what is
//! already stored. A plain `Vec` of a million 80-byte records doubles by
//! copying 80 MB; the first allocation after a restore of 1M leases took
//! 75 ms for that (bench/BENCHMARKS.md), and the copy held twice the memory
//! while it ran. Here growth costs one chunk (4,096 elements) at a time.

/// Elements per chunk (a power of two; 320 KiB of 80-byte records).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Elements addressed by index `0..len`, stored in chunks of [`CHUNK`].
#[derive(Debug)]
pub struct ChunkVec<T> {
    /// Every chunk but the last is full; each has capacity [`CHUNK`].
    chunks: Vec<Vec<T>>,
}

impl<T> Default for ChunkVec<T> {
    fn default() -> Self {
        ChunkVec { chunks: Vec::new() }
    }
}

fn split(i: usize) -> (usize, usize) {
    (i >> CHUNK_BITS, i & (CHUNK - 1))
}

impl<T> ChunkVec<T> {
    /// Room in the chunk list for `n` elements (the chunks themselves are
    /// allocated as they fill, so an overestimate costs little).
    pub fn with_capacity(n: usize) -> Self {
        ChunkVec {
            chunks: Vec::with_capacity(n.div_ceil(CHUNK)),
        }
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        let (c, o) = split(i);
        self.chunks.get(c)?.get(o)
    }

    /// Element `i`, to change.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let (c, o) = split(i);
        self.chunks.get_mut(c)?.get_mut(o)
    }

    /// Append `v` at index `len()`.
    pub fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(v),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(v);
                self.chunks.push(c);
            }
        }
    }

    /// Remove and return the last element (an emptied chunk is freed).
    pub fn pop(&mut self) -> Option<T> {
        let last = self.chunks.last_mut()?;
        let v = last.pop();
        if last.is_empty() {
            self.chunks.pop();
        }
        v
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.len(),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Indexes like a `Vec` across chunk boundaries, and changes stick.
        #[test]
        fn behaves_as_a_vec(n in 0usize..(3 * CHUNK + 5), probe in 0usize..(4 * CHUNK)) {
            let mut c = ChunkVec::with_capacity(n / 2);
            let mut v = Vec::new();
            for i in 0..n {
                c.push(i);
                v.push(i);
            }
            prop_assert_eq!(c.len(), v.len());
            prop_assert_eq!(c.get(probe), v.get(probe));
            if let Some(x) = c.get_mut(probe) {
                *x += 1;
            }
            if let Some(x) = v.get_mut(probe) {
                *x += 1;
            }
            prop_assert!((0..n + 2).all(|i| c.get(i) == v.get(i)));
            prop_assert!(c.chunks.iter().rev().skip(1).all(|k| k.len() == CHUNK));
            for _ in 0..probe.min(n + 1) {
                prop_assert_eq!(c.pop(), v.pop());
                prop_assert_eq!(c.len(), v.len());
            }
            prop_assert!(c.chunks.iter().all(|k| !k.is_empty()));
        }
    }

    #[test]
    fn pushing_does_not_move_stored_elements() {
        let mut c = ChunkVec::default();
        c.push(7u64);
        let before = c.get(0).map(|r| r as *const u64);
        for i in 0..(2 * CHUNK as u64) {
            c.push(i);
        }
        assert_eq!(c.get(0).map(|r| r as *const u64), before);
    }
}
