fn main() {
    println!("pd-server");
}
