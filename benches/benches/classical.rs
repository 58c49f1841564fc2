//! Placeholder until the classical benches land.
fn main() {}
