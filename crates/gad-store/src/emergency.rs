//! The emergency dispatch statement and its idempotency keys (contract §8), and dispatch
//! suggestions. The whole dispatch (pick + task + link + efectivo state + history + despacho +
//! audit + idempotent response) is ONE data-modifying CTE: without an `Idempotency-Key` it is a
//! single round trip in an implicit transaction; with one, the key is claimed first in the same
//! explicit transaction, so a concurrent retry waits on the unique index.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::efectivos::point_sql;
use crate::nearest::{NearestSql, Order, Query, nearest_first};

/// The result of one dispatch: the primary officer's row (backups of a response plan in
/// `refuerzos`).
#[derive(Debug, sqlx::FromRow)]
pub struct Dispatched {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub distance_m: f64,
    pub task_id: i64,
    pub task_uuid: uuid::Uuid,
    pub codigo: String,
    pub created_at: DateTime<Utc>,
    pub body: Value,
    pub nro_incidente: String,
    pub prioridad_incidente: i16,
    /// The type's name, for a typed incident.
    pub tipo_nombre: Option<String>,
    /// Officers the response plan called besides the primary (backup dispatches), nearest
    /// first: `[{efectivo_id, usuario_id, distance_m, vence_at}]`.
    pub refuerzos: Value,
    /// Officers the plan asked for and nobody could fill.
    pub faltantes: i64,
    /// The smallest zone containing the location and its comisaría (set by the insert's
    /// trigger).
    pub zona_id: Option<i64>,
    pub comisaria_id: Option<i64>,
    /// The console alarm (`alertas`, kind `emergencia_nueva`) that stays on the dashboards
    /// until someone marks it seen.
    pub alerta_id: Option<i64>,
}

/// What the dispatch centre recorded at intake.
#[derive(Default)]
pub struct Intake<'a> {
    /// A code of `tipos_incidente`: its response plan decides who is dispatched.
    pub tipo_incidente: Option<&'a str>,
    pub prioridad: Option<i16>,
    pub direccion: Option<&'a str>,
    pub referencia: Option<&'a str>,
    pub denunciante_nombre: Option<&'a str>,
    pub denunciante_telefono: Option<&'a str>,
}

/// Everything the dispatch statement needs.
pub struct DispatchRequest<'a> {
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    pub caller_id: i64,
    pub descripcion: Option<&'a str>,
    pub telegram_id: Option<i64>,
    pub idempotency_key: Option<&'a str>,
    pub received_at: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub max_position_age_minutes: i64,
    pub ack_timeout_seconds: f64,
    pub intake: Intake<'a>,
    /// DISPATCH_SPECIALTY_SLACK_M: how much farther than the nearest eligible officer a
    /// specialist may be and still be preferred.
    pub specialty_slack_m: f64,
    /// Who may be called (DUTY_MODE).
    pub duty: crate::turnos::Duty,
}

impl DispatchRequest<'_> {
    /// A typed incident is dispatched by its type's response plan.
    fn plan(&self) -> bool {
        self.intake.tipo_incidente.is_some()
    }
}

