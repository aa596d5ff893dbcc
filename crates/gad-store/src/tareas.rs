//! Queries on the tareas aggregate.
//!
//! A task row is read with `TAREA_COLUMNS` (table alias `t`) into `Tarea`, which serializes
//! straight to the contract's wire object (§6): enums as wire values, `prioridad` as 1–5,
//! `tiempo_pausado` as whole seconds, times RFC 3339 `Z`.
//!
//! Visibility (contract §4): level 1 sees a task when it is the `delegado_usuario_id` or its
//! efectivo is in `efectivos_asignados` (GIN-indexed array kept in sync with `tarea_efectivos`);
//! level 2+ sees every live task. `push_visible` is the only expression of that rule: the HTTP
//! routes, the socket snapshot and the Telegram bot all read tasks through this module.

use chrono::{DateTime, Utc};
use gad_core::state_machine::TaskClock;
use gad_core::{EstadoTarea, Prioridad, TipoTarea};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder, Row};

use gad_core::Actor;

pub const TASK_NOT_FOUND: &str = "The task with this id does not exist in the system";

/// The Tarea wire object (contract §6).
// Deserialize: the bot reads it back from the events it receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tarea {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub codigo: String,
    pub titulo: String,
    pub descripcion: Option<String>,
    pub tipo: TipoTarea,
    /// 1 baja … 5 crítica.
    pub prioridad: Prioridad,
    pub estado: EstadoTarea,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub inicio_programado: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub fin_programado: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub inicio_real: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub fin_real: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub pausado_en: Option<DateTime<Utc>>,
    pub tiempo_pausado_segundos: i64,
    pub duracion_real_horas: Option<f64>,
    pub delegado_usuario_id: i64,
    pub creado_por_usuario_id: Option<i64>,
    pub efectivos_asignados: Vec<i64>,
    pub ubicacion_lat: Option<f64>,
    pub ubicacion_lon: Option<f64>,
    pub ubicacion_descripcion: Option<String>,
    #[schema(value_type = Object)]
    pub notas: Value,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Created by an emergency dispatch (`POST /tasks/emergency`).
    pub es_emergencia: bool,
    /// The incident's case number (`2026-000123`, numbered per year); null for plain tasks and
    /// for emergencies raised before case numbers existed.
    pub nro_incidente: Option<String>,
    /// What the dispatch centre recorded about the incident; null for plain tasks.
    pub incidente: Option<Incidente>,
    /// The smallest zone containing the task's location (null: no location, or outside every
    /// zone), set when the task is placed or moved.
    #[serde(default)]
    pub zona_id: Option<i64>,
    /// The comisaría whose jurisdiction the location falls in.
    #[serde(default)]
    pub comisaria_id: Option<i64>,
    /// The cuadrante the task's officers patrol (set by the desk): one of them outside it for
    /// longer than `ZONA_SALIDA_MINUTOS` while the task is open raises `zona_salida`.
    #[serde(default)]
    pub cuadrante_id: Option<i64>,
}

/// The incident an emergency records (intake and closure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incidente {
    /// A code of `/api/v1/tipos-incidente`.
    pub tipo_incidente: Option<String>,
    /// 1–5, 5 most urgent (default from the type, else 3).
    pub prioridad: i16,
    /// The address as the caller said it.
    pub direccion: Option<String>,
    /// e.g. "entre Lavalle y Tucumán".
    pub referencia: Option<String>,
    /// Who called (level 2+ only; null for level 1 and in live events).
    pub denunciante: Option<Denunciante>,
    /// resuelto, falsa_alarma, derivado, sin_novedad, detenidos, otro.
    pub codigo_cierre: Option<String>,
    pub resumen_cierre: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub cerrada_at: Option<DateTime<Utc>>,
}

/// The person who reported an incident (personal data of a third party).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Denunciante {
    pub nombre: Option<String>,
    pub telefono: Option<String>,
}

/// Default incident priority when neither the caller nor the type gives one.
pub const PRIORIDAD_INCIDENTE_DEFECTO: i16 = 3;

