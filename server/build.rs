//! Rebuilds the server when a migration changes: `sqlx::migrate!` embeds `migrations/` at
//! compile time, and cargo does not otherwise know to look there (a stale copy shows up as
//! "migration N was previously applied but has been modified").
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