/// The dispatch statement. $1 lng, $2 lat, $3 radius_m, $4 caller, $5 descripcion,
/// $6 telegram_id, $7 idempotency key (or NULL), $8 received_at, $9 ip, $10 user agent,
/// $11 request id, $12 maximum position age in minutes, $13 acknowledgement timeout (seconds),
/// $14 tipo_incidente, $15 prioridad, $16 direccion, $17 referencia, $18 denunciante nombre,
/// $19 denunciante telefono, $20 specialty slack (metres).
/// `order`: see `store::nearest`.
///
/// Without a type (`plan` false) one officer is picked, the nearest, as always. With a type,
/// its plan: `efectivos_requeridos` distinct officers, the first as the primary unit and the
/// rest as backup dispatches. Officers with one of the type's specialities within the slack of
/// the nearest eligible officer's distance come first (nearest first among them), then the
/// nearest of the rest. Two bounded candidate sets feed the choice — the n nearest, and the n
/// nearest specialists — so the index's nearest-first scan serves both; an unknown type picks
/// nobody (the caller then tells an unknown type from an empty map).
pub fn dispatch_sql(order: Order, plan: bool, duty: crate::turnos::Duty) -> String {
    let pt = point_sql(1, 2);
    let nearest = order.key("e.geom", &pt);
    let eligible = crate::dispatch::eligible_sql(12, 4, duty);
    let pick = if plan {
        format!(
            "tipo AS (
            SELECT dotacion::int8 AS n, especialidades AS esp, prioridad, etiqueta
            FROM tipos_incidente WHERE codigo = $14::text
        ),
        near AS (
            SELECT e.id, e.usuario_id, ST_Distance(e.geom, {pt}) AS distance_m,
                   COALESCE(e.especialidad = ANY(COALESCE((SELECT esp FROM tipo), '{{}}'::text[])), false) AS esp
            FROM efectivos e
            WHERE {eligible}
              AND ST_DWithin(e.geom, {pt}, $3::float8)
            ORDER BY {nearest}
            LIMIT COALESCE((SELECT n FROM tipo), 0)
            FOR UPDATE OF e SKIP LOCKED
        ),
        spec AS (
            SELECT e.id, e.usuario_id, ST_Distance(e.geom, {pt}) AS distance_m, true AS esp
            FROM efectivos e
            WHERE {eligible}
              AND ST_DWithin(e.geom, {pt}, $3::float8)
              AND e.especialidad = ANY(COALESCE((SELECT esp FROM tipo), '{{}}'::text[]))
            ORDER BY {nearest}
            LIMIT COALESCE((SELECT n FROM tipo), 0)
            FOR UPDATE OF e SKIP LOCKED
        ),
        pick AS (
            SELECT c.id, c.usuario_id, c.distance_m,
                   row_number() OVER (ORDER BY c.pref DESC, c.distance_m, c.id) AS rk
            FROM (SELECT DISTINCT ON (u.id) u.id, u.usuario_id, u.distance_m,
                         COALESCE(u.esp AND u.distance_m <= (SELECT min(distance_m) FROM near) + $20::float8,
                                  false) AS pref
                  FROM (SELECT * FROM near UNION ALL SELECT * FROM spec) u
                  ORDER BY u.id) c
            ORDER BY c.pref DESC, c.distance_m, c.id
            LIMIT COALESCE((SELECT n FROM tipo), 0)
        ),"
        )
    } else {
        format!(
            "pick AS (
            SELECT e.id, e.usuario_id, ST_Distance(e.geom, {pt}) AS distance_m, 1::int8 AS rk
            FROM efectivos e
            WHERE {eligible}
              AND ST_DWithin(e.geom, {pt}, $3::float8)
            ORDER BY {nearest}
            LIMIT 1
            FOR UPDATE OF e SKIP LOCKED
        ),"
        )
    };
    let (requeridos, prioridad, asignados, tipo_nombre) = if plan {
        (
            "COALESCE((SELECT n FROM tipo), 1)",
            "COALESCE($15::int2, (SELECT prioridad FROM tipo), 3::int2)",
            "ARRAY(SELECT id FROM pick ORDER BY rk)",
            "(SELECT etiqueta FROM tipo)",
        )
    } else {
        (
            "1::int8",
            "COALESCE($15::int2, 3::int2)",
            "ARRAY[p.id]",
            "NULL::text",
        )
    };
    format!(
        "WITH {pick}
        task AS (
            INSERT INTO tareas (codigo, titulo, descripcion, tipo, prioridad, estado, inicio_programado,
                inicio_real, delegado_usuario_id, creado_por_usuario_id, ubicacion_lat, ubicacion_lon, geom,
                efectivos_asignados, extra_data, es_emergencia, nro_incidente, tipo_incidente,
                prioridad_incidente, direccion, referencia, denunciante_nombre, denunciante_telefono)
            SELECT 'EMG-' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') || '-'
                       || lpad(s.n::text, greatest(6, length(s.n::text)), '0'),
                   'Emergencia', $5::text, 'INTERVENCION'::tipo_tarea, 'CRITICAL'::prioridad_tarea,
                   'IN_PROGRESS'::estado_tarea, now(), now(), p.usuario_id, $4::int8, $2::float8, $1::float8,
                   {pt}, {asignados},
                   jsonb_strip_nulls(jsonb_build_object('emergency', true,
                       'distance_m', round(p.distance_m::numeric, 2), 'radius_m', $3::float8,
                       'telegram_id', $6::int8)), true,
                   incidente_nro(), $14::text, {prioridad}, $16::text, $17::text, $18::text, $19::text
            FROM pick p CROSS JOIN LATERAL (SELECT nextval('emergency_code_seq') AS n) s
            WHERE p.rk = 1
            RETURNING id, uuid, codigo, created_at, nro_incidente, prioridad_incidente, zona_id, comisaria_id
        ),
        link AS (
            INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
            SELECT t.id, p.id FROM task t, pick p RETURNING 1
        ),
        busy AS (
            UPDATE efectivos e SET estado_disponibilidad = 'EN_TAREA', ultima_actualizacion_estado = now()
            FROM pick p WHERE e.id = p.id RETURNING e.id
        ),
        hist AS (
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota, evento)
            SELECT t.id, CASE WHEN p.rk = 1 THEN NULL ELSE 'IN_PROGRESS'::estado_tarea END,
                   'IN_PROGRESS'::estado_tarea, CASE WHEN p.rk = 1 THEN $4::int8 END,
                   CASE WHEN p.rk = 1 THEN 'emergencia'
                        ELSE 'refuerzo: despachado el efectivo ' || p.id || ' (plan de respuesta)' END,
                   CASE WHEN p.rk = 1 THEN 'despachado' ELSE 'refuerzo' END
            FROM task t, pick p RETURNING 1
        ),
        desp AS (
            INSERT INTO despachos (tarea_id, efectivo_id, intento, refuerzo, distancia_m, vence_at)
            SELECT t.id, p.id, CASE WHEN p.rk = 1 THEN 1 ELSE 0 END, p.rk > 1, p.distance_m,
                   now() + make_interval(secs => $13::float8)
            FROM task t, pick p RETURNING efectivo_id, vence_at
        ),
        sent AS (
            SELECT p.id AS efectivo_id, p.usuario_id, p.distance_m, p.rk, d.vence_at
            FROM pick p JOIN desp d ON d.efectivo_id = p.id
        ),
        result AS (
            SELECT p.efectivo_id, p.usuario_id, p.distance_m, t.id AS task_id, t.uuid AS task_uuid,
                   t.codigo, t.created_at, t.nro_incidente, t.prioridad_incidente, t.zona_id, t.comisaria_id,
                   {tipo_nombre} AS tipo_nombre,
                   COALESCE((SELECT jsonb_agg(jsonb_build_object('efectivo_id', s.efectivo_id,
                                 'usuario_id', s.usuario_id, 'distance_m', s.distance_m,
                                 'vence_at', s.vence_at) ORDER BY s.rk)
                             FROM sent s WHERE s.rk > 1), '[]'::jsonb) AS refuerzos,
                   greatest(0, {requeridos} - (SELECT count(*) FROM sent)) AS faltantes,
                   jsonb_build_object('assigned_efectivo_id', p.efectivo_id,
                       'distance_m', round(p.distance_m::numeric, 2), 'received_at', $8::text,
                       'status', 'assigned', 'task_id', t.id, 'codigo', t.codigo,
                       'ack_status', 'pendiente_confirmacion',
                       'ack_deadline', to_char(p.vence_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                       'nro_incidente', t.nro_incidente,
                       'despachados', (SELECT jsonb_agg(jsonb_build_object('efectivo_id', s.efectivo_id,
                                           'distance_m', round(s.distance_m::numeric, 2), 'refuerzo', s.rk > 1)
                                           ORDER BY s.rk) FROM sent s),
                       'faltantes', greatest(0, {requeridos} - (SELECT count(*) FROM sent))) AS body
            FROM sent p, task t
            WHERE p.rk = 1
        ),
        aud AS (
            INSERT INTO audit_logs (event_type, severity, user_id, ip_address, user_agent, request_id,
                resource_type, resource_id, action_description, new_values, success, response_status)
            SELECT 'emergency_dispatched', 'info', $4::int8, $9::text::inet, $10::text, $11::text, 'tarea',
                   r.task_id::text, 'Emergency dispatched to the nearest available efectivo', r.body, true, 201
            FROM result r RETURNING 1
        ),
        idem AS (
            UPDATE idempotency_keys k SET response_status = 201, response_body = r.body
            FROM result r WHERE k.user_id = $4::int8 AND k.key = $7::text RETURNING 1
        ),
        alarma AS (
            INSERT INTO alertas (kind, severity, tarea_id, payload)
            SELECT 'emergencia_nueva', 'critical', t.id,
                   jsonb_build_object('codigo', t.codigo, 'nro_incidente', t.nro_incidente)
            FROM task t RETURNING id
        )
        SELECT efectivo_id, usuario_id, distance_m, task_id, task_uuid, codigo, created_at, body,
               nro_incidente, prioridad_incidente, tipo_nombre, refuerzos, faltantes, zona_id, comisaria_id,
               (SELECT id FROM alarma) AS alerta_id
        FROM result"
    )
}