/// Columns read into `Tarea` (table alias `t`), in the order of `TAREA_COLUMN_NAMES`.
pub const TAREA_COLUMNS: &str = "t.id, t.uuid, t.codigo, t.titulo, t.descripcion, t.tipo::text AS tipo,
    t.prioridad::text AS prioridad, t.estado::text AS estado, t.inicio_programado, t.fin_programado,
    t.inicio_real, t.fin_real, t.pausado_en,
    EXTRACT(EPOCH FROM t.tiempo_pausado)::int8 AS tiempo_pausado_segundos,
    t.duracion_real_horas::float8 AS duracion_real_horas, t.delegado_usuario_id, t.creado_por_usuario_id,
    t.efectivos_asignados, t.ubicacion_lat, t.ubicacion_lon, t.ubicacion_descripcion, t.notas,
    t.created_at, t.updated_at, t.deleted_at, t.es_emergencia, t.nro_incidente, t.tipo_incidente,
    t.prioridad_incidente, t.direccion, t.referencia, t.denunciante_nombre, t.denunciante_telefono,
    t.codigo_cierre, t.resumen_cierre, t.cerrada_at, t.zona_id, t.comisaria_id, t.cuadrante_id";

/// The names `TAREA_COLUMNS` yields, by position. The positional decoder checks them on the
/// first row of every result, so a column added to one list and not the other fails loudly
/// (a decode error naming the column) instead of shifting every field.
pub const TAREA_COLUMN_NAMES: [&str; 39] = [
    "id",
    "uuid",
    "codigo",
    "titulo",
    "descripcion",
    "tipo",
    "prioridad",
    "estado",
    "inicio_programado",
    "fin_programado",
    "inicio_real",
    "fin_real",
    "pausado_en",
    "tiempo_pausado_segundos",
    "duracion_real_horas",
    "delegado_usuario_id",
    "creado_por_usuario_id",
    "efectivos_asignados",
    "ubicacion_lat",
    "ubicacion_lon",
    "ubicacion_descripcion",
    "notas",
    "created_at",
    "updated_at",
    "deleted_at",
    "es_emergencia",
    "nro_incidente",
    "tipo_incidente",
    "prioridad_incidente",
    "direccion",
    "referencia",
    "denunciante_nombre",
    "denunciante_telefono",
    "codigo_cierre",
    "resumen_cierre",
    "cerrada_at",
    "zona_id",
    "comisaria_id",
    "cuadrante_id",
];

/// The one home of task visibility (contract §4): appends ` AND <caller may see t>` to a query
/// on alias `t`. Level 1 sees a task when it is the delegado or its efectivo is assigned (the
/// GIN-indexed `efectivos_asignados`); a scope that sees everything appends nothing, so the
/// planner keeps the plain index paths for supervisors.
pub fn push_visible(qb: &mut QueryBuilder<'_, Postgres>, scope: Scope) {
    if scope.all {
        return;
    }
    qb.push(" AND (t.delegado_usuario_id = ")
        .push_bind(scope.user_id);
    if let Some(e) = scope.efectivo_id {
        qb.push(" OR t.efectivos_asignados @> ARRAY[")
            .push_bind(e)
            .push("::int8]");
    }
    qb.push(")");
}

fn decode_err(col: &str, v: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: format!("unexpected enum label {v:?}").into(),
    }
}

/// Decodes by position (the order of `TAREA_COLUMNS`): name lookups were a measurable share of
/// the list endpoint's CPU.
impl<'r> FromRow<'r, PgRow> for Tarea {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Tarea::decode(row, Checked::Yes)
    }
}

/// Whether `Tarea::decode` checks each column's PostgreSQL type against the Rust type.
#[derive(Clone, Copy)]
enum Checked {
    Yes,
    /// The columns' types were already checked on another row of the same result.
    AlreadyForThisResult,
}

fn check_column_names(row: &PgRow) -> Result<(), sqlx::Error> {
    use sqlx::Column;
    let columns = row.columns();
    if columns.len() != TAREA_COLUMN_NAMES.len() {
        return Err(sqlx::Error::ColumnIndexOutOfBounds {
            index: TAREA_COLUMN_NAMES.len(),
            len: columns.len(),
        });
    }
    for (c, expected) in columns.iter().zip(TAREA_COLUMN_NAMES) {
        if c.name() != expected {
            return Err(sqlx::Error::ColumnDecode {
                index: expected.to_string(),
                source: format!(
                    "column {} is {:?}, expected {expected:?}",
                    c.ordinal(),
                    c.name()
                )
                .into(),
            });
        }
    }
    Ok(())
}

/// One column by position. Unchecked still fails cleanly (no panic) on NULL or a short value.
fn col<'r, T>(row: &'r PgRow, i: usize, checked: Checked) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    match checked {
        Checked::Yes => row.try_get(i),
        Checked::AlreadyForThisResult => row.try_get_unchecked(i),
    }
}

