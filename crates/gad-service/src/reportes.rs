//! Reports a chief can sign. The response-time report (`GET /api/v1/reportes/respuesta`): one
//! row per emergency created in the range with the times of its recorded events and the
//! durations between them, and the aggregates per priority, type, zone, hour of day and day of
//! week (in `ZONA_HORARIA`) with the share arriving within `SLA_LLEGADA_MINUTOS`.
//!
//! As JSON it is one document; as CSV it is streamed (rows read one at a time) and ends with a
//! verification footer: the generation time, the filters, the audit chain head when generation
//! started, and the SHA-256 of the header and data lines ([`data_digest`]). Every generation is
//! audited (`report_generated`, with that hash), so `gad reportes verificar` can tell an intact
//! report from an edited one ([`verify_text`] does the file's half, `gad_store::reportes` the
//! trail's).

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use gad_core::request_context::RequestContext;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry, ChainHead};
pub use gad_store::reportes::FilaRespuesta;
use gad_store::reportes::{self as store, Agregado, Filtro};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

/// Longest range of one report.
pub const MAX_DAYS: i64 = 366;
/// The CSV's separator: `;`, what spreadsheets in es-AR (decimal comma) split on.
pub const SEP: char = ';';
/// Byte order mark: spreadsheets read the file as UTF-8.
pub const BOM: &str = "\u{feff}";
/// Longest a CSV report may take to stream (its connection is held meanwhile).
const MAX_CSV_SECONDS: u64 = 600;
/// Bytes gathered before a chunk of the CSV is sent.
const CHUNK: usize = 64 * 1024;

/// Query of `GET /api/v1/reportes/respuesta`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RespuestaQuery {
    /// `YYYY-MM-DD` (from the start of that day in ZONA_HORARIA) or RFC 3339.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$")]
    pub desde: String,
    /// `YYYY-MM-DD` (through the end of that day in ZONA_HORARIA) or RFC 3339 (excluded);
    /// after `desde`, at most 366 days later.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$")]
    pub hasta: String,
    pub zona_id: Option<i64>,
    /// A code of `/api/v1/tipos-incidente`.
    #[param(pattern = r"^[a-z0-9_]{1,50}$")]
    pub tipo_incidente: Option<String>,
    #[param(minimum = 1, maximum = 5)]
    pub prioridad: Option<i64>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub formato: Option<Formato>,
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Formato {
    Json,
    Csv,
}

impl Validate for RespuestaQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(t) = &self.tipo_incidente
            && (t.is_empty()
                || t.len() > 50
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
        {
            errors.push(FieldError::query(
                "tipo_incidente",
                "value_error",
                "tipo_incidente must be an incident type code ([a-z0-9_], 1-50)",
                json!(t),
            ));
        }
        if let Some(p) = self.prioridad
            && !(1..=5).contains(&p)
        {
            errors.push(FieldError::query(
                "prioridad",
                "value_error",
                "prioridad must be between 1 and 5",
                json!(p),
            ));
        }
    }
}

