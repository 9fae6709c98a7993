//! Bounds-checked reading of DHCPv6 option TLVs: never indexes, never panics.

use std::net::Ipv6Addr;

use super::types::Discard;

/// A cursor over a byte slice; every read checks the remaining length.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read from the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// `N` octets, or `short` if fewer remain.
    pub(crate) fn array<const N: usize>(&mut self, short: Discard) -> Result<[u8; N], Discard> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or(short)?;
        self.rest = tail;
        Ok(*head)
    }

    /// One octet.
    pub(crate) fn u8(&mut self, short: Discard) -> Result<u8, Discard> {
        self.array::<1>(short).map(|[b]| b)
    }

    /// A big-endian u16.
    pub(crate) fn u16(&mut self, short: Discard) -> Result<u16, Discard> {
        self.array(short).map(u16::from_be_bytes)
    }

    /// A big-endian u32.
    pub(crate) fn u32(&mut self, short: Discard) -> Result<u32, Discard> {
        self.array(short).map(u32::from_be_bytes)
    }

    /// An IPv6 address (16 octets).
    pub(crate) fn addr(&mut self, short: Discard) -> Result<Ipv6Addr, Discard> {
        self.array::<16>(short).map(Ipv6Addr::from)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Iterator over the options of one container (message, relay or option
/// body): yields `(code, body)`; an option header or body running past the
/// end of the container yields `Err(OptionOverrun)` and then stops.
pub(crate) struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    /// Walk the options in `bytes` (the whole slice is options).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Options { rest: bytes }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(u16, &'a [u8]), Discard>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let mut r = Reader::new(self.rest);
        let item = (|| {
            // RFC 9915 §21.1: option-code (2), option-len (2), option-data.
            let code = r.u16(Discard::OptionOverrun)?;
            let len = usize::from(r.u16(Discard::OptionOverrun)?);
            let body = r.rest().get(..len).ok_or(Discard::OptionOverrun)?;
            let tail = r.rest().get(len..).ok_or(Discard::OptionOverrun)?;
            Ok((code, body, tail))
        })();
        match item {
            Ok((code, body, tail)) => {
                self.rest = tail;
                Some(Ok((code, body)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_and_stops_short() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3]);
        assert_eq!(r.u8(Discard::TooShort), Ok(1));
        assert_eq!(r.u16(Discard::TooShort), Ok(2));
        assert_eq!(r.u32(Discard::TooShort), Ok(3));
        assert_eq!(r.u8(Discard::TooShort), Err(Discard::TooShort));
        assert_eq!(
            Reader::new(&[0; 15]).addr(Discard::BadOptionLength),
            Err(Discard::BadOptionLength)
        );
    }

    #[test]
    fn options_walk_and_overrun() {
        let opts: Vec<_> = Options::new(&[0, 1, 0, 2, 9, 9, 0, 14, 0, 0]).collect();
        assert_eq!(opts, vec![Ok((1, &[9u8, 9][..])), Ok((14, &[][..]))]);
        // Length past the end.
        let opts: Vec<_> = Options::new(&[0, 1, 0, 3, 9, 9]).collect();
        assert_eq!(opts, vec![Err(Discard::OptionOverrun)]);
        // A dangling partial header after a good option.
        let opts: Vec<_> = Options::new(&[0, 14, 0, 0, 0, 1, 0]).collect();
        assert_eq!(opts, vec![Ok((14, &[][..])), Err(Discard::OptionOverrun)]);
    }
}
