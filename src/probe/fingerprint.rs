// FNV-1a (64 bit) of the probe's inputs, recorded in probes/prebuilt/process_monitor.inputs by
// build.rs (which `include!`s this file) and recomputed by tests/probe_object.rs to notice a
// prebuilt object that no longer matches its sources. A change detector, not a security hash.

/// FNV-1a, 64 bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
