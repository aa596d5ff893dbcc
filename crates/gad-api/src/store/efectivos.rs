//! Queries on the efectivos aggregate.
