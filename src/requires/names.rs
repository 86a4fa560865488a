//! Name tables for what a kernel offers: a vmlinux BTF has ~50,000 FUNCs and ~19,000
//! enumerators, and `compat` reads one kernel after another. A `HashMap<String, _>` made one
//! allocation per name and freed each again: over a fleet that was most of the requires half's
//! cost (profiled with `perf`). These keep every name in one buffer and find it through an
//! open-addressed index hashed with std's `RandomState` (SipHash with a random key: a crafted
//! BTF cannot make lookups collide on purpose).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Names with a value each (a FUNC's prototype); the first insertion of a name wins.
#[derive(Clone)]
pub struct NameTable<V = u32> {
    bytes: String,
    /// (start, length) of each name in `bytes`, in insertion order.
    entries: Vec<(u32, u32)>,
    /// The value of each entry.
    values: Vec<V>,
    /// Open-addressed index, a power of two long: the entry's index + 1 in the low 32 bits (0:
    /// an empty slot), the high 32 bits of its name's hash above, so that a probe compares
    /// names only when their hashes agree.
    slots: Vec<u64>,
    hasher: RandomState,
}

impl<V> Default for NameTable<V> {
    fn default() -> Self {
        NameTable {
            bytes: String::new(),
            entries: Vec::new(),
            values: Vec::new(),
            slots: Vec::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for NameTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> NameTable<V> {
    /// A table sized for about `n` names (`bytes` of name text).
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        NameTable {
            bytes: String::with_capacity(bytes),
            entries: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            slots: vec![0; (n.max(8) * 2).next_power_of_two()],
            hasher: RandomState::new(),
        }
    }

    fn name(&self, e: &(u32, u32)) -> &str {
        &self.bytes[e.0 as usize..(e.0 + e.1) as usize]
    }

    /// The slot `name` (whose hash is `h`) is in, or the empty slot where it would go.
    fn slot(&self, name: &str, h: u64) -> usize {
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            let e = s as u32;
            if e == 0 || (s >> 32 == tag && self.name(&self.entries[e as usize - 1]) == name) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Insert `name` with `value` unless it is there already; true when inserted.
    pub fn insert(&mut self, name: &str, value: V) -> bool {
        if self.slots.is_empty() {
            self.slots = vec![0; 16];
        }
        let h = self.hasher.hash_one(name);
        let i = self.slot(name, h);
        if self.slots[i] != 0 {
            return false;
        }
        let (Ok(start), Ok(len)) = (u32::try_from(self.bytes.len()), u32::try_from(name.len()))
        else {
            return false;
        };
        self.bytes.push_str(name);
        self.entries.push((start, len));
        self.values.push(value);
        self.slots[i] = (h >> 32) << 32 | self.entries.len() as u64;
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        self.slots = vec![0u64; self.slots.len() * 2];
        for k in 0..self.entries.len() {
            let h = self.hasher.hash_one(self.name(&self.entries[k]));
            let i = self.slot(self.name(&self.entries[k]), h);
            self.slots[i] = (h >> 32) << 32 | (k as u64 + 1);
        }
    }

    /// The value of `name` (any string type, as a `HashMap<String, V>` takes it).
    pub fn get<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> Option<&V> {
        let name = name.as_ref();
        if self.slots.is_empty() {
            return None;
        }
        match self.slots[self.slot(name, self.hasher.hash_one(name))] as u32 {
            0 => None,
            e => Some(&self.values[e as usize - 1]),
        }
    }

    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every name and its value, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> + '_ {
        self.entries
            .iter()
            .zip(&self.values)
            .map(move |(e, v)| (self.name(e), v))
    }
}

/// A set of names ([`NameTable`] without values).
#[derive(Clone, Default)]
pub struct NameSet(NameTable<()>);

impl std::fmt::Debug for NameSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl NameSet {
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        NameSet(NameTable::with_capacity(n, bytes))
    }

    /// Insert `name`; true when it was not there.
    pub fn insert(&mut self, name: &str) -> bool {
        self.0.insert(name, ())
    }

    pub fn contains<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> bool {
        self.0.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|(n, _)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_insertion_wins_and_growth_keeps_every_name() {
        let mut t = NameTable::default();
        for i in 0..10_000u32 {
            assert!(t.insert(&format!("func_{i}"), i));
        }
        assert!(!t.insert("func_7", 99));
        assert_eq!(t.get("func_7"), Some(&7));
        assert_eq!(t.len(), 10_000);
        assert!((0..10_000).all(|i| t.get(&format!("func_{i}")) == Some(&i)));
        assert!(!t.contains_key("func_10000") && !t.contains_key(""));
        let mut s = NameSet::with_capacity(2, 8);
        assert!(s.insert("BPF_F_MMAPABLE") && !s.insert("BPF_F_MMAPABLE"));
        assert!(s.contains("BPF_F_MMAPABLE") && !s.contains("BPF_F_RDONLY"));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["BPF_F_MMAPABLE"]);
    }
}