/// A bound of the range: a calendar day in `tz` (its start; with `end`, the next day's start)
/// or an RFC 3339 instant.
fn bound(tz: Tz, raw: &str, end: bool) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && raw.len() == 10
    {
        let d = if end { d.succ_opt()? } else { d };
        return Some(crate::calendario::local_instant(tz, d, NaiveTime::MIN));
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl RespuestaQuery {
    /// The filter, or 422 naming the bad bound.
    pub fn filtro(&self, tz: Tz) -> ServiceResult<Filtro> {
        let mut errors = Vec::new();
        let desde = bound(tz, &self.desde, false);
        let hasta = bound(tz, &self.hasta, true);
        let msg = "must be a date YYYY-MM-DD or an RFC 3339 time";
        if desde.is_none() {
            errors.push(FieldError::query(
                "desde",
                "value_error",
                format!("desde {msg}"),
                json!(self.desde),
            ));
        }
        if hasta.is_none() {
            errors.push(FieldError::query(
                "hasta",
                "value_error",
                format!("hasta {msg}"),
                json!(self.hasta),
            ));
        }
        if let (Some(d), Some(h)) = (desde, hasta) {
            if h <= d {
                errors.push(FieldError::query(
                    "hasta",
                    "value_error",
                    "hasta must be after desde",
                    json!(self.hasta),
                ));
            } else if h - d > Duration::days(MAX_DAYS) {
                errors.push(FieldError::query(
                    "hasta",
                    "value_error",
                    "A report covers at most 366 days",
                    json!(self.hasta),
                ));
            }
        }
        match (desde, hasta) {
            (Some(desde), Some(hasta)) if errors.is_empty() => Ok(Filtro {
                desde,
                hasta,
                zona_id: self.zona_id,
                tipo_incidente: self.tipo_incidente.clone(),
                prioridad: self.prioridad.and_then(|p| i16::try_from(p).ok()),
            }),
            _ => Err(ServiceError::Validation(errors)),
        }
    }

    pub fn formato(&self) -> Formato {
        self.formato.unwrap_or(Formato::Json)
    }
}

/// The filters as the footer and the audit entry record them.
fn filtros_json(f: &Filtro) -> Value {
    json!({
        "desde": gad_core::time::rfc3339(f.desde),
        "hasta": gad_core::time::rfc3339(f.hasta),
        "zona_id": f.zona_id,
        "tipo_incidente": f.tipo_incidente,
        "prioridad": f.prioridad,
    })
}

/// One aggregate: a priority, type, zone, hour or day of week (`clave`, null for emergencies
/// without one), how many emergencies, and the median and 90th percentile (continuous) of the
/// seconds from received to accepted and to arrived, over those where it happened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Grupo {
    pub clave: Option<String>,
    pub cantidad: i64,
    /// Emergencies in the group that were accepted (the acceptance figures' population).
    pub con_aceptacion: i64,
    /// Emergencies in the group with an arrival (the arrival figures' population).
    pub con_llegada: i64,
    pub mediana_aceptacion_seg: Option<f64>,
    pub p90_aceptacion_seg: Option<f64>,
    pub mediana_llegada_seg: Option<f64>,
    pub p90_llegada_seg: Option<f64>,
}

/// The share of a priority's emergencies that arrived within its target
/// (`SLA_LLEGADA_MINUTOS`); one that never arrived counts as not within.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaPrioridad {
    pub prioridad: i16,
    pub objetivo_minutos: i32,
    pub cantidad: i64,
    pub dentro: i64,
    /// dentro / cantidad, 0–1.
    pub proporcion: f64,
}

/// The aggregates of the response report. Hours 0–23 and days of week 1 (Monday) – 7
/// (Sunday) are read in ZONA_HORARIA.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resumen {
    pub total: Grupo,
    pub por_prioridad: Vec<Grupo>,
    pub por_tipo: Vec<Grupo>,
    pub por_zona: Vec<Grupo>,
    pub por_hora: Vec<Grupo>,
    pub por_dia_semana: Vec<Grupo>,
    pub sla: Vec<SlaPrioridad>,
    /// The time zone of hours and days.
    pub zona_horaria: String,
}

/// `GET /api/v1/reportes/respuesta` as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReporteRespuesta {
    /// The range covered: emergencies created in [desde, hasta).
    #[serde(serialize_with = "gad_core::time::ser")]
    pub desde: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub hasta: DateTime<Utc>,
    pub filas: Vec<FilaRespuesta>,
    pub resumen: Resumen,
}

fn grupo(a: &Agregado) -> Grupo {
    Grupo {
        clave: a.clave.clone(),
        cantidad: a.cantidad,
        con_aceptacion: a.con_aceptacion,
        con_llegada: a.con_llegada,
        mediana_aceptacion_seg: a.mediana_aceptacion_seg,
        p90_aceptacion_seg: a.p90_aceptacion_seg,
        mediana_llegada_seg: a.mediana_llegada_seg,
        p90_llegada_seg: a.p90_llegada_seg,
    }
}

