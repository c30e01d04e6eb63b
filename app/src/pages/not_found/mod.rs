//! Any path the console does not know.

mod page;

pub use page::NotFound;
