//! Split BTF: a Debian kernel module's `.BTF` on top of that kernel's vmlinuz, against bpftool.
use crate::common::*;
use std::process::Command;

#[test]
fn module_btf_on_vmlinuz_base_matches_bpftool() {
    require_tools!("bpftool");
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let mut checked = 0;
    for k in kernels {
        let (release, vmlinuz) = (k.release, k.vmlinuz);
        let dir = k.dir.join(format!("lib/modules/{release}/kernel/net/key"));
        let tmp = tempfile::tempdir().unwrap();
        // Debian compresses modules with xz from 6.x on: coretool reads either; bpftool gets
        // the decompressed ELF.
        let (module, plain) = if dir.join("af_key.ko").exists() {
            (dir.join("af_key.ko"), dir.join("af_key.ko"))
        } else if dir.join("af_key.ko.xz").exists() {
            let plain = tmp.path().join("af_key.ko");
            let st = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "xz -dc '{}' > '{}'",
                    dir.join("af_key.ko.xz").display(),
                    plain.display()
                ))
                .status()
                .unwrap();
            assert!(st.success(), "xz -dc failed");
            (dir.join("af_key.ko.xz"), plain)
        } else {
            continue;
        };
        if !vmlinuz.exists() {
            continue;
        }
        let elf = std::fs::read(&plain).unwrap();
        if coretool::elf::ElfInfo::parse(&elf)
            .unwrap()
            .section(".BTF")
            .is_none()
        {
            say(&format!(
                "{release}: modules carry no BTF (kernel without CONFIG_DEBUG_INFO_BTF_MODULES)"
            ));
            let o = run(&["btf", "--btf", module.to_str().unwrap()]);
            assert_bad_input(&o, module.to_str().unwrap());
            continue;
        }
        let base = tmp.path().join("vmlinux.btf");
        let src = coretool::source::load(Some(&vmlinuz), None).unwrap();
        std::fs::write(&base, src.btf.raw_bytes()).unwrap();
        let ours = run(&[
            "btf",
            "--btf",
            module.to_str().unwrap(),
            "--base",
            vmlinuz.to_str().unwrap(),
        ]);
        assert!(ours.status.success(), "{release}: {}", stderr(&ours));
        let theirs = Command::new("bpftool")
            .arg("-B")
            .arg(&base)
            .args(["btf", "dump", "file"])
            .arg(&plain)
            .args(["format", "raw"])
            .output()
            .unwrap();
        assert!(theirs.status.success(), "bpftool failed on {release}");
        assert!(
            ours.stdout == theirs.stdout,
            "{release}: split BTF dump differs from bpftool's"
        );
        assert!(stdout(&ours).starts_with('['));
        // Without a base the module is refused with the advice to pass --base.
        let o = run(&["btf", "--btf", module.to_str().unwrap()]);
        assert_bad_input(&o, module.to_str().unwrap());
        assert!(stderr(&o).contains("--base"));
        checked += 1;
    }
    require!(
        checked > 0,
        "no cached kernel has net/key/af_key.ko with BTF"
    );
}
