//! CO-RE relocation model: decoding a relocation's access string against the object's own BTF
//! into libbpf's accessor notation.
pub mod spec;
