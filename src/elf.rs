//! The ELF layer: find BTF sections, program sections and function symbols in an object of
//! either byte order. Pure: works on a byte slice.

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use crate::btf::Endian;

/// `EM_BPF`.
pub const EM_BPF: u16 = 247;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("malformed ELF: {0}")]
    Malformed(String),
    #[error("ELF section {name} is malformed: {why}")]
    BadSection { name: String, why: String },
}

/// A function symbol: a BPF program or subprogram inside an executable section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncSymbol {
    pub name: String,
    pub section: String,
    /// Byte offset of the function within its section.
    pub offset: u64,
    pub size: u64,
}

/// What coretool needs from an ELF file.
#[derive(Debug, Clone)]
pub struct ElfInfo<'data> {
    pub endian: Endian,
    pub machine: u16,
    pub is_64: bool,
    /// `(name, data)` of every section with file data.
    pub sections: Vec<(String, &'data [u8])>,
    pub funcs: Vec<FuncSymbol>,
    /// Names of executable sections (BPF programs live there).
    pub code_sections: Vec<String>,
}

pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

impl<'data> ElfInfo<'data> {
    pub fn parse(data: &'data [u8]) -> Result<Self, ElfError> {
        if !is_elf(data) {
            return Err(ElfError::NotElf);
        }
        let file = object::File::parse(data).map_err(|e| ElfError::Malformed(e.to_string()))?;
        let endian = if file.is_little_endian() {
            Endian::Little
        } else {
            Endian::Big
        };
        // e_machine sits at byte 18 in both ELF classes.
        let machine = endian.u16([data[18], data[19]]);
        let mut sections = Vec::new();
        let mut code_sections = Vec::new();
        for s in file.sections() {
            let name = s.name().unwrap_or("").to_owned();
            if s.kind() == SectionKind::Text {
                code_sections.push(name.clone());
            }
            if s.kind() == SectionKind::UninitializedData {
                continue;
            }
            if let Ok(d) = s.data() {
                sections.push((name, d));
            }
        }
        let mut funcs = Vec::new();
        for sym in file.symbols() {
            if sym.kind() != SymbolKind::Text {
                continue;
            }
            let Some(idx) = sym.section_index() else {
                continue;
            };
            let Ok(sec) = file.section_by_index(idx) else {
                continue;
            };
            funcs.push(FuncSymbol {
                name: sym.name().unwrap_or("").to_owned(),
                section: sec.name().unwrap_or("").to_owned(),
                offset: sym.address().saturating_sub(sec.address()),
                size: sym.size(),
            });
        }
        funcs.sort_by(|a, b| (&a.section, a.offset).cmp(&(&b.section, b.offset)));
        Ok(ElfInfo {
            endian,
            machine,
            is_64: file.is_64(),
            sections,
            funcs,
            code_sections,
        })
    }

    pub fn section(&self, name: &str) -> Option<&'data [u8]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| *d)
    }

    pub fn is_bpf(&self) -> bool {
        self.machine == EM_BPF
    }

    /// The function symbol whose range covers byte `offset` of section `section`.
    pub fn func_at(&self, section: &str, offset: u64) -> Option<&FuncSymbol> {
        self.funcs.iter().rfind(|f| {
            f.section == section
                && f.offset <= offset
                && (f.size == 0 || offset - f.offset < f.size)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symbol size from a hostile object can be anything: `offset + size` overflowed.
    #[test]
    fn func_at_survives_huge_symbol_sizes() {
        let elf = ElfInfo {
            endian: Endian::Little,
            machine: EM_BPF,
            is_64: true,
            sections: Vec::new(),
            funcs: vec![FuncSymbol {
                name: "f".into(),
                section: "s".into(),
                offset: 16,
                size: u64::MAX,
            }],
            code_sections: vec!["s".into()],
        };
        assert_eq!(
            elf.func_at("s", u64::MAX).map(|f| f.name.as_str()),
            Some("f")
        );
        assert!(elf.func_at("s", 8).is_none());
    }
}
