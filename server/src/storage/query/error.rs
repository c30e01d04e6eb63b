//! Why a read with a filter failed.

use app::filter::FilterError;

#[derive(Debug)]
pub enum QueryError {
    /// The request is wrong (400): names the parameter.
    Filter(FilterError),
    /// PostgreSQL stopped the query at the read pool's `statement_timeout`.
    TooSlow,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for QueryError {
    fn from(e: sqlx::Error) -> Self {
        if crate::storage::is_statement_timeout(&e) {
            QueryError::TooSlow
        } else {
            QueryError::Db(e)
        }
    }
}

impl From<FilterError> for QueryError {
    fn from(e: FilterError) -> Self {
        QueryError::Filter(e)
    }
}