fn resumen(rows: &[Agregado], sla_minutos: &[i32; 5], tz: Tz) -> Resumen {
    let of = |dim: &str| -> Vec<Grupo> {
        rows.iter()
            .filter(|a| a.dimension == dim)
            .map(grupo)
            .collect()
    };
    let total = rows
        .iter()
        .find(|a| a.dimension == "total")
        .map(grupo)
        .unwrap_or(Grupo {
            clave: None,
            cantidad: 0,
            con_aceptacion: 0,
            con_llegada: 0,
            mediana_aceptacion_seg: None,
            p90_aceptacion_seg: None,
            mediana_llegada_seg: None,
            p90_llegada_seg: None,
        });
    let sla = rows
        .iter()
        .filter(|a| a.dimension == "prioridad")
        .filter_map(|a| {
            let p: i16 = a.clave.as_deref()?.parse().ok()?;
            let objetivo = *sla_minutos.get(usize::try_from(p).ok()?.checked_sub(1)?)?;
            Some(SlaPrioridad {
                prioridad: p,
                objetivo_minutos: objetivo,
                cantidad: a.cantidad,
                dentro: a.dentro_sla,
                proporcion: if a.cantidad > 0 {
                    a.dentro_sla as f64 / a.cantidad as f64
                } else {
                    0.0
                },
            })
        })
        .collect();
    Resumen {
        total,
        por_prioridad: of("prioridad"),
        por_tipo: of("tipo"),
        por_zona: of("zona"),
        por_hora: of("hora"),
        por_dia_semana: of("dia_semana"),
        sla,
        zona_horaria: tz.name().to_string(),
    }
}

fn audit_entry(
    me: &Actor,
    origin: &RequestContext,
    formato: &str,
    f: &Filtro,
    filas: u64,
    digest: Option<(&str, &ChainHead)>,
) -> AuditEntry {
    let mut v = json!({
        "tipo": "respuesta",
        "formato": formato,
        "filtros": filtros_json(f),
        "filas": filas,
    });
    if let Some((sha, head)) = digest {
        v["sha256"] = json!(sha);
        v["cadena"] = json!({"secuencia": head.seq, "hash": head.hash});
    }
    AuditEntry::new("report_generated", Some(me.id))
        .resource("reporte", "respuesta")
        .values(None, Some(v))
        .status(200)
        .context(origin)
}

/// The response report as JSON (level 2+). Audited (`report_generated`, without a hash: the
/// JSON is not a signed document).
pub async fn respuesta(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    q: &RespuestaQuery,
) -> ServiceResult<ReporteRespuesta> {
    require(me, Nivel::Supervisor)?;
    let tz = ctx.config.zona_horaria;
    let f = q.filtro(tz)?;
    let filas = store::filas(&ctx.db, &f).await?;
    let aggs = store::agregados(&ctx.db, &f, tz.name(), &ctx.config.sla_llegada_minutos).await?;
    audit::record(
        &ctx.db,
        &audit_entry(me, origin, "json", &f, filas.len() as u64, None),
    )
    .await?;
    Ok(ReporteRespuesta {
        desde: f.desde,
        hasta: f.hasta,
        resumen: resumen(&aggs, &ctx.config.sla_llegada_minutos, tz),
        filas,
    })
}

/// The CSV's header line (without its newline).
pub fn csv_header() -> String {
    [
        "Tarea",
        "Nro. incidente",
        "Recibida",
        "Despachada",
        "Aceptada",
        "Llegada",
        "Cerrada",
        "Seg. recibida-despachada",
        "Seg. despachada-aceptada",
        "Seg. aceptada-llegada",
        "Seg. llegada-cerrada",
        "Seg. recibida-aceptada",
        "Seg. recibida-llegada",
        "Seg. recibida-cerrada",
        "Efectivos",
        "Tipo de incidente",
        "Prioridad",
        "Zona",
        "Código de cierre",
    ]
    .join(&SEP.to_string())
}

/// A cell as the CSV writes it: line breaks become spaces (one record per line, so the
/// footer is found by its `#`), a value a spreadsheet would run as a formula (starting with
/// = + - @ tab or CR) gets a leading `'`, and a value with the separator or a quote is quoted.
pub fn csv_cell(v: &str) -> String {
    let mut s: String = v
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.insert(0, '\'');
    }
    if s.contains([SEP, '"']) {
        s = format!("\"{}\"", s.replace('"', "\"\""));
    }
    s
}

