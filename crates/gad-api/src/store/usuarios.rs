//! Queries on the usuarios aggregate.