/// Runs the dispatch as one statement (its own implicit transaction); `None` when no efectivo
/// is eligible within the radius.
pub async fn dispatch(
    db: &sqlx::PgPool,
    r: &DispatchRequest<'_>,
) -> Result<Option<Dispatched>, sqlx::Error> {
    let plan = r.plan();
    let duty = r.duty;
    let sql = NearestSql::new(|order| dispatch_sql(order, plan, duty));
    let rows = nearest_first(db, &sql, |q| bind_request(q, r)).await?;
    Ok(rows.into_iter().next())
}

/// The same inside the caller's transaction (the one that claimed the idempotency key), in the
/// given `order` and once: on a refusal (`nearest::refused`) the caller retries its whole
/// transaction with `Order::Exact` (no savepoint on this hot path).
pub async fn dispatch_in(
    tx: &mut sqlx::PgConnection,
    r: &DispatchRequest<'_>,
    order: Order,
) -> Result<Option<Dispatched>, sqlx::Error> {
    bind_request(sqlx::query_as(&dispatch_sql(order, r.plan(), r.duty)), r)
        .fetch_optional(tx)
        .await
}

fn bind_request<'q>(q: Query<'q, Dispatched>, r: &DispatchRequest<'q>) -> Query<'q, Dispatched> {
    q.bind(r.lng)
        .bind(r.lat)
        .bind(r.radius_m)
        .bind(r.caller_id)
        .bind(r.descripcion)
        .bind(r.telegram_id)
        .bind(r.idempotency_key)
        .bind(r.received_at)
        .bind(r.ip)
        .bind(r.user_agent)
        .bind(r.request_id)
        .bind(r.max_position_age_minutes)
        .bind(r.ack_timeout_seconds)
        .bind(r.intake.tipo_incidente)
        .bind(r.intake.prioridad)
        .bind(r.intake.direccion)
        .bind(r.intake.referencia)
        .bind(r.intake.denunciante_nombre)
        .bind(r.intake.denunciante_telefono)
        .bind(r.specialty_slack_m)
}

