//! Dev helper: print libbpf's captured debug log for `OBJ [BTF]` (prepare, or `--load`).
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let load = args.iter().any(|a| a == "--load");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--load").collect();
    let obj = std::path::Path::new(args[0]);
    let target = args.get(1).map(|s| std::path::Path::new(s.as_str()));
    if load {
        for v in coretool::dryrun::live::load_each(obj, target).unwrap() {
            println!("=== {} {:?}\n{}", v.program, v.error, v.log);
        }
    } else {
        let run = coretool::dryrun::live::prepare(obj, target).unwrap();
        print!("{}", run.log);
        eprintln!("prepare: {:?}", run.prepare_error);
    }
}
