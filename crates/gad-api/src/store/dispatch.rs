//! Who may be dispatched: the one rule shared by emergency dispatch, suggestions and the map's
//! "available" view, so an officer that cannot receive an emergency is never offered one.

/// SQL condition on `efectivos e`: available, located, position fresh (younger than
/// `$age_param` minutes), the officer's user active (verified, not deleted), and not the
/// caller (`$caller_param`, the user raising the emergency). Served by the partial GiST index
/// of available, located, live officers: the user check is a correlated scalar subquery on
/// purpose, so the planner keeps the KNN index scan and checks each candidate by primary key
/// (an `EXISTS` is flattened into a join that starts from `usuarios` and sorts every officer).
pub fn eligible_sql(age_param: usize, caller_param: usize) -> String {
    format!(
        "e.estado_disponibilidad = 'DISPONIBLE' AND e.deleted_at IS NULL AND e.geom IS NOT NULL
         AND e.ubicacion_updated_at > now() - make_interval(mins => ${age_param}::int)
         AND e.usuario_id IS DISTINCT FROM ${caller_param}::int8
         AND COALESCE((SELECT du.deleted_at IS NULL AND du.verificado
                       FROM usuarios du WHERE du.id = e.usuario_id), false)"
    )
}
