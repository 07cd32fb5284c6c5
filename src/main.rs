//! The `simnet` command line.

fn main() {
    eprintln!("simnet: the command line arrives with scenario files");
    std::process::exit(2);
}