impl Tarea {
    fn decode(row: &PgRow, checked: Checked) -> Result<Self, sqlx::Error> {
        if let Checked::Yes = checked {
            check_column_names(row)?;
        }
        // Borrowed from the row: no allocation per enum column.
        let tipo: &str = col(row, 5, checked)?;
        let prioridad: &str = col(row, 6, checked)?;
        let estado: &str = col(row, 7, checked)?;
        let es_emergencia: bool = col(row, 25, checked)?;
        let incidente = if es_emergencia {
            let nombre: Option<String> = col(row, 31, checked)?;
            let telefono: Option<String> = col(row, 32, checked)?;
            Some(Incidente {
                tipo_incidente: col(row, 27, checked)?,
                prioridad: col::<Option<i16>>(row, 28, checked)?
                    .unwrap_or(PRIORIDAD_INCIDENTE_DEFECTO),
                direccion: col(row, 29, checked)?,
                referencia: col(row, 30, checked)?,
                denunciante: (nombre.is_some() || telefono.is_some())
                    .then_some(Denunciante { nombre, telefono }),
                codigo_cierre: col(row, 33, checked)?,
                resumen_cierre: col(row, 34, checked)?,
                cerrada_at: col(row, 35, checked)?,
            })
        } else {
            None
        };
        Ok(Tarea {
            id: col(row, 0, checked)?,
            uuid: col(row, 1, checked)?,
            codigo: col(row, 2, checked)?,
            titulo: col(row, 3, checked)?,
            descripcion: col(row, 4, checked)?,
            tipo: TipoTarea::from_db(tipo).ok_or_else(|| decode_err("tipo", tipo))?,
            prioridad: Prioridad::from_db(prioridad)
                .ok_or_else(|| decode_err("prioridad", prioridad))?,
            estado: EstadoTarea::from_db(estado).ok_or_else(|| decode_err("estado", estado))?,
            inicio_programado: col(row, 8, checked)?,
            fin_programado: col(row, 9, checked)?,
            inicio_real: col(row, 10, checked)?,
            fin_real: col(row, 11, checked)?,
            pausado_en: col(row, 12, checked)?,
            tiempo_pausado_segundos: col::<Option<i64>>(row, 13, checked)?.unwrap_or(0),
            duracion_real_horas: col(row, 14, checked)?,
            delegado_usuario_id: col(row, 15, checked)?,
            creado_por_usuario_id: col(row, 16, checked)?,
            efectivos_asignados: col(row, 17, checked)?,
            ubicacion_lat: col(row, 18, checked)?,
            ubicacion_lon: col(row, 19, checked)?,
            ubicacion_descripcion: col(row, 20, checked)?,
            notas: col(row, 21, checked)?,
            created_at: col(row, 22, checked)?,
            updated_at: col(row, 23, checked)?,
            deleted_at: col(row, 24, checked)?,
            es_emergencia,
            nro_incidente: col(row, 26, checked)?,
            incidente,
            zona_id: col(row, 36, checked)?,
            comisaria_id: col(row, 37, checked)?,
            cuadrante_id: col(row, 38, checked)?,
        })
    }

    /// Decodes a whole result. Every row of one result shares its column types (one
    /// RowDescription), so they are checked on the first row only: the per-value type checks
    /// (sqlx clones and compares type descriptors for each of the 25 columns) were ≈ 10 % of the
    /// list endpoint's CPU.
    pub fn decode_all(rows: &[PgRow]) -> Result<Vec<Tarea>, sqlx::Error> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let checked = if i == 0 {
                    Checked::Yes
                } else {
                    Checked::AlreadyForThisResult
                };
                Tarea::decode(row, checked)
            })
            .collect()
    }

    /// Drops what only level 2+ may read (the caller's personal data): for level 1 readers and
    /// for live events, whose audience includes officers.
    pub fn hide_personal(&mut self) {
        if let Some(i) = self.incidente.as_mut() {
            i.denunciante = None;
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn clock(&self) -> TaskClock {
        TaskClock {
            inicio_real: self.inicio_real,
            fin_real: self.fin_real,
            pausado_en: self.pausado_en,
            tiempo_pausado_segundos: self.tiempo_pausado_segundos,
            duracion_real_horas: self.duracion_real_horas,
        }
    }
}

/// Whose tasks a query may return (see `push_visible`).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub user_id: i64,
    pub efectivo_id: Option<i64>,
    pub all: bool,
}

