//! `--bundle FILE.tar.xz`: every kernel's minimized BTF in one archive, identical outputs
//! stored once, with an index (release, arch, distribution, version -> member).
//!
//! The archive is streamed: each output is appended (xz-compressed) as its kernel finishes,
//! into a temporary file next to FILE that is renamed over FILE only when the index is
//! written; a run that stops early leaves FILE as it was. Deduplication compares whole
//! contents (a hash picks the candidates), so memory holds the distinct outputs only, never
//! the full kernels.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use xz2::write::XzEncoder;

use crate::compat::KernelId;
use crate::error::InputError;

use super::layout;
use super::modules::ModuleBtf;

/// One kernel in the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct IndexEntry {
    pub release: Option<String>,
    pub arch: Option<String>,
    pub distro: Option<String>,
    pub version: Option<String>,
    /// The kernel source it was made from.
    pub source: String,
    /// The archive member holding its BTF (shared by kernels with identical outputs).
    pub member: String,
    /// The modules' parts (split BTF on `member`): module name -> member.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub modules: std::collections::BTreeMap<String, String>,
}

/// Sizes, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct BundleStats {
    pub kernels: usize,
    /// Distinct outputs (members other than the index).
    pub members: usize,
    /// Sum of every kernel's raw output, as separate files would hold them.
    pub raw_total: u64,
    /// The archive's size.
    pub bundle_size: u64,
}

/// A bundle being written.
pub struct Bundle {
    path: PathBuf,
    tmp: PathBuf,
    tar: Option<tar::Builder<XzEncoder<File>>>,
    /// Content hash -> (member, bytes) of the outputs already stored.
    stored: HashMap<u64, Vec<(String, Vec<u8>)>>,
    names: HashMap<String, usize>,
    index: Vec<IndexEntry>,
    stats: BundleStats,
}

fn io_err(path: &Path, e: io::Error) -> InputError {
    InputError::io(path, e)
}

/// A tar header for a regular file of `len` bytes (mode 0644, no owner, time 0: the archive
/// depends only on its contents).
fn header(len: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

impl Bundle {
    /// Start writing `path` (through a temporary file beside it).
    pub fn create(path: &Path) -> Result<Self, InputError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| InputError::invalid(path, "not a file name"))?;
        let tmp = dir.join(format!(
            ".{}.coretool-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let f = File::create(&tmp).map_err(|e| io_err(path, e))?;
        Ok(Bundle {
            path: path.to_path_buf(),
            tmp,
            tar: Some(tar::Builder::new(XzEncoder::new(f, 6))),
            stored: HashMap::new(),
            names: HashMap::new(),
            index: Vec::new(),
            stats: BundleStats::default(),
        })
    }

    /// Add one kernel's output (and its modules' parts); an output identical to one already
    /// stored is not stored again.
    pub fn add(
        &mut self,
        id: &KernelId,
        btf: &[u8],
        modules: &[ModuleBtf],
    ) -> Result<(), InputError> {
        let member = self.store(&layout::file_name(id), btf)?;
        let base = layout::file_name(id);
        let stem = base.trim_end_matches(".btf").to_owned();
        let mut mods = std::collections::BTreeMap::new();
        for m in modules {
            let name = format!("{stem}/{}.btf", m.name);
            mods.insert(m.name.clone(), self.store(&name, &m.raw)?);
        }
        self.stats.kernels += 1;
        self.stats.raw_total += btf.len() as u64;
        self.stats.raw_total += modules.iter().map(|m| m.raw.len() as u64).sum::<u64>();
        self.index.push(IndexEntry {
            release: id.release.clone(),
            arch: id.arch.clone(),
            distro: id.distro.clone(),
            version: id.version.clone(),
            source: id.source.clone(),
            member,
            modules: mods,
        });
        Ok(())
    }

    /// Store `btf` as `btf/<name>` (suffixed when the name is taken by other bytes), or find
    /// the member that already holds the same bytes.
    fn store(&mut self, name: &str, btf: &[u8]) -> Result<String, InputError> {
        let mut h = DefaultHasher::new();
        btf.hash(&mut h);
        let key = h.finish();
        let same = self
            .stored
            .get(&key)
            .and_then(|v| v.iter().find(|(_, b)| b == btf))
            .map(|(m, _)| m.clone());
        Ok(match same {
            Some(m) => m,
            None => {
                let base = name.to_owned();
                let n = self.names.entry(base.clone()).or_insert(0);
                *n += 1;
                let member = match *n {
                    1 => format!("btf/{base}"),
                    k => format!("btf/{}-{k}.btf", base.trim_end_matches(".btf")),
                };
                let tar = self.tar.as_mut().expect("open until finish");
                let mut hdr = header(btf.len() as u64);
                tar.append_data(&mut hdr, &member, btf)
                    .map_err(|e| io_err(&self.path, e))?;
                self.stored
                    .entry(key)
                    .or_default()
                    .push((member.clone(), btf.to_vec()));
                self.stats.members += 1;
                member
            }
        })
    }

    /// The index so far, in the order kernels were added.
    pub fn index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Write the index (`index.json`, rendered by the caller), close the archive and put it in
    /// place.
    pub fn finish(mut self, index_json: &[u8]) -> Result<BundleStats, InputError> {
        let mut tar = self.tar.take().expect("open until finish");
        let path = self.path.clone();
        let result = (|| -> io::Result<u64> {
            let mut hdr = header(index_json.len() as u64);
            tar.append_data(&mut hdr, "index.json", index_json)?;
            let xz = tar.into_inner()?;
            let mut f = xz.finish()?;
            f.flush()?;
            f.sync_all()?;
            let size = f.metadata()?.len();
            std::fs::rename(&self.tmp, &path)?;
            Ok(size)
        })();
        match result {
            Ok(size) => {
                self.stats.bundle_size = size;
                Ok(self.stats)
            }
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Not finished (an error, or an early stop): the temporary file goes, FILE stays.
        if self.tar.is_some() || self.tmp.exists() {
            self.tar = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// One BTF as BTFHub ships it: a `.tar.xz` holding `member` (`<release>.btf`).
pub fn tar_xz(member: &str, btf: &[u8]) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(XzEncoder::new(Vec::new(), 6));
    let mut hdr = header(btf.len() as u64);
    tar.append_data(&mut hdr, member, btf)?;
    tar.into_inner()?.finish()
}
