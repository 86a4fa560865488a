//! The kernel's build configuration, as the kernel itself publishes it (`/proc/config.gz`,
//! with `CONFIG_IKCONFIG_PROC`) or as distributions install it (`/boot/config-REL`).
//!
//! The parser is pure and forgiving: Kconfig output is line-oriented, and a line it does not
//! understand is ignored rather than refused, because a partly readable config still answers
//! most questions. An option absent from the file is different from `# CONFIG_X is not set`:
//! Kconfig omits options whose dependencies are unmet, and the report says so.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::InputError;

/// Where the running kernel's config is looked for, in order (`/boot/config-%s` takes the
/// release). libbpf's `bpf_object__read_kconfig_file` reads the same two places.
pub(crate) const PROC_CONFIG_GZ: &str = "/proc/config.gz";

/// One option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// `=y`
    Yes,
    /// `=m`
    Module,
    /// `# CONFIG_X is not set`
    NotSet,
    /// `="string"` or `=123`, quotes removed.
    Value(String),
}

/// A parsed kernel config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    options: BTreeMap<String, ConfigValue>,
    /// From the header comment, e.g. `Linux/x86 6.18.44 Kernel Configuration` gives `6.18.44`.
    pub version: Option<String>,
}

impl KernelConfig {
    /// Parse Kconfig output (`.config` format).
    pub fn parse(text: &str) -> KernelConfig {
        let mut cfg = KernelConfig::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ") {
                if let Some(name) = rest.strip_suffix(" is not set") {
                    if name.starts_with("CONFIG_") {
                        cfg.options.insert(name.to_owned(), ConfigValue::NotSet);
                    }
                } else if let Some(v) = rest
                    .strip_prefix("Linux/")
                    .and_then(|r| r.strip_suffix(" Kernel Configuration"))
                    .and_then(|r| r.split_whitespace().nth(1))
                {
                    cfg.version.get_or_insert_with(|| v.to_owned());
                }
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if !name.starts_with("CONFIG_") {
                continue;
            }
            let value = match value {
                "y" => ConfigValue::Yes,
                "m" => ConfigValue::Module,
                "n" => ConfigValue::NotSet,
                v => ConfigValue::Value(v.trim_matches('"').to_owned()),
            };
            cfg.options.insert(name.to_owned(), value);
        }
        cfg
    }

    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.options.get(name)
    }

    /// `=y` or `=m`.
    pub fn enabled(&self, name: &str) -> bool {
        matches!(self.get(name), Some(ConfigValue::Yes | ConfigValue::Module))
    }

    /// A numeric option (`CONFIG_PAHOLE_VERSION=124`).
    pub fn number(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            ConfigValue::Value(v) => v.parse().ok(),
            _ => None,
        }
    }

    /// How the option reads in a report: `CONFIG_X=y`, `CONFIG_X is not set`, or
    /// `CONFIG_X is not in the config (its dependencies are not met)`.
    pub fn describe(&self, name: &str) -> String {
        match self.get(name) {
            Some(ConfigValue::Yes) => format!("{name}=y"),
            Some(ConfigValue::Module) => format!("{name}=m"),
            Some(ConfigValue::Value(v)) => format!("{name}={v}"),
            Some(ConfigValue::NotSet) => format!("{name} is not set"),
            None => format!("{name} is not in the config (its dependencies are not met)"),
        }
    }

    pub fn len(&self) -> usize {
        self.options.len()
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

/// A config and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub config: KernelConfig,
}

/// Why no config could be read: each candidate and what went wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMissing {
    pub tried: Vec<(PathBuf, String)>,
}

/// The candidates for `release`, in the order they are tried.
pub fn candidates(release: &str) -> Vec<PathBuf> {
    vec![
        PathBuf::from(PROC_CONFIG_GZ),
        PathBuf::from(format!("/boot/config-{release}")),
    ]
}

/// Read a config file, gzip-compressed or plain (decided by the bytes, not the name).
pub fn read_config(path: &Path) -> Result<KernelConfig, InputError> {
    let data = std::fs::read(path).map_err(|e| InputError::io(path, e))?;
    let text = if data.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&data[..])
            .take(64 << 20)
            .read_to_string(&mut s)
            .map_err(|e| InputError::invalid(path, format!("gzip data is corrupt: {e}")))?;
        s
    } else {
        String::from_utf8_lossy(&data).into_owned()
    };
    let cfg = KernelConfig::parse(&text);
    if cfg.is_empty() {
        return Err(InputError::invalid(path, "holds no CONFIG_ options"));
    }
    Ok(cfg)
}

/// The running kernel's config: the first candidate that reads.
pub fn load(release: &str) -> Result<ConfigSource, ConfigMissing> {
    let mut missing = ConfigMissing::default();
    for path in candidates(release) {
        match read_config(&path) {
            Ok(config) => return Ok(ConfigSource { path, config }),
            Err(e) => {
                let why = e.to_string();
                let why = why
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&why)
                    .to_owned();
                missing.tried.push((path, why));
            }
        }
    }
    Err(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_not_set() {
        let cfg = KernelConfig::parse(
            "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_A=y\nCONFIG_B=m\n\
             # CONFIG_C is not set\nCONFIG_D=\"hello\"\nCONFIG_E=124\ngarbage\n",
        );
        assert_eq!(cfg.version.as_deref(), Some("6.1.0"));
        assert_eq!(cfg.get("CONFIG_A"), Some(&ConfigValue::Yes));
        assert!(cfg.enabled("CONFIG_B"));
        assert!(!cfg.enabled("CONFIG_C"));
        assert_eq!(cfg.describe("CONFIG_C"), "CONFIG_C is not set");
        assert_eq!(cfg.describe("CONFIG_D"), "CONFIG_D=hello");
        assert_eq!(cfg.number("CONFIG_E"), Some(124));
        assert!(cfg.describe("CONFIG_Z").contains("not in the config"));
        assert_eq!(cfg.len(), 5);
    }
}
