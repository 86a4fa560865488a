# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_coretool_global_optspecs
    string join \n json color= v/verbose h/help V/version
end

function __fish_coretool_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_coretool_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_coretool_using_subcommand
    set -l cmd (__fish_coretool_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c coretool -n "__fish_coretool_needs_command" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_needs_command" -l json -d 'Print machine-readable JSON (each command documents its schema)'
complete -c coretool -n "__fish_coretool_needs_command" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_needs_command" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_needs_command" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "check-btf" -d 'Is this kernel ready for CO-RE? A checklist of findings, each with its fix'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "btf" -d 'Dump BTF types: bpftool\'s raw format, struct layouts, or JSON'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "vmlinux" -d 'Write a vmlinux.h (bpftool\'s sorted C dump with kfuncs), or a minimal one for a .bpf.o'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "relocs" -d 'List every CO-RE relocation record of BPF objects, decoded, with source lines'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "dry-run" -d 'Show libbpf\'s CO-RE fixups for an object, per field, against one or many kernels'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "diff" -d 'What changed between two kernels\' types, limited to what an object reaches'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "requires" -d 'Will it load? Everything an object needs from a kernel, checked against its BTF'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "compat" -d 'Relocate objects against every kernel of a fleet: a verdict per object and kernel'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "btfgen" -d 'Minimal BTF per kernel for a set of objects, proven to relocate them as the full BTF'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "selftest" -d 'Prove CO-RE works here: load the bundled probe, run known processes, check every event'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "monitor" -d 'Live process monitor (exec, fork, exit) built on the bundled CO-RE probe'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "generate" -d 'Write shell completions or man pages generated from this command line (for packagers)'
complete -c coretool -n "__fish_coretool_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -l btf -d 'BTF source: raw BTF, an ELF with .BTF (vmlinux, .bpf.o), a vmlinuz/bzImage, or a BTFHub .btf.tar.xz archive [default: /sys/kernel/btf/vmlinux]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -l base -d 'Base BTF for split (module) BTF given with --btf; needed for a module\'s BTF file, except under /sys/kernel/btf, where /sys/kernel/btf/vmlinux is the base' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand check-btf" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l btf -d 'BTF source: raw BTF, an ELF with .BTF (vmlinux, .bpf.o), a vmlinuz/bzImage, or a BTFHub .btf.tar.xz archive [default: /sys/kernel/btf/vmlinux]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l base -d 'Base BTF for split (module) BTF given with --btf; needed for a module\'s BTF file, except under /sys/kernel/btf, where /sys/kernel/btf/vmlinux is the base' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l kind -d 'Only types of these kinds (struct, union, enum, enum64, func, func_proto, typedef, int, ptr, array, fwd, const, volatile, restrict, var, datasec, float, decl_tag, type_tag)' -r
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l id -d 'Only the type with this id (repeatable)' -r
complete -c coretool -n "__fish_coretool_using_subcommand btf" -s o -l output -d 'Write the source\'s raw BTF (unwrapped from any image, package or archive) to FILE, atomically, instead of dumping types' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l regex -d 'Treat NAME arguments as regular expressions (matched anywhere in the name)'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -l layout -d 'Show struct/union layouts as pahole 1.24 does: offsets and sizes, anonymous members inline, holes, bit holes, paddings, cachelines, summary'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -s p -l pretty -d 'Indent the JSON (implies --json; bpftool\'s -p). The default is compact, one line'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -s E -l expand -d 'With --layout: expand named struct/union member types inline and name typedef chains, as pahole\'s -E'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand btf" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -l btf -d 'BTF source: raw BTF, an ELF with .BTF (vmlinux, .bpf.o), a vmlinuz/bzImage, or a BTFHub .btf.tar.xz archive [default: /sys/kernel/btf/vmlinux]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -l base -d 'Base BTF for split (module) BTF given with --btf; needed for a module\'s BTF file, except under /sys/kernel/btf, where /sys/kernel/btf/vmlinux is the base' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -s o -l output -d 'Write the header to FILE instead of stdout; FILE appears only when complete' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -l for -d 'Minimal header: only the types and kfuncs OBJ (a .bpf.o with BTF) refers to, plus what they need; -v lists the object\'s names the kernel BTF lacks' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -l type -d 'With --for: also this struct/union/enum/typedef, or the enum of this enumerator (for values BTF does not record, like BPF_MAP_TYPE_RINGBUF in a map definition); repeatable' -r
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand vmlinux" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand relocs" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand relocs" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand relocs" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand relocs" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand relocs" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l btf -d 'Kernel BTF to relocate against (repeat for a matrix): raw BTF, an ELF with .BTF, a vmlinuz/bzImage, or a BTFHub .btf.tar.xz [default: the running kernel]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l program -d 'With --load: load only this program, as a loader that autoloads a subset does (repeat for several)' -r
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l format -d 'Output format (--json is `--format json`)' -r -f -a "text\t'One table per program (one kernel) or a matrix with one column per kernel'
json\t'coretool.dry-run/v2 (docs/schemas/dry-run.json)'
markdown\t'A GitHub job summary: one row per kernel, then the relocations that keep the object from loading, with their source lines'"
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l load -d 'Also load every program into the running kernel (the verifier runs), then unload it. Only for the running kernel: with a --btf that is not its BTF, an error. Maps whose max_entries the object leaves to its loader (0) are created with 1 entry (one page for a ring buffer), and the output says so (-v also prints libbpf\'s log)'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -l offline -d 'Compute the relocations without a kernel (automatic without root or without bpf())'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand dry-run" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l btf -d 'Kernel BTF, OLD then NEW (any number with --history): raw BTF, an ELF with .BTF (vmlinux, a .bpf.o), a vmlinuz/bzImage or arm64/riscv64 Image, a kernel .deb, a BTFHub .btf.tar.xz, or a directory of those' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l for -d 'Only what this BPF object reaches (repeat for several objects)' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l history -d 'One member\'s story over every --btf kernel: TYPE.MEMBER (`task_struct.state`)' -r
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l cache -d 'BTF cache directory [default: $XDG_CACHE_HOME/coretool/btf, else ~/.cache/coretool/btf]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l cache-max -d 'Bound on the cache\'s size; the least recently used entries are removed past it (bytes, or with a K, M, G suffix: powers of 1024)' -r
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l as-given -d 'With --history: the kernels in the order given instead of sorted by release'
complete -c coretool -n "__fish_coretool_using_subcommand diff" -l no-cache -d 'Neither read nor write the BTF cache'
complete -c coretool -n "__fish_coretool_using_subcommand diff" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand diff" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l btf -d 'Kernel sources: raw BTF, vmlinux, vmlinuz/bzImage, Image, BTFHub archive, Debian linux-image .deb, or a directory of them (repeatable) [default: the running kernel]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l cache -d 'BTF cache directory [default: $XDG_CACHE_HOME/coretool/btf, else ~/.cache/coretool/btf]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l cache-max -d 'Bound on the cache\'s size; the least recently used entries are removed past it (bytes, or with a K, M, G suffix: powers of 1024)' -r
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l no-cache -d 'Neither read nor write the BTF cache'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l live -d 'Also load (and attach, where the section names a kernel target) each program on its own on the running kernel, with only the maps it uses, and compare with the prediction; everything is unloaded again. Needs root (or CAP_BPF and CAP_PERFMON); no --btf'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l no-attach -d 'With --live: load each program on its own but attach none, so only what the kernel checks at load (BPF_PROG_LOAD, the verifier) is compared with the prediction'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -l no-modules -d 'Read no module BTF: judge each kernel as it runs with no module loaded. By default, when vmlinux\'s BTF lacks a target or kfunc an object needs, the modules that come with the source are searched (a package\'s lib/modules, the loaded ones in /sys/kernel/btf)'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand requires" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l kernels -d 'Kernel sources: files, packages or directories (repeatable; several per flag)' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l format -d 'Output format (--json is `--format json`)' -r -f -a "text\t'Classes of kernels with the same result, then counts per architecture and distribution'
json\t'coretool.compat/v2, JSON Lines: one record per object and kernel, as they finish'
markdown\t'A GitHub job summary: one table row per class'"
complete -c coretool -n "__fish_coretool_using_subcommand compat" -s j -l jobs -d 'Worker threads [default: the available cores]' -r
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l cache -d 'BTF cache directory [default: $XDG_CACHE_HOME/coretool/btf, else ~/.cache/coretool/btf]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l cache-max -d 'Bound on the cache\'s size; the least recently used entries are removed past it (bytes, or with a K, M, G suffix: powers of 1024)' -r
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l no-cache -d 'Neither read nor write the BTF cache'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -l core-only -d 'Judge the CO-RE relocations only: do not check what else the programs need from each kernel (helpers, kfuncs, program and map types, attach targets)'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand compat" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l kernels -d 'Kernel sources: files, packages or directories (repeatable; several per flag)' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -s o -l output -d 'Write each kernel\'s minimized BTF under DIR (created if missing)' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l bundle -d 'Also (or instead) write every output into one .tar.xz with an index.json' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l compress -d 'Compression of the files under DIR' -r -f -a "never\t'Raw BTF files (<release>.btf)'
like-input\t'<release>.btf.tar.xz (as BTFHub ships them) for kernels read from a .btf.tar.xz'
always\t'<release>.btf.tar.xz for every kernel'"
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -s j -l jobs -d 'Worker threads [default: the available cores]' -r
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l cache -d 'BTF cache directory [default: $XDG_CACHE_HOME/coretool/btf, else ~/.cache/coretool/btf]' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l cache-max -d 'Bound on the cache\'s size; the least recently used entries are removed past it (bytes, or with a K, M, G suffix: powers of 1024)' -r
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -l no-cache -d 'Neither read nor write the BTF cache'
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand btfgen" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -l stress -d 'Also spawn N short-lived processes as fast as possible and account for every fork, exec and exit of them' -r
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -l emit-object -d 'Write the embedded BPF object to FILE (atomically) and exit, without running the test; `coretool relocs FILE` and `coretool dry-run FILE` read it' -r -F
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -s v -l verbose -d 'More detail (repeat for more)'
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand selftest" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -l interval -d 'Print the probe\'s counters every SECS seconds (0: only when stopping)' -r
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -l duration -d 'Stop after SECS seconds (for scripts and tests); default: until Ctrl-C or SIGTERM' -r
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -l follow -d 'Report only process PID and its descendants (those running at start and those forked later)' -r
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -l json -d 'Print machine-readable JSON (docs/<command>.md gives the schema)'
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -s h -l help -d 'Print help'
complete -c coretool -n "__fish_coretool_using_subcommand monitor" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand generate" -l color -d 'When to colour output; `auto` colours a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c coretool -n "__fish_coretool_using_subcommand generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c coretool -n "__fish_coretool_using_subcommand generate" -s V -l version -d 'Print version'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "check-btf" -d 'Is this kernel ready for CO-RE? A checklist of findings, each with its fix'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "btf" -d 'Dump BTF types: bpftool\'s raw format, struct layouts, or JSON'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "vmlinux" -d 'Write a vmlinux.h (bpftool\'s sorted C dump with kfuncs), or a minimal one for a .bpf.o'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "relocs" -d 'List every CO-RE relocation record of BPF objects, decoded, with source lines'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "dry-run" -d 'Show libbpf\'s CO-RE fixups for an object, per field, against one or many kernels'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "diff" -d 'What changed between two kernels\' types, limited to what an object reaches'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "requires" -d 'Will it load? Everything an object needs from a kernel, checked against its BTF'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "compat" -d 'Relocate objects against every kernel of a fleet: a verdict per object and kernel'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "btfgen" -d 'Minimal BTF per kernel for a set of objects, proven to relocate them as the full BTF'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "selftest" -d 'Prove CO-RE works here: load the bundled probe, run known processes, check every event'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "monitor" -d 'Live process monitor (exec, fork, exit) built on the bundled CO-RE probe'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "generate" -d 'Write shell completions or man pages generated from this command line (for packagers)'
complete -c coretool -n "__fish_coretool_using_subcommand help; and not __fish_seen_subcommand_from check-btf btf vmlinux relocs dry-run diff requires compat btfgen selftest monitor generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