/// A time in the CSV: `YYYY-MM-DD HH:MM:SS` in ZONA_HORARIA (what spreadsheets read as a
/// date), empty when it did not happen.
pub fn csv_time(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn csv_num<T: ToString>(v: Option<T>) -> String {
    v.map(|v| csv_cell(&v.to_string())).unwrap_or_default()
}

/// One data line (without its newline).
pub fn csv_line(r: &FilaRespuesta, tz: Tz) -> String {
    [
        r.task_id.to_string(),
        r.nro_incidente.as_deref().map(csv_cell).unwrap_or_default(),
        csv_time(Some(r.recibida), tz),
        csv_time(r.despachada, tz),
        csv_time(r.aceptada, tz),
        csv_time(r.llegada, tz),
        csv_time(r.cerrada, tz),
        csv_num(r.seg_recibida_despachada),
        csv_num(r.seg_despachada_aceptada),
        csv_num(r.seg_aceptada_llegada),
        csv_num(r.seg_llegada_cerrada),
        csv_num(r.seg_recibida_aceptada),
        csv_num(r.seg_recibida_llegada),
        csv_num(r.seg_recibida_cerrada),
        csv_cell(&r.efectivos.join(", ")),
        r.tipo_incidente
            .as_deref()
            .map(csv_cell)
            .unwrap_or_default(),
        csv_num(r.prioridad),
        csv_num(r.zona_id),
        r.codigo_cierre.as_deref().map(csv_cell).unwrap_or_default(),
    ]
    .join(&SEP.to_string())
}

/// The footer's lines (each with its newline): everything after the data.
fn csv_footer(
    generado: DateTime<Utc>,
    tz: Tz,
    f: &Filtro,
    filas: u64,
    head: &ChainHead,
    sha: &str,
) -> String {
    format!(
        "# generado: {} ({})\n# zona_horaria: {}\n# filtros: {}\n# filas: {filas}\n# cadena_auditoria: secuencia={} hash={}\n# sha256: {sha}\n",
        csv_time(Some(generado), tz),
        gad_core::time::rfc3339(generado),
        tz.name(),
        filtros_json(f),
        head.seq,
        head.hash,
    )
}

type Chunk = Result<Bytes, std::io::Error>;

/// The response report as CSV (level 2+): the range is checked and the chain head read before
/// the body starts; the rows are then streamed. After the data the generation is audited with
/// the data's hash and the footer written; a failure there cuts the transfer (no footer, so
/// the file never verifies).
pub async fn respuesta_csv(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    q: &RespuestaQuery,
) -> ServiceResult<impl futures::Stream<Item = Chunk> + Send + 'static> {
    require(me, Nivel::Supervisor)?;
    let tz = ctx.config.zona_horaria;
    let f = q.filtro(tz)?;
    let head = audit::chain_head(&ctx.db).await?;
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let ctx = ctx.clone();
    let me = *me;
    let origin = origin.clone();
    tokio::spawn(async move {
        // A reader too slow to take the report in time gets a cut transfer (no footer), and
        // the connection goes back to the pool.
        let run = write_csv(&ctx, &me, &origin, &f, &head, tz, &tx);
        match tokio::time::timeout(std::time::Duration::from_secs(MAX_CSV_SECONDS), run).await {
            Ok(Ok(())) | Ok(Err(CsvError::Gone)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "response report CSV failed mid-stream");
                let _ = tx.send(Err(std::io::Error::other("report cut"))).await;
            }
            Err(_) => {
                tracing::warn!(
                    seconds = MAX_CSV_SECONDS,
                    "response report CSV cut at its deadline"
                );
                let _ = tx.send(Err(std::io::Error::other("report cut"))).await;
            }
        }
    });
    Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

#[derive(Debug, thiserror::Error)]
enum CsvError {
    #[error("database: {0}")]
    Db(#[from] gad_store::DbError),
    #[error("client went away")]
    Gone,
}

async fn write_csv(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    f: &Filtro,
    head: &ChainHead,
    tz: Tz,
    tx: &mpsc::Sender<Chunk>,
) -> Result<(), CsvError> {
    let mut hasher = Sha256::new();
    let mut buf = String::with_capacity(CHUNK);
    buf.push_str(BOM);
    let header = format!("{}\n", csv_header());
    hasher.update(header.as_bytes());
    buf.push_str(&header);
    let mut n: u64 = 0;
    {
        let mut conn = ctx.db.acquire().await?;
        let sql = store::filas_stream_sql();
        let mut rows = store::filas_stream(&mut *conn, f, &sql);
        while let Some(row) = rows.next().await {
            let line = format!("{}\n", csv_line(&row?, tz));
            hasher.update(line.as_bytes());
            buf.push_str(&line);
            n += 1;
            if buf.len() >= CHUNK {
                let chunk = Bytes::from(std::mem::replace(&mut buf, String::with_capacity(CHUNK)));
                tx.send(Ok(chunk)).await.map_err(|_| CsvError::Gone)?;
            }
        }
    }
    let sha = hex::encode(hasher.finalize());
    audit::record(
        &ctx.db,
        &audit_entry(me, origin, "csv", f, n, Some((&sha, head))),
    )
    .await?;
    buf.push_str(&csv_footer(Utc::now(), tz, f, n, head, &sha));
    tx.send(Ok(Bytes::from(buf)))
        .await
        .map_err(|_| CsvError::Gone)?;
    Ok(())
}

/// What a report file's footer claims, and whether its data still matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// The SHA-256 the footer states.
    pub sha256: String,
    /// The SHA-256 of the file's data as it is now.
    pub recomputed: String,
    pub chain_seq: i64,
    pub chain_hash: String,
}

