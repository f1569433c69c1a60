//! `sqlx::migrate!` embeds migrations/ in the binary, but a stable compiler does not know
//! the macro read that directory: without this, a new migration file alone would leave the
//! previous build (and its older schema) in place.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
