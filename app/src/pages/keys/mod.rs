//! `/keys`: the API keys, for admins. The page (`page`) lets in admins only; the list, the
//! new-key form and the secret shown once are components (`components::{key_table,
//! new_key_form, secret_once}`).

mod page;

pub use page::KeysPage;