impl Scope {
    /// What this scope may not read of a task it sees: level 1 never reads the caller's data.
    pub fn redact(self, t: &mut Tarea) {
        if !self.all {
            t.hide_personal();
        }
    }

    pub fn of(u: &Actor) -> Scope {
        Scope {
            user_id: u.id,
            efectivo_id: u.efectivo_id,
            all: u.is_supervisor(),
        }
    }
}

/// Which task to load.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Id(i64),
    Codigo(&'a str),
}

/// One live task visible to `scope`, optionally locked `FOR UPDATE` (inside a transaction).
pub async fn find<'e, E: PgExecutor<'e>>(
    exec: E,
    scope: Scope,
    key: Key<'_>,
    lock: bool,
) -> Result<Option<Tarea>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {TAREA_COLUMNS} FROM tareas t WHERE t.deleted_at IS NULL AND "
    ));
    match key {
        Key::Id(id) => qb.push("t.id = ").push_bind(id),
        Key::Codigo(c) => qb.push("t.codigo = ").push_bind(c.to_string()),
    };
    push_visible(&mut qb, scope);
    if lock {
        qb.push(" FOR UPDATE");
    }
    let mut t = qb.build_query_as::<Tarea>().fetch_optional(exec).await?;
    if let Some(t) = t.as_mut() {
        scope.redact(t);
    }
    Ok(t)
}

/// Filters of the task list.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    pub estado: Option<EstadoTarea>,
    pub tipo: Option<TipoTarea>,
    pub prioridad: Option<Prioridad>,
    pub delegado_usuario_id: Option<i64>,
    pub desde: Option<DateTime<Utc>>,
    pub hasta: Option<DateTime<Utc>>,
    /// Already a LIKE pattern (escaped, with `%`).
    pub q: Option<&'a str>,
    /// Only emergencies (true) or only ordinary tasks (false).
    pub es_emergencia: Option<bool>,
    /// Tasks whose `zona_id` or `comisaria_id` is this zone.
    pub zona_id: Option<i64>,
    /// A supervisor's jurisdiction: tasks of these comisarías and tasks outside every one.
    pub comisarias: Option<Vec<i64>>,
    pub skip: i64,
    pub limit: i64,
}

/// One query, newest first (created_at DESC, id DESC), scoped and filtered. The SQL holds only
/// the predicates in use, so the planner sees each combination plainly (a generic plan over
/// `$n IS NULL OR …` predicates would scan the table): with no filters at level 2+ it walks the
/// partial `(created_at DESC, id DESC) WHERE deleted_at IS NULL` index and stops after `limit`.
pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    scope: Scope,
    f: &ListFilter<'_>,
) -> Result<Vec<Tarea>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {TAREA_COLUMNS} FROM tareas t WHERE t.deleted_at IS NULL"
    ));
    push_visible(&mut qb, scope);
    if let Some(e) = f.estado {
        qb.push(" AND t.estado = ")
            .push_bind(e.as_db())
            .push("::estado_tarea");
    }
    if let Some(e) = f.tipo {
        qb.push(" AND t.tipo = ")
            .push_bind(e.as_db())
            .push("::tipo_tarea");
    }
    if let Some(e) = f.prioridad {
        qb.push(" AND t.prioridad = ")
            .push_bind(e.as_db())
            .push("::prioridad_tarea");
    }
    if let Some(d) = f.delegado_usuario_id {
        qb.push(" AND t.delegado_usuario_id = ").push_bind(d);
    }
    if let Some(d) = f.desde {
        qb.push(" AND t.inicio_programado >= ").push_bind(d);
    }
    if let Some(h) = f.hasta {
        qb.push(" AND t.inicio_programado <= ").push_bind(h);
    }
    if let Some(q) = f.q {
        qb.push(" AND (t.codigo ILIKE ")
            .push_bind(q.to_string())
            .push(" OR t.titulo ILIKE ")
            .push_bind(q.to_string())
            .push(")");
    }
    if let Some(e) = f.es_emergencia {
        qb.push(" AND t.es_emergencia = ").push_bind(e);
    }
    if let Some(z) = f.zona_id {
        qb.push(" AND (t.zona_id = ")
            .push_bind(z)
            .push(" OR t.comisaria_id = ")
            .push_bind(z)
            .push(")");
    }
    if let Some(c) = &f.comisarias {
        qb.push(" AND (t.comisaria_id IS NULL OR t.comisaria_id = ANY(")
            .push_bind(c.clone())
            .push("))");
    }
    qb.push(" ORDER BY t.created_at DESC, t.id DESC OFFSET ")
        .push_bind(f.skip)
        .push(" LIMIT ")
        .push_bind(f.limit);
    let rows = qb.build().fetch_all(exec).await?;
    let mut tasks = Tarea::decode_all(&rows)?;
    tasks.iter_mut().for_each(|t| scope.redact(t));
    Ok(tasks)
}

