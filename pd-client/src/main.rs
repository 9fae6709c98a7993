fn main() {
    println!("pd-client");
}
