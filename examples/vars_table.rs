//! Prints the README's variable table from the one table in the code:
//! `cargo run --example vars_table`.
fn main() {
    print!("{}", torrust_bake::config::vars::markdown_table());
}
