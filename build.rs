fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=runbooks");
    println!("cargo:rerun-if-changed=stdlib");
}