/// What the reference check of a write found.
#[derive(Debug, sqlx::FromRow)]
pub struct Refs {
    pub delegado_ok: bool,
    /// Live efectivos among the requested ids.
    pub efectivo_ids: Vec<i64>,
    /// Their usuario ids (same order).
    pub efectivo_usuarios: Vec<i64>,
}

/// Checks, in one round trip, that the delegado is a live user and which of `efectivos` are
/// live efectivos (with their usuario ids).
pub async fn check_refs<'e, E: PgExecutor<'e>>(
    exec: E,
    delegado: i64,
    efectivos: &[i64],
) -> Result<Refs, sqlx::Error> {
    sqlx::query_as::<_, Refs>(
        "SELECT EXISTS (SELECT 1 FROM usuarios WHERE id = $1 AND deleted_at IS NULL) AS delegado_ok,
                COALESCE(array_agg(e.id ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}') AS efectivo_ids,
                COALESCE(array_agg(e.usuario_id ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}') AS efectivo_usuarios
         FROM (SELECT 1) one
         LEFT JOIN efectivos e ON e.id = ANY($2) AND e.deleted_at IS NULL",
    )
    .bind(delegado)
    .bind(efectivos)
    .fetch_one(exec)
    .await
}

/// Usuario ids of the given efectivos (any state).
pub async fn usuarios_of_efectivos<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivos: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    if efectivos.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT usuario_id FROM efectivos WHERE id = ANY($1)")
        .bind(efectivos)
        .fetch_all(exec)
        .await
}

/// The fields of a new task.
#[derive(Debug)]
pub struct NewTarea<'a> {
    pub codigo: &'a str,
    pub titulo: &'a str,
    pub descripcion: Option<&'a str>,
    pub tipo: TipoTarea,
    pub prioridad: Prioridad,
    pub inicio_programado: DateTime<Utc>,
    pub fin_programado: Option<DateTime<Utc>>,
    pub delegado_usuario_id: i64,
    pub creado_por_usuario_id: i64,
    pub efectivos: &'a [i64],
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub ubicacion_descripcion: Option<&'a str>,
    pub notas: &'a Value,
    pub cuadrante_id: Option<i64>,
}

/// Inserts the task, its `tarea_efectivos` rows and the initial history row (NULL → programada)
/// in one statement.
pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    n: &NewTarea<'_>,
) -> Result<Tarea, sqlx::Error> {
    let sql = format!(
        "WITH t AS (
            INSERT INTO tareas (codigo, titulo, descripcion, tipo, prioridad, estado, inicio_programado,
                fin_programado, delegado_usuario_id, creado_por_usuario_id, efectivos_asignados,
                ubicacion_lat, ubicacion_lon, ubicacion_descripcion, geom, notas, cuadrante_id)
            VALUES ($1, $2, $3, $4::tipo_tarea, $5::prioridad_tarea, 'PROGRAMMED', $6, $7, $8, $9, $10,
                $11, $12, $13,
                CASE WHEN $11::float8 IS NULL OR $12::float8 IS NULL THEN NULL
                     ELSE ST_SetSRID(ST_MakePoint($12::float8, $11::float8), 4326)::geography END,
                $14, $15)
            RETURNING *),
         te AS (
            INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
            SELECT t.id, x FROM t, unnest($10::int8[]) AS x RETURNING 1),
         h AS (
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota)
            SELECT t.id, NULL, 'PROGRAMMED', $9, 'Tarea creada' FROM t RETURNING 1)
         SELECT {TAREA_COLUMNS} FROM t"
    );
    sqlx::query_as::<_, Tarea>(&sql)
        .bind(n.codigo)
        .bind(n.titulo)
        .bind(n.descripcion)
        .bind(n.tipo.as_db())
        .bind(n.prioridad.as_db())
        .bind(n.inicio_programado)
        .bind(n.fin_programado)
        .bind(n.delegado_usuario_id)
        .bind(n.creado_por_usuario_id)
        .bind(n.efectivos)
        .bind(n.lat)
        .bind(n.lon)
        .bind(n.ubicacion_descripcion)
        .bind(n.notas)
        .bind(n.cuadrante_id)
        .fetch_one(exec)
        .await
}