/// Claims an idempotency key for this request (a key older than 24 h is reclaimed). A
/// concurrent request holding the same key makes this wait until it commits or rolls back.
/// False when the key is already held.
pub async fn claim_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: i64,
    key: &str,
    request_hash: &str,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                created_at = now()
            WHERE idempotency_keys.created_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(user_id)
    .bind(key)
    .bind(request_hash)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(claimed.is_some())
}

/// What a held key stored: (request hash, response status, response body).
pub type StoredResponse = (String, Option<i32>, Option<Value>);

pub async fn stored_response(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: i64,
    key: &str,
) -> Result<Option<StoredResponse>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
}

/// An officer an emergency at the given point would reach (`GET /tasks/emergency/suggestions`).
#[derive(Debug, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub efectivo_id: i64,
    pub distance_m: f64,
    pub codigo_interno: String,
    pub nombre: String,
    pub unidad: Option<String>,
    pub especialidad: Option<String>,
}

/// Filters of the suggestions list.
pub struct SuggestionFilter<'a> {
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    pub especialidad: Option<&'a str>,
    pub unidad: Option<&'a str>,
    pub limit: i64,
    pub max_position_age_minutes: i64,
    pub caller_id: i64,
    pub duty: crate::turnos::Duty,
}

/// The nearest efectivos an emergency would reach (the dispatch rule), nearest first.
pub async fn suggestions(
    db: &sqlx::PgPool,
    f: &SuggestionFilter<'_>,
) -> Result<Vec<Suggestion>, sqlx::Error> {
    let pt = point_sql(1, 2);
    let eligible = crate::dispatch::eligible_sql(7, 8, f.duty);
    let sql = NearestSql::new(|order: Order| {
        let nearest = order.key("e.geom", &pt);
        format!(
            "SELECT e.id AS efectivo_id, ST_Distance(e.geom, {pt}) AS distance_m, e.codigo_interno,
                u.nombre, e.unidad, e.especialidad
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE {eligible}
           AND ST_DWithin(e.geom, {pt}, $3)
           AND ($4::text IS NULL OR e.especialidad = $4)
           AND ($5::text IS NULL OR e.unidad = $5)
         ORDER BY {nearest}, e.id
         LIMIT $6"
        )
    });
    nearest_first(db, &sql, |q| {
        q.bind(f.lng)
            .bind(f.lat)
            .bind(f.radius_m)
            .bind(f.especialidad)
            .bind(f.unidad)
            .bind(f.limit)
            .bind(f.max_position_age_minutes)
            .bind(f.caller_id)
    })
    .await
}

/// Serialises one user's emergency requests (a lock held until the caller's transaction ends),
/// so counting their recent emergencies and raising one more cannot interleave.
pub async fn lock_caller(tx: &mut sqlx::PgConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('gad:emergency-caller:' || $1::text, 0))",
    )
    .bind(user_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Emergencies this user raised in the last `window_secs` seconds (deleted ones included: a
/// deletion does not give the allowance back), and the seconds until the oldest of them leaves
/// the window.
pub async fn raised_within(
    tx: &mut sqlx::PgConnection,
    user_id: i64,
    window_secs: i64,
) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*),
                EXTRACT(EPOCH FROM min(created_at) + make_interval(secs => $2::float8) - now())::float8
         FROM tareas
         WHERE es_emergencia AND creado_por_usuario_id = $1
           AND created_at > now() - make_interval(secs => $2::float8)",
    )
    .bind(user_id)
    .bind(window_secs as f64)
    .fetch_one(tx)
    .await
}
