mod host;
mod site;

fn main() {}