/// A partial update: `None` = unchanged; for nullable columns `Some(None)` clears.
#[derive(Debug, Default)]
pub struct Patch<'a> {
    pub codigo: Option<&'a str>,
    pub titulo: Option<&'a str>,
    pub descripcion: Option<Option<&'a str>>,
    pub tipo: Option<TipoTarea>,
    pub prioridad: Option<Prioridad>,
    pub inicio_programado: Option<DateTime<Utc>>,
    pub fin_programado: Option<Option<DateTime<Utc>>>,
    pub delegado_usuario_id: Option<i64>,
    pub efectivos: Option<&'a [i64]>,
    /// (lat, lon): both set, or both cleared.
    pub ubicacion: Option<Option<(f64, f64)>>,
    pub ubicacion_descripcion: Option<Option<&'a str>>,
    pub notas: Option<&'a Value>,
    pub cuadrante_id: Option<Option<i64>>,
}

impl Patch<'_> {
    pub fn is_empty(&self) -> bool {
        self.codigo.is_none()
            && self.titulo.is_none()
            && self.descripcion.is_none()
            && self.tipo.is_none()
            && self.prioridad.is_none()
            && self.inicio_programado.is_none()
            && self.fin_programado.is_none()
            && self.delegado_usuario_id.is_none()
            && self.efectivos.is_none()
            && self.ubicacion.is_none()
            && self.ubicacion_descripcion.is_none()
            && self.notas.is_none()
            && self.cuadrante_id.is_none()
    }
}

/// Applies a patch to a (locked) task and keeps `tarea_efectivos` in sync, in one statement.
pub async fn apply_patch<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    p: &Patch<'_>,
) -> Result<Tarea, sqlx::Error> {
    let (set_loc, lat, lon) = match p.ubicacion {
        None => (false, None, None),
        Some(None) => (true, None, None),
        Some(Some((lat, lon))) => (true, Some(lat), Some(lon)),
    };
    let sql = format!(
        "WITH t AS (
            UPDATE tareas SET
                codigo = COALESCE($2, codigo),
                titulo = COALESCE($3, titulo),
                descripcion = CASE WHEN $4 THEN $5 ELSE descripcion END,
                tipo = COALESCE($6::tipo_tarea, tipo),
                prioridad = COALESCE($7::prioridad_tarea, prioridad),
                inicio_programado = COALESCE($8, inicio_programado),
                fin_programado = CASE WHEN $9 THEN $10 ELSE fin_programado END,
                delegado_usuario_id = COALESCE($11, delegado_usuario_id),
                efectivos_asignados = COALESCE($12::int8[], efectivos_asignados),
                ubicacion_lat = CASE WHEN $13 THEN $14::float8 ELSE ubicacion_lat END,
                ubicacion_lon = CASE WHEN $13 THEN $15::float8 ELSE ubicacion_lon END,
                geom = CASE WHEN NOT $13 THEN geom
                            WHEN $14::float8 IS NULL OR $15::float8 IS NULL THEN NULL
                            ELSE ST_SetSRID(ST_MakePoint($15::float8, $14::float8), 4326)::geography END,
                ubicacion_descripcion = CASE WHEN $16 THEN $17 ELSE ubicacion_descripcion END,
                notas = COALESCE($18, notas),
                cuadrante_id = CASE WHEN $19 THEN $20 ELSE cuadrante_id END
            WHERE id = $1 RETURNING *),
         del AS (
            DELETE FROM tarea_efectivos te
            WHERE $12::int8[] IS NOT NULL AND te.tarea_id = $1 AND NOT (te.efectivo_id = ANY($12::int8[]))
            RETURNING 1),
         ins AS (
            INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
            SELECT $1, x FROM unnest(COALESCE($12::int8[], '{{}}')) AS x
            ON CONFLICT DO NOTHING RETURNING 1)
         SELECT {TAREA_COLUMNS} FROM t"
    );
    sqlx::query_as::<_, Tarea>(&sql)
        .bind(id)
        .bind(p.codigo)
        .bind(p.titulo)
        .bind(p.descripcion.is_some())
        .bind(p.descripcion.flatten())
        .bind(p.tipo.map(|e| e.as_db()))
        .bind(p.prioridad.map(|e| e.as_db()))
        .bind(p.inicio_programado)
        .bind(p.fin_programado.is_some())
        .bind(p.fin_programado.flatten())
        .bind(p.delegado_usuario_id)
        .bind(p.efectivos)
        .bind(set_loc)
        .bind(lat)
        .bind(lon)
        .bind(p.ubicacion_descripcion.is_some())
        .bind(p.ubicacion_descripcion.flatten())
        .bind(p.notas)
        .bind(p.cuadrante_id.is_some())
        .bind(p.cuadrante_id.flatten())
        .fetch_one(exec)
        .await
}

