// An empty Rust program: the Rust runtime's own start and exit.
fn main() {}
