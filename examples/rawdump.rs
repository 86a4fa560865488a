fn main() {
    let p = std::env::args().nth(1).unwrap();
    let d = std::fs::read(p).unwrap();
    let b = coretool::btf::Btf::parse(&d).unwrap();
    let out = std::io::stdout();
    let mut w = std::io::BufWriter::new(out.lock());
    coretool::btf::raw::write_all(&mut w, &b).unwrap();
}
