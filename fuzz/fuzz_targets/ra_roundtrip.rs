//! RA/RS codec: `decode_ra` / `decode_rs` never panic; whatever they accept
//! encodes and decodes back to the same value, and the encoding is a fixed
//! point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pd_core::ra::{decode_ra, decode_rs, encode_ra, encode_rs};

fuzz_target!(|data: &[u8]| {
    if let Ok(ra) = decode_ra(data) {
        let bytes = encode_ra(&ra);
        let again = decode_ra(&bytes).unwrap_or_else(|e| panic!("re-encoded RA rejected: {e}"));
        assert_eq!(again, ra, "decode_ra(encode_ra(x)) != x");
        assert_eq!(encode_ra(&again), bytes, "RA encoding is not a fixed point");
    }
    if let Ok(rs) = decode_rs(data) {
        let bytes = encode_rs(&rs);
        let again = decode_rs(&bytes).unwrap_or_else(|e| panic!("re-encoded RS rejected: {e}"));
        assert_eq!(again, rs, "decode_rs(encode_rs(x)) != x");
    }
});