/// Writes a transition's result (state + clock) and its history row, in one statement.
pub async fn write_transition<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    from: EstadoTarea,
    to: EstadoTarea,
    clock: &TaskClock,
    usuario_id: i64,
    nota: Option<&str>,
) -> Result<Tarea, sqlx::Error> {
    let sql = format!(
        "WITH t AS (
            UPDATE tareas SET estado = $2::estado_tarea, inicio_real = $3, fin_real = $4, pausado_en = $5,
                tiempo_pausado = make_interval(secs => $6::float8),
                duracion_real_horas = $7::float8::numeric
            WHERE id = $1 RETURNING *),
         h AS (
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota)
            SELECT t.id, $8::estado_tarea, $2::estado_tarea, $9, $10 FROM t RETURNING 1)
         SELECT {TAREA_COLUMNS} FROM t"
    );
    sqlx::query_as::<_, Tarea>(&sql)
        .bind(id)
        .bind(to.as_db())
        .bind(clock.inicio_real)
        .bind(clock.fin_real)
        .bind(clock.pausado_en)
        .bind(clock.tiempo_pausado_segundos as f64)
        .bind(clock.duracion_real_horas)
        .bind(from.as_db())
        .bind(usuario_id)
        .bind(nota)
        .fetch_one(exec)
        .await
}

/// Records an incident's closure on its (locked, just finished) task: the code, the summary,
/// when, and a history row `evento = 'cierre'` (nota = the summary) for the timeline.
pub async fn close_incident<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    codigo_cierre: &str,
    resumen: Option<&str>,
    usuario_id: i64,
) -> Result<Tarea, sqlx::Error> {
    let sql = format!(
        "WITH t AS (
            UPDATE tareas SET codigo_cierre = $2, resumen_cierre = $3, cerrada_at = now()
            WHERE id = $1 RETURNING *),
         h AS (
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota, evento)
            SELECT t.id, t.estado, t.estado, $4, COALESCE($3, 'cierre: ' || $2), 'cierre' FROM t RETURNING 1)
         SELECT {TAREA_COLUMNS} FROM t"
    );
    sqlx::query_as::<_, Tarea>(&sql)
        .bind(id)
        .bind(codigo_cierre)
        .bind(resumen)
        .bind(usuario_id)
        .fetch_one(exec)
        .await
}

/// An efectivo returned to `disponible`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Released {
    pub id: i64,
    pub usuario_id: i64,
}

/// Returns the task's efectivos that are `en_tarea` to `disponible`.
pub async fn release_efectivos<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<Released>, sqlx::Error> {
    // A closed task also closes its pending dispatches (no escalation for it any more), and
    // frees officers on the way or on scene as well as those working it.
    sqlx::query_as::<_, Released>(
        "WITH closed AS (
            UPDATE despachos SET estado = 'CERRADO', respondido_at = now(), motivo = 'tarea cerrada'
            WHERE tarea_id = $1 AND estado = 'PENDIENTE' RETURNING 1)
         UPDATE efectivos e SET estado_disponibilidad = 'DISPONIBLE', ultima_actualizacion_estado = now()
         FROM tarea_efectivos te
         WHERE te.tarea_id = $1 AND te.efectivo_id = e.id
           AND e.estado_disponibilidad IN ('EN_TAREA', 'EN_CAMINO', 'EN_ESCENA') AND e.deleted_at IS NULL
         RETURNING e.id, e.usuario_id",
    )
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

