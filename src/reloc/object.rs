//! A BPF object as CO-RE sees it, parsed once: its BTF and `.BTF.ext`, its programs with their
//! instructions, and every CO-RE relocation record decoded (which program it belongs to, which
//! instruction it patches, the accessor it spells in libbpf's notation, the source line it came
//! from). Pure: takes the object's bytes.

use std::path::{Path, PathBuf};

use super::access::{CoreSpec, SpecError};
use super::btf_ext::{BtfExt, BtfExtError, CoreReloKind};
use super::insn::{self, Insn};
use crate::btf::{Btf, BtfError, Endian};
use crate::elf::{ElfError, ElfInfo};

/// `sizeof(struct bpf_insn)`.
pub(crate) const BPF_INSN_SZ: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{0}")]
    Elf(#[from] ElfError),
    #[error("not a BPF object (ELF machine {machine}, expected EM_BPF = 247)")]
    NotBpf { machine: u16 },
    #[error("object has no .BTF section (compile with clang -g)")]
    NoBtf,
    #[error("corrupt .BTF: {0}")]
    Btf(#[from] BtfError),
    #[error("{0}")]
    BtfExt(#[from] BtfExtError),
}

/// Where a relocation's instruction came from in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// The source text clang recorded for the line, trimmed.
    pub text: String,
}

/// One decoded CO-RE relocation record.
#[derive(Debug, Clone)]
pub struct CoreRelo {
    /// ELF section the instruction lives in (`tracepoint/sched/sched_process_exec`).
    pub section: String,
    /// The function symbol containing the instruction (the BPF program or subprogram).
    pub program: String,
    /// Index of the record within its section's records (libbpf's `relo #N`).
    pub index: usize,
    /// Instruction index within the section (`insn_off / 8`).
    pub insn: u32,
    pub kind: CoreReloKind,
    pub type_id: u32,
    /// `[5] struct task_struct`.
    pub type_desc: String,
    /// The raw access string (`0:86`).
    pub access: String,
    /// The decoded spec, or why it could not be decoded.
    pub spec: Result<CoreSpec, SpecError>,
    pub line: Option<SourceLine>,
}

impl CoreRelo {
    /// The accessor text (`struct task_struct.real_parent`), or the decoding error.
    pub fn accessor(&self, btf: &Btf) -> String {
        match &self.spec {
            Ok(s) => s.accessor_text(btf),
            Err(e) => format!("<invalid: {e}>"),
        }
    }
    /// Field offset in the object's BTF (`2420`, `16.3` for bitfields), field kinds only.
    pub fn offset(&self) -> Option<String> {
        self.spec.as_ref().ok().and_then(|s| s.offset_text())
    }
}

/// A program (or subprogram) of the object: where it lives and its instructions as compiled.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub section: String,
    /// Index of its first instruction within the section.
    pub first_insn: u32,
    pub insns: Vec<Insn>,
}

/// A BPF object: its bytes, BTF, `.BTF.ext`, programs and decoded CO-RE relocations.
pub struct Object {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub endian: Endian,
    /// The object's `.BTF`; `btf.raw_bytes()` is the section as stored, for handing to libbpf.
    pub btf: Btf,
    /// `None` when the object has no `.BTF.ext`.
    pub ext: Option<BtfExt>,
    /// Every CO-RE relocation record, in `.BTF.ext` order.
    pub relos: Vec<CoreRelo>,
    pub programs: Vec<Program>,
}

impl Object {
    /// Parse `data`, the contents of `path` (kept for messages and for libbpf, which opens
    /// the file itself).
    pub fn parse(path: &Path, data: Vec<u8>) -> Result<Object, ObjectError> {
        let elf = ElfInfo::parse(&data)?;
        if !elf.is_bpf() {
            return Err(ObjectError::NotBpf {
                machine: elf.machine,
            });
        }
        let btf = Btf::parse(elf.section(".BTF").ok_or(ObjectError::NoBtf)?)?;
        let ext = match elf.section(".BTF.ext") {
            Some(d) => Some(BtfExt::parse(d, &btf)?),
            None => None,
        };
        let relos = match &ext {
            Some(ext) => decode_relos(&elf, &btf, ext),
            None => Vec::new(),
        };
        let programs = programs(&elf);
        let endian = elf.endian;
        drop(elf);
        Ok(Object {
            path: path.to_path_buf(),
            data,
            endian,
            btf,
            ext,
            relos,
            programs,
        })
    }

    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The relocations libbpf applies: those in programs it loads (`?`-sections are not
    /// autoloaded and libbpf skips their relocations).
    pub fn relocations(&self) -> impl Iterator<Item = &CoreRelo> {
        self.relos
            .iter()
            .filter(|r| !r.section.starts_with('?'))
            // A hostile object can name a program (two symbols of one name) that starts after
            // the instruction: that relocation is not in it.
            .filter(|r| {
                self.program(&r.program)
                    .is_some_and(|p| r.insn >= p.first_insn)
            })
    }
}

/// Every function symbol in a code section, with its instructions.
fn programs(elf: &ElfInfo<'_>) -> Vec<Program> {
    elf.funcs
        .iter()
        .filter(|f| elf.code_sections.contains(&f.section))
        .filter_map(|f| {
            let sec = elf.section(&f.section)?;
            let end = if f.size == 0 {
                sec.len()
            } else {
                f.offset.saturating_add(f.size) as usize
            };
            let bytes = sec.get(f.offset as usize..end)?;
            Some(Program {
                name: f.name.clone(),
                section: f.section.clone(),
                first_insn: (f.offset / BPF_INSN_SZ as u64) as u32,
                insns: insn::decode_all(bytes, elf.endian),
            })
        })
        .collect()
}

fn decode_relos(elf: &ElfInfo<'_>, btf: &Btf, ext: &BtfExt) -> Vec<CoreRelo> {
    let mut out = Vec::new();
    for sec in &ext.core_relos {
        for (index, r) in sec.records.iter().enumerate() {
            let access = btf.str_at(r.access_str_off).unwrap_or("").to_owned();
            let spec = CoreSpec::parse(btf, r.type_id, &access, r.kind);
            let program = elf
                .func_at(&sec.sec_name, r.insn_off as u64)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| sec.sec_name.clone());
            // Line 0 marks compiler-generated code: no source line to show.
            let line = ext
                .line_for(&sec.sec_name, r.insn_off)
                .filter(|l| l.line() != 0)
                .map(|l| SourceLine {
                    file: btf.str_at(l.file_name_off).unwrap_or("").to_owned(),
                    line: l.line(),
                    col: l.col(),
                    text: btf.str_at(l.line_off).unwrap_or("").trim().to_owned(),
                });
            out.push(CoreRelo {
                section: sec.sec_name.clone(),
                program,
                index,
                insn: r.insn_off / BPF_INSN_SZ,
                kind: r.kind,
                type_id: r.type_id,
                type_desc: btf.describe(r.type_id),
                access,
                spec,
                line,
            });
        }
    }
    out
}
