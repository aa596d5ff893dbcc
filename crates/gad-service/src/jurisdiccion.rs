//! Supervisors by jurisdiction: the comisarías a supervisor answers for (`usuario_zonas`).
//! A level-2 user with assignments sees their comisarías' tasks (and those outside every zone)
//! by default and receives only their alerts; without assignments, and at level 3, the whole
//! city. An emergency no assigned supervisor covers reaches every supervisor.

use gad_core::request_context::RequestContext;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::{usuarios, zonas as store};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

/// Most comisarías one supervisor can be assigned.
pub const MAX_ZONAS: usize = 100;

/// `PUT /users/{id}/zonas` body: the comisarías, replacing the previous set (empty: the whole
/// city).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserZonasBody {
    #[schema(max_items = 100)]
    pub zona_ids: Vec<i64>,
}

impl Validate for UserZonasBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.zona_ids.len() > MAX_ZONAS {
            errors.push(FieldError::body(
                "zona_ids",
                "too_long",
                format!("List should have at most {MAX_ZONAS} items"),
                json!(self.zona_ids.len()),
            ));
        }
    }
}

/// A user's comisarías.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserZonas {
    pub usuario_id: i64,
    pub zona_ids: Vec<i64>,
}

const USER_NOT_FOUND: &str = "User not found";

/// The comisarías that narrow what `me` sees by default: `Some` only for a level-2 user with
/// assignments who did not ask for the whole city.
pub async fn default_comisarias(
    ctx: &Ctx,
    me: &Actor,
    toda_la_ciudad: Option<bool>,
) -> ServiceResult<Option<Vec<i64>>> {
    if me.nivel != Nivel::Supervisor || toda_la_ciudad == Some(true) {
        return Ok(None);
    }
    let zones = store::of_user(&ctx.db, me.id).await?;
    Ok((!zones.is_empty()).then_some(zones))
}

/// A zone filter must name a zone: an unknown id would count nothing and read as "all quiet".
pub async fn known_zone(ctx: &Ctx, field: &str, id: i64) -> ServiceResult<()> {
    if store::get(&ctx.db, id).await?.is_none() {
        return Err(ServiceError::Validation(vec![FieldError::query(
            field,
            "value_error",
            "Zona inexistente",
            json!(id),
        )]));
    }
    Ok(())
}

/// The level-2 users who must not receive the alerts of an incident in `comisaria_id`: those
/// with assignments that leave it out. Empty when the incident is outside every zone or no
/// supervisor is assigned its comisaría, so every supervisor is alerted. A failed read also
/// answers empty: an emergency alert reaching too many is better than reaching nobody.
pub async fn supervisors_elsewhere(ctx: &Ctx, comisaria_id: Option<i64>) -> Vec<i64> {
    let Some(c) = comisaria_id else {
        return Vec::new();
    };
    match store::supervisors_elsewhere(&ctx.db, c).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "jurisdiction lookup failed: alerting every supervisor");
            Vec::new()
        }
    }
}

/// A user's comisarías: one's own (so the map can scope itself), anyone's at level 2+.
pub async fn get(ctx: &Ctx, me: &Actor, usuario_id: i64) -> ServiceResult<UserZonas> {
    if usuario_id != me.id {
        require(me, Nivel::Supervisor)?;
    }
    usuarios::by_id(&ctx.db, usuario_id, false)
        .await?
        .ok_or_else(|| ServiceError::NotFound(USER_NOT_FOUND.into()))?;
    Ok(UserZonas {
        usuario_id,
        zona_ids: store::of_user(&ctx.db, usuario_id).await?,
    })
}

/// Replaces a user's comisarías (level 3); an id that is not a comisaría → 422 at its index.
pub async fn set(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    usuario_id: i64,
    b: &UserZonasBody,
) -> ServiceResult<UserZonas> {
    require(me, Nivel::Administrador)?;
    let mut ids = b.zona_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = ctx.db.begin().await?;
    usuarios::by_id(&mut *tx, usuario_id, false)
        .await?
        .ok_or_else(|| ServiceError::NotFound(USER_NOT_FOUND.into()))?;
    let ok = store::comisarias_among(&mut *tx, &ids).await?;
    let bad: Vec<FieldError> = b
        .zona_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !ok.contains(id))
        .map(|(i, id)| {
            FieldError::at(
                "value_error",
                vec![json!("body"), json!("zona_ids"), json!(i)],
                "No es una comisaría",
                json!(id),
            )
        })
        .collect();
    if !bad.is_empty() {
        return Err(ServiceError::Validation(bad));
    }
    let old = store::of_user(&mut *tx, usuario_id).await?;
    store::set_user_zones(&mut tx, usuario_id, &ids).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("user_zones_updated", Some(me.id))
            .resource("usuario", usuario_id.to_string())
            .values(
                Some(json!({ "zona_ids": old })),
                Some(json!({ "zona_ids": ids })),
            )
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(UserZonas {
        usuario_id,
        zona_ids: ids,
    })
}