/// Soft-deletes a live task.
pub async fn soft_delete<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<Tarea>, sqlx::Error> {
    let sql = format!(
        "UPDATE tareas t SET deleted_at = now() WHERE t.id = $1 AND t.deleted_at IS NULL RETURNING {TAREA_COLUMNS}"
    );
    sqlx::query_as::<_, Tarea>(&sql)
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// One history row on the wire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Historial {
    pub id: i64,
    pub estado_anterior: Option<EstadoTarea>,
    #[schema(value_type = String)]
    pub estado_nuevo: EstadoTarea,
    pub usuario_id: Option<i64>,
    pub nota: Option<String>,
    /// A dispatch step when the row records one: despachado, aceptado, rechazado,
    /// vencido, escalado, sin_asignar, refuerzo, llegada; `null` for a state change.
    pub evento: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct HistorialRow {
    id: i64,
    estado_anterior: Option<String>,
    estado_nuevo: String,
    usuario_id: Option<i64>,
    nota: Option<String>,
    evento: Option<String>,
    created_at: DateTime<Utc>,
}

/// The task's history, oldest first.
pub async fn history<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<Historial>, sqlx::Error> {
    let rows: Vec<HistorialRow> = sqlx::query_as(
        "SELECT id, estado_anterior::text AS estado_anterior, estado_nuevo::text AS estado_nuevo,
                usuario_id, nota, evento, created_at
         FROM historial_estados WHERE tarea_id = $1 ORDER BY id",
    )
    .bind(tarea_id)
    .fetch_all(exec)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Historial {
                id: r.id,
                estado_anterior: match r.estado_anterior {
                    Some(s) => Some(
                        EstadoTarea::from_db(&s)
                            .ok_or_else(|| decode_err("estado_anterior", &s))?,
                    ),
                    None => None,
                },
                estado_nuevo: EstadoTarea::from_db(&r.estado_nuevo)
                    .ok_or_else(|| decode_err("estado_nuevo", &r.estado_nuevo))?,
                usuario_id: r.usuario_id,
                nota: r.nota,
                evento: r.evento,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// A short task line for the socket snapshot.
#[derive(Debug, sqlx::FromRow)]
pub struct TaskLine {
    pub id: i64,
    pub codigo: String,
    pub titulo: String,
    pub estado: String,
    pub prioridad: String,
}

/// Open tasks (not finalizada/cancelada) visible to `scope`, newest first; with `only_emergencies`
/// only those created by an emergency dispatch.
pub async fn open_lines<'e, E: PgExecutor<'e>>(
    exec: E,
    scope: Scope,
    only_emergencies: bool,
    limit: i64,
) -> Result<Vec<TaskLine>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(concat!(
        "SELECT t.id, t.codigo, t.titulo, t.estado::text AS estado, t.prioridad::text AS prioridad
         FROM tareas t
         WHERE t.deleted_at IS NULL AND ",
        crate::open_task!("t")
    ));
    if only_emergencies {
        qb.push(" AND t.es_emergencia");
    }
    push_visible(&mut qb, scope);
    qb.push(" ORDER BY t.created_at DESC, t.id DESC LIMIT ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(exec).await
}

/// A page of the tasks visible to `scope` whose estado is one of `estados` (DB labels), with the
/// number of pages; `order` is one of the fixed orders the callers name.
pub async fn page<'e, E: PgExecutor<'e> + Copy>(
    exec: E,
    scope: Scope,
    estados: &[&str],
    order: PageOrder,
    page: i64,
    size: i64,
) -> Result<(Vec<Tarea>, i64, i64), sqlx::Error> {
    let estados: Vec<String> = estados.iter().map(|e| e.to_string()).collect();
    let filter = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" FROM tareas t WHERE t.deleted_at IS NULL AND t.estado::text = ANY(")
            .push_bind(estados.clone())
            .push(")");
        push_visible(qb, scope);
    };
    let mut count: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT count(*)");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(exec).await?;
    let pages = ((total + size - 1) / size).max(1);
    let page = page.clamp(0, pages - 1);
    let mut rows: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!("SELECT {TAREA_COLUMNS}"));
    filter(&mut rows);
    rows.push(match order {
        PageOrder::Soonest => " ORDER BY t.inicio_programado, t.id",
        PageOrder::Newest => " ORDER BY t.created_at DESC, t.id DESC",
    });
    rows.push(" OFFSET ")
        .push_bind(page * size)
        .push(" LIMIT ")
        .push_bind(size);
    let mut tasks = rows.build_query_as::<Tarea>().fetch_all(exec).await?;
    tasks.iter_mut().for_each(|t| scope.redact(t));
    Ok((tasks, page, pages))
}

/// Orders of `page`.
#[derive(Debug, Clone, Copy)]
pub enum PageOrder {
    /// By inicio_programado, soonest first.
    Soonest,
    /// By created_at, newest first.
    Newest,
}
