//! The data-subject rights as use cases: the export of everything held about a person (access
//! and portability), erasure by anonymisation, and the data map. Each checks the caller's level
//! itself and writes its audit row; the HTTP adapter only streams the bytes and closes sockets.

use bytes::Bytes;
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::gdpr as store;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Format, datamap, start_export};
use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

pub const USER_NOT_FOUND: &str = "The user with this id does not exist in the system";
pub const TOO_MANY_EXPORTS: &str =
    "Hay demasiadas exportaciones en curso; vuelva a intentarlo en unos segundos";
pub const ON_EMERGENCY: &str = "El efectivo está asignado a una emergencia abierta: no se puede anonimizar hasta que se cierre";

/// `json` (default) or `zip` (datos.json + one CSV per list).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Zip,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `zip`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

impl Validate for ExportQuery {}

impl ExportQuery {
    /// The format asked for (JSON unless `zip`).
    pub fn format(&self) -> Format {
        match self.format {
            Some(ExportFormat::Zip) => Format::Zip,
            _ => Format::Json,
        }
    }
}

/// The JSON export (documentation of the streamed document; `?format=zip` puts it in
/// `datos.json` next to one CSV per list).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GdprExport {
    /// "gad-export-v1".
    pub formato: String,
    pub generado_en: String,
    pub usuario_id: i64,
    pub perfil: store::PerfilExport,
    pub efectivo: Option<store::EfectivoExport>,
    pub ubicaciones: Vec<store::UbicacionExport>,
    pub tareas: Vec<store::TareaExport>,
    pub historial_estados: Vec<store::HistorialExport>,
    pub despachos: Vec<store::DespachoExport>,
    pub auditoria: Vec<store::AuditoriaExport>,
    pub tokens_revocados: Vec<store::TokenRevocadoExport>,
    pub telegram_codigos_vinculacion: Vec<store::CredencialExport>,
    pub tickets_ws: Vec<store::CredencialExport>,
    pub claves_idempotencia: Vec<store::IdempotenciaExport>,
}

/// Starts the export of everything held about `subject` and returns the document's bytes as a
/// stream. Anyone may export themselves; another person needs level 3. At most
/// `GDPR_EXPORT_CONCURRENCY` exports run at once (429 beyond); unknown person → 404. The audit
/// row is committed before the first byte is produced.
pub async fn export(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    subject: i64,
    format: Format,
) -> ServiceResult<impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static> {
    if subject != me.id {
        require(me, Nivel::Administrador)?;
    }
    let permit = ctx
        .gdpr_exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ServiceError::TooManyRequests(TOO_MANY_EXPORTS.into()))?;
    let fmt = match format {
        Format::Json => "json",
        Format::Zip => "zip",
    };
    let mut tx = ctx.db.begin().await?;
    if store::perfil(&mut *tx, subject).await?.is_none() {
        return Err(ServiceError::NotFound(USER_NOT_FOUND.into()));
    }
    audit::record(
        &mut *tx,
        &AuditEntry::new("gdpr_export", Some(me.id))
            .resource("usuario", subject)
            .describe("Exportación de datos personales (derecho de acceso y portabilidad)")
            .values(None, Some(json!({"formato": fmt, "usuario_id": subject})))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(start_export(ctx.clone(), subject, format, permit))
}

/// Why the person's data is erased.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EraseBody {
    /// Reason (1–500 characters), kept in the audit trail.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub motivo: String,
}

impl Validate for EraseBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "motivo", rules::trim(&self.motivo), 1, 500);
    }
}

/// What an erasure did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EraseResult {
    pub usuario_id: i64,
    /// "anonimizado" (now) or "ya_anonimizado" (an earlier request did it; nothing changed).
    pub estado: String,
    pub borrados: store::EraseCounts,
    /// WebSocket connections closed on this instance (others close theirs through Redis).
    pub sesiones_cerradas: usize,
}

/// 409 body: the open emergencies that block the erasure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EraseConflict {
    pub detail: String,
    pub tareas: Vec<i64>,
}

/// What an erasure did, before the adapter closes the person's live sessions.
#[derive(Debug)]
pub enum Erased {
    /// An earlier request anonymised the person; nothing changed.
    Already,
    /// Anonymised now: every live session of the person must be closed.
    Now(store::EraseCounts),
}

impl Erased {
    /// True when the person's live sessions must be closed (anonymised just now).
    pub fn ends_sessions(&self) -> bool {
        matches!(self, Erased::Now(_))
    }

    /// The answer, once the adapter has closed `sesiones_cerradas` sessions.
    pub fn result(self, usuario_id: i64, sesiones_cerradas: usize) -> EraseResult {
        let (estado, borrados) = match self {
            Erased::Already => ("ya_anonimizado", store::EraseCounts::default()),
            Erased::Now(counts) => ("anonimizado", counts),
        };
        EraseResult {
            usuario_id,
            estado: estado.into(),
            borrados,
            sesiones_cerradas,
        }
    }
}

/// Erases `user_id` by anonymisation (level 3), in one transaction with its audit row.
/// Idempotent: a second call changes nothing but is audited. Refused (409 with the tasks)
/// while the person is on an open emergency.
pub async fn erase(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    user_id: i64,
    body: &EraseBody,
) -> ServiceResult<Erased> {
    require(me, Nivel::Administrador)?;
    let motivo = body.motivo.trim().to_string();
    let mut tx = ctx.db.begin().await?;
    let target = store::lock_for_erase(&mut tx, user_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(USER_NOT_FOUND.into()))?;
    if target.anonimizado {
        audit::record(
            &mut *tx,
            &AuditEntry::new("gdpr_erase", Some(me.id))
                .resource("usuario", user_id)
                .describe("Supresión solicitada de nuevo: el usuario ya estaba anonimizado")
                .values(None, Some(json!({"motivo": motivo, "repetida": true})))
                .status(200)
                .context(origin),
        )
        .await?;
        tx.commit().await?;
        return Ok(Erased::Already);
    }
    let open = store::open_emergencies(&mut tx, user_id).await?;
    if !open.is_empty() {
        return Err(ServiceError::ConflictBody(
            json!({ "detail": ON_EMERGENCY, "tareas": open }),
        ));
    }
    let counts = store::anonymise(&mut tx, &target, &motivo, me.id).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("gdpr_erase", Some(me.id))
            .resource("usuario", user_id)
            .describe("Supresión por anonimización (derecho de supresión)")
            .values(
                None,
                Some(json!({"motivo": motivo, "borrados": counts, "usuario_uuid": target.uuid})),
            )
            .severity("warning")
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(Erased::Now(counts))
}

/// Which column holds which personal data, why, for how long, on what basis (level 3),
/// generated from the schema's column comments.
pub async fn data_map(ctx: &Ctx, me: &Actor) -> ServiceResult<datamap::DataMap> {
    require(me, Nivel::Administrador)?;
    let columns = store::schema_columns(&ctx.db).await?;
    Ok(datamap::build(&columns, Some(&ctx.config)))
}
