//! Part 5 (binary size): the smallest "hello service" without the attribute.

fn main() {
    println!("hello");
}
