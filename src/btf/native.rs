//! Raw access for code that hands BTF to C (libbpf) or compares names as C does.
//!
//! A child module of `btf` so that it may read `Btf`'s private buffers without widening the
//! parser's public surface beyond these two methods.

use super::Btf;

/// Size of `struct btf_header` (uapi/linux/btf.h) as coretool writes it.
const HEADER_LEN: u32 = 24;

impl Btf {
    /// The string at `off` followed by the rest of its string section, for `strcmp`-style
    /// comparisons that stop at the first difference instead of measuring both strings first.
    /// `None` when `off` lies outside the string section.
    pub fn str_tail(&self, off: u32) -> Option<&[u8]> {
        if off < self.str_start {
            return self.base.as_ref()?.str_tail(off);
        }
        self.strings.get((off - self.str_start) as usize..)
    }

    /// This blob's own types and strings (not its base's) re-encoded as raw BTF in the host's
    /// byte order: a header, the type section, the string section. Type ids and string offsets
    /// are those of the original blob, so libbpf's `btf__new`/`btf__new_split` on these bytes
    /// sees the same types as coretool does.
    pub fn to_native_raw(&self) -> Vec<u8> {
        let type_len = (self.words.len() * 4) as u32;
        let str_len = self.strings.len() as u32;
        let mut out = Vec::with_capacity((HEADER_LEN + type_len + str_len) as usize);
        out.extend_from_slice(&super::BTF_MAGIC.to_ne_bytes());
        out.extend_from_slice(&[1, 0]); // version 1, no flags
        for word in [HEADER_LEN, 0, type_len, type_len, str_len] {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        for w in &self.words {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_raw_round_trips_either_byte_order() {
        for big in [false, true] {
            let blob = crate::btf::tests::tiny_blob(big);
            let btf = Btf::parse(&blob).unwrap();
            let again = Btf::parse(&btf.to_native_raw()).unwrap();
            assert_eq!(again.endian(), crate::btf::Endian::native());
            assert_eq!(again.type_count(), btf.type_count());
            assert_eq!(again.describe(3), "[3] struct s");
            if !big {
                assert_eq!(
                    btf.to_native_raw(),
                    blob,
                    "little-endian blob is reproduced"
                );
            }
        }
    }

    #[test]
    fn str_tail_runs_to_the_end_of_the_section() {
        let btf = Btf::parse(&crate::btf::tests::tiny_blob(false)).unwrap();
        assert_eq!(btf.str_tail(1), Some(&b"int\0s\0a\0b\0"[..]));
        assert_eq!(btf.str_tail(100), None);
    }
}
