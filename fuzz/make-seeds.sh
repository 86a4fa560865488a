#!/usr/bin/env bash
# Rebuild the checked-in seed corpora (fuzz/seeds/<target>/) from tests/fixtures. Needs
# llvm-objcopy, python3 and a built coretool (cargo build). The seeds are inputs in each
# target's own format (see the comment at the top of fuzz/fuzz_targets/<target>.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
fx=tests/fixtures
out=fuzz/seeds
coretool=${CORETOOL:-target/debug/coretool}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$out"
mkdir -p "$out"/{btf,btf_ext,object,source,core_spec,vmlinux_plan,check_parsers,libbpf_log}
cp "$fx"/libbpf-log/*.log "$out/libbpf_log/"

objs=("$fx"/*.bpf.o "$fx"/*.bpfeb.o "$fx"/not_bpf.o "$fx"/vmlinux/*.bpf.o)
for o in "${objs[@]}"; do
    n=$(basename "$o" .o)
    cp "$o" "$out/object/$n.o"
    if llvm-objcopy --dump-section ".BTF=$tmp/$n.btf" "$o" /dev/null 2>/dev/null; then
        cp "$tmp/$n.btf" "$out/btf/$n.btf"
    fi
    llvm-objcopy --dump-section ".BTF.ext=$tmp/$n.ext" "$o" /dev/null 2>/dev/null || true
done
cp "$fx"/core_all_kinds.btf "$fx"/core_all_kinds.bpfeb.btf "$out/btf/"
# Reference cycles the BTF parser refuses (tests/fixtures/bad-input/README.md).
cp "$fx"/bad-input/cycle-*.btf "$out/btf/"
cp "$fx"/bad-input/cycle-*.btf "$out/source/"
cp "$fx"/bad-input/cycle-*.bpf.o "$out/object/"
cp "$fx"/core_all_kinds.btf* "$fx"/vmlinuz-*.img "$fx"/core_all_kinds.bpfeb.btf "$out/source/"
cp "$fx"/core_all_kinds.bpf.o "$out/source/"
for f in "$fx"/check-btf/{config,mounts,os-release,status}-*; do
    case $f in *.gz) continue ;; esac
    cp "$f" "$out/check_parsers/"
done

"$coretool" relocs --json "$fx"/core_all_kinds.bpf.o "$fx"/core_all_kinds.bpfeb.o \
    "$fx"/core_pair_local.bpf.o >"$tmp/relocs.json"

python3 - "$tmp" "$out" <<'PY'
import json, os, struct, sys
tmp, out = sys.argv[1:]
def w(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)
def rd(p):
    with open(p, "rb") as f:
        return f.read()

# btf_ext: byte 0 = 0 (LE fixture BTF) / 1 (BE fixture BTF) / else u16 len + BTF, then .BTF.ext.
for n, pick in [("core_all_kinds.bpf", 0), ("core_all_kinds.bpfeb", 1)]:
    w("btf_ext", n, bytes([pick]) + rd(f"{tmp}/{n}.ext"))
for n in ["core_pair_local.bpf", "no_core.bpf", "prog.bpf", "types.bpf"]:
    if os.path.exists(f"{tmp}/{n}.ext"):
        btf = rd(f"{tmp}/{n}.btf")
        w("btf_ext", n, bytes([2]) + struct.pack("<H", len(btf)) + btf + rd(f"{tmp}/{n}.ext"))

# core_spec: mode, kind, root id, access length, access text (fixture BTFs, text form).
kinds = {"byte_off": 0, "byte_sz": 1, "field_exists": 2, "signed": 3, "lshift_u64": 4,
         "rshift_u64": 5, "local_type_id": 6, "target_type_id": 7, "type_exists": 8,
         "type_size": 9, "enumval_exists": 10, "enumval_value": 11, "type_matches": 12}
objs = json.load(open(f"{tmp}/relocs.json"))["objects"]
seen = set()
for pick, o in enumerate(objs[:2]):
    for r in o["relocations"]:
        key = (pick, r["kind"], r["type_id"], r["access"])
        if key in seen:
            continue
        seen.add(key)
        acc = r["access"].encode()
        data = bytes([pick, kinds[r["kind"]]]) + struct.pack("<I", r["type_id"]) \
            + bytes([len(acc)]) + acc
        w("core_spec", f"{pick}-{len(seen):03}", data)

# vmlinux_plan: u16 len + kernel BTF, then object BTF.
kernel = rd(f"{tmp}/types.bpf.btf")
for n in ["prog.bpf", "core_all_kinds.bpf"]:
    w("vmlinux_plan", n, struct.pack("<H", len(kernel)) + kernel + rd(f"{tmp}/{n}.btf"))
# ... and kernels with reference cycles (tests/fixtures/bad-input/cycle-*.btf).
for p in sorted(os.listdir("tests/fixtures/bad-input")):
    if p.startswith("cycle-") and p.endswith(".btf"):
        cyc = rd(f"tests/fixtures/bad-input/{p}")
        w("vmlinux_plan", p[:-4], struct.pack("<H", len(cyc)) + cyc + rd(f"{tmp}/prog.bpf.btf"))
PY
# Drop byte-identical duplicates (several fixtures share one BTF).
for d in "$out"/*/; do
    (cd "$d" && md5sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm --)
done
find "$out" -type f | wc -l
