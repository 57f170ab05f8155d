fn main() {
    println!("popview {}", env!("CARGO_PKG_VERSION"));
}
