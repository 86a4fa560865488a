//! `coretool dry-run`: what libbpf's CO-RE relocation does to an object on a given kernel.
pub mod capture;
pub mod live;
pub mod log;
