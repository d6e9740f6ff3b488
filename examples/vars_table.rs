//! Prints the README's variable table from the one table in the code:
//! `cargo run --example vars_table`.

// A one-shot printer run by hand, not the CLI: a closed pipe may panic it.
#[allow(clippy::print_stdout)]
fn main() {
    print!("{}", torrust_bake::config::vars::markdown_table());
}
