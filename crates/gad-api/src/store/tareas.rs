//! Queries on the tareas aggregate.
