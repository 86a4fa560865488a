//! Dev helper: print libbpf's captured debug log for `OBJ [BTF]`: prepare, `--load`, or
//! `--offline` (libbpf's calculator without a kernel).
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let obj = Path::new(pos[0]);
    let target = pos.get(1).map(|s| Path::new(s.as_str()));
    let o = coretool::reloc::Object::parse(obj, std::fs::read(obj).unwrap()).unwrap();
    let file = coretool::libbpf::object::ObjectFile {
        path: &o.path,
        data: &o.data,
    };
    if flag("--offline") {
        let src = coretool::source::load(target, None).unwrap();
        let t = coretool::dryrun::offline::OfflineTarget {
            btf: &src,
            running_kernel: target.is_none(),
        };
        print!(
            "{}",
            coretool::dryrun::offline::relocate(&o, &t).unwrap().log
        );
    } else if flag("--load") {
        for v in coretool::libbpf::object::load_each(file, target, &[])
            .unwrap()
            .verdicts
        {
            println!("=== {} {:?}\n{}", v.program, v.error, v.log);
        }
    } else {
        let run = coretool::libbpf::object::prepare(file, target).unwrap();
        print!("{}", run.log);
        eprintln!("prepare: {:?}", run.prepare_error);
    }
}
