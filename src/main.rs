mod error;
mod host;
mod site;

fn main() {}
