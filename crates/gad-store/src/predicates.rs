//! The rules every query shares, written once as SQL: "the task is open" and "the user is
//! active". They are macros that expand to string literals, so a statement stays one
//! `&'static str` (`concat!`) and costs nothing at run time. The task rule is the state
//! machine's (`gad_core::state_machine::is_terminal`): a test below holds the two together.

/// `<alias>.estado` is neither finished nor cancelled: `open_task!("t")`, or `open_task!()`
/// for an unqualified `estado`.
#[macro_export]
macro_rules! open_task {
    () => {
        "estado NOT IN ('COMPLETED', 'CANCELLED')"
    };
    ($alias:literal) => {
        concat!($alias, ".estado NOT IN ('COMPLETED', 'CANCELLED')")
    };
}

/// The user `<alias>` is live and verified (may log in, be dispatched, receive pushes):
/// `active_user!("u")`, or `active_user!()` for unqualified columns.
#[macro_export]
macro_rules! active_user {
    () => {
        "(deleted_at IS NULL AND verificado)"
    };
    ($alias:literal) => {
        concat!(
            "(",
            $alias,
            ".deleted_at IS NULL AND ",
            $alias,
            ".verificado)"
        )
    };
}

#[cfg(test)]
mod tests {
    use gad_core::EstadoTarea;
    use gad_core::state_machine::is_terminal;

    #[test]
    fn the_open_task_rule_is_the_state_machines() {
        let sql = open_task!();
        for e in EstadoTarea::ALL.iter().copied() {
            let named = sql.contains(&format!("'{}'", e.as_db()));
            assert_eq!(named, is_terminal(e), "{e:?} in {sql}");
        }
        assert_eq!(open_task!("t"), format!("t.{sql}"));
    }

    #[test]
    fn the_active_user_rule_reads_both_columns() {
        assert_eq!(active_user!("u"), "(u.deleted_at IS NULL AND u.verificado)");
    }
}
