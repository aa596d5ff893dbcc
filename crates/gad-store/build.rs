// `sqlx::migrate!` embeds the migrations at compile time; without this, a migration file added
// after the last build is silently missing from the binary (and from the test template).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
