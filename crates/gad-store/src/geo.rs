//! Map markers (contract §8): located efectivos and open tasks within a radius of a point,
//! nearest first, computed in PostGIS (GiST index for `ST_DWithin` and the `<->` ordering).

use crate::efectivos::point_sql;
use crate::nearest::{NearestSql, Order, nearest_first};

#[derive(sqlx::FromRow)]
pub struct EfectivoMarker {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub lat: f64,
    pub lng: f64,
    pub distance_m: f64,
    pub estado: String,
    pub nombre: String,
    pub unidad: Option<String>,
}

#[derive(sqlx::FromRow)]
pub struct TareaMarker {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub codigo: String,
    pub lat: f64,
    pub lng: f64,
    pub distance_m: f64,
    pub prioridad: String,
    pub estado: String,
}

/// Where to look and who asks.
pub struct Around {
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    pub limit: i64,
    /// Only officers an emergency would reach (the dispatch rule, `dispatch::eligible_sql`).
    pub only_available: bool,
    pub max_position_age_minutes: i64,
    pub caller_id: i64,
    /// Who may be called (DUTY_MODE), for `only_available`.
    pub duty: crate::turnos::Duty,
}

/// Located efectivos within the radius, nearest first.
pub async fn efectivos_around(
    db: &sqlx::PgPool,
    a: &Around,
) -> Result<Vec<EfectivoMarker>, sqlx::Error> {
    let pt = point_sql(1, 2);
    let filter = if a.only_available {
        crate::dispatch::eligible_sql(5, 6, a.duty)
    } else {
        "e.deleted_at IS NULL AND e.geom IS NOT NULL AND $5::int8 IS NOT NULL AND $6::int8 IS NOT NULL"
            .to_string()
    };
    let sql = NearestSql::new(|order: Order| {
        let nearest = order.key("e.geom", &pt);
        format!(
            "SELECT e.id, e.uuid, ST_Y(e.geom::geometry) AS lat, ST_X(e.geom::geometry) AS lng,
                ST_Distance(e.geom, {pt}) AS distance_m, e.estado_disponibilidad::text AS estado,
                u.nombre, e.unidad
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE {filter} AND ST_DWithin(e.geom, {pt}, $3)
         ORDER BY {nearest}, e.id LIMIT $4"
        )
    });
    nearest_first(db, &sql, |q| {
        q.bind(a.lng)
            .bind(a.lat)
            .bind(a.radius_m)
            .bind(a.limit)
            .bind(a.max_position_age_minutes)
            .bind(a.caller_id)
    })
    .await
}

/// Located open tasks (not finalizada/cancelada) within the radius, nearest first.
pub async fn tareas_around(db: &sqlx::PgPool, a: &Around) -> Result<Vec<TareaMarker>, sqlx::Error> {
    let pt = point_sql(1, 2);
    let sql = NearestSql::new(|order: Order| {
        let nearest = order.key("t.geom", &pt);
        format!(
        "SELECT t.id, t.uuid, t.codigo, ST_Y(t.geom::geometry) AS lat, ST_X(t.geom::geometry) AS lng,
                ST_Distance(t.geom, {pt}) AS distance_m, t.prioridad::text AS prioridad,
                t.estado::text AS estado
         FROM tareas t
         WHERE t.deleted_at IS NULL AND t.geom IS NOT NULL
           AND {open} AND ST_DWithin(t.geom, {pt}, $3)
         ORDER BY {nearest}, t.id LIMIT $4",
            open = crate::open_task!("t"),
        )
    });
    nearest_first(db, &sql, |q| {
        q.bind(a.lng).bind(a.lat).bind(a.radius_m).bind(a.limit)
    })
    .await
}