/// The hash of a CSV report's data: SHA-256 of the bytes after the BOM up to the first footer
/// line — the header line and every data line, each with its `\n`.
pub fn data_digest(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Reads a CSV report: splits the data from the footer (the lines starting with `#`),
/// recomputes the data's hash and reads the footer's claims. Err: the reason in Spanish.
pub fn verify_text(text: &str) -> Result<Footer, String> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let at = if text.starts_with('#') {
        Some(0)
    } else {
        text.find("\n#").map(|i| i + 1)
    };
    let at = at.ok_or("el archivo no tiene pie de verificación (líneas que empiezan con #)")?;
    let (data, footer) = text.split_at(at);
    let field = |name: &str| {
        footer
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
            .map(str::trim)
    };
    let sha256 = field("sha256").ok_or("al pie le falta la línea «# sha256:»")?;
    let cadena =
        field("cadena_auditoria").ok_or("al pie le falta la línea «# cadena_auditoria:»")?;
    let mut seq = None;
    let mut hash = None;
    for part in cadena.split_whitespace() {
        if let Some(v) = part.strip_prefix("secuencia=") {
            seq = v.parse::<i64>().ok();
        } else if let Some(v) = part.strip_prefix("hash=") {
            hash = Some(v.to_string());
        }
    }
    let (Some(chain_seq), Some(chain_hash)) = (seq, hash) else {
        return Err("la línea «# cadena_auditoria:» no tiene secuencia y hash".into());
    };
    Ok(Footer {
        sha256: sha256.to_string(),
        recomputed: data_digest(data),
        chain_seq,
        chain_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_formula_safe_and_quoted() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("+54"), "'+54");
        assert_eq!(csv_cell("-3"), "'-3");
        assert_eq!(csv_cell("@x"), "'@x");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("di \"x\""), "\"di \"\"x\"\"\"");
        assert_eq!(csv_cell("a\nb"), "a b");
        assert_eq!(csv_cell("robo"), "robo");
    }

    #[test]
    fn bounds_are_local_days_or_instants() {
        let tz: Tz = "America/Argentina/Buenos_Aires".parse().unwrap();
        assert_eq!(
            bound(tz, "2026-12-20", false)
                .map(gad_core::time::rfc3339)
                .as_deref(),
            Some("2026-12-20T03:00:00.000Z")
        );
        assert_eq!(
            bound(tz, "2026-12-20", true)
                .map(gad_core::time::rfc3339)
                .as_deref(),
            Some("2026-12-21T03:00:00.000Z")
        );
        assert!(bound(tz, "2026-12-20T10:00:00Z", false).is_some());
        assert!(bound(tz, "20-12-2026", false).is_none());
        assert!(bound(tz, "2026-13-01", false).is_none());
    }

    #[test]
    fn the_footer_is_read_and_an_edit_changes_the_digest() {
        let data = "Tarea;X\n1;2\n";
        let sha = data_digest(data);
        let file = format!(
            "{BOM}{data}# generado: x\n# cadena_auditoria: secuencia=7 hash=ab\n# sha256: {sha}\n"
        );
        let f = verify_text(&file).unwrap();
        assert_eq!(f.sha256, f.recomputed);
        assert_eq!((f.chain_seq, f.chain_hash.as_str()), (7, "ab"));
        let edited = file.replace("1;2", "1;3");
        let f = verify_text(&edited).unwrap();
        assert_ne!(f.sha256, f.recomputed);
        assert!(verify_text("Tarea;X\n1;2\n").is_err());
    }
}
