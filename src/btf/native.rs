//! Raw string access for code that compares names as C does.
//!
//! A child module of `btf` so that it may read `Btf`'s private buffers without widening the
//! parser's public surface beyond this method.

use super::Btf;

impl Btf {
    /// The string at `off` followed by the rest of its string section, for `strcmp`-style
    /// comparisons that stop at the first difference instead of measuring both strings first.
    /// `None` when `off` lies outside the string section.
    pub(crate) fn str_tail(&self, off: u32) -> Option<&[u8]> {
        if off < self.str_start {
            return self.base.as_ref()?.str_tail(off);
        }
        self.data[self.strings.clone()].get((off - self.str_start) as usize..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_tail_runs_to_the_end_of_the_section() {
        let btf = Btf::parse(&crate::btf::tests::tiny_blob(false)).unwrap();
        assert_eq!(btf.str_tail(1), Some(&b"int\0s\0a\0b\0"[..]));
        assert_eq!(btf.str_tail(100), None);
    }
}
