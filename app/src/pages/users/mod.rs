//! `/users`: the console's users, for admins (who change them) and compliance officers (who
//! look). The page (`page`) lets them in; the table and its questions are
//! `components::user_table`.

mod page;

pub use page::UsersPage;
