//! Cache administration (contract §11), level 3 only: figures, deleting a key or a pattern,
//! emptying the namespace. Works on Redis when it is up and on the in-process cache otherwise;
//! Redis trouble is never a failure. Each action leaves one audit row.

use gad_core::request_context::RequestContext;
use gad_core::{Actor, Nivel};
use gad_store::audit::{self, AuditEntry};

use crate::authorize::require;
use crate::cache::CacheStats;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::wire::Mensaje;

/// Backend, key count, hits, misses, hit rate, evictions and prefix.
pub async fn stats(ctx: &Ctx, me: &Actor) -> ServiceResult<CacheStats> {
    require(me, Nivel::Administrador)?;
    Ok(ctx.cache.stats().await)
}

/// Deletes one key (without the namespace prefix); 404 when it did not exist.
pub async fn invalidate(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    key: &str,
) -> ServiceResult<Mensaje> {
    require(me, Nivel::Administrador)?;
    if !ctx.cache.delete(key).await {
        return Err(ServiceError::NotFound(format!(
            "Key '{key}' no existía en el caché"
        )));
    }
    audited(ctx, me, origin, "cache_invalidated", key).await?;
    Ok(Mensaje {
        message: format!("Key '{key}' eliminada del caché"),
        deleted_count: None,
    })
}

/// Deletes the keys matching a glob pattern inside the namespace.
pub async fn invalidate_pattern(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    pattern: &str,
) -> ServiceResult<Mensaje> {
    require(me, Nivel::Administrador)?;
    let n = ctx.cache.delete_pattern(pattern).await;
    audited(ctx, me, origin, "cache_invalidated", pattern).await?;
    Ok(Mensaje {
        message: format!("Patrón '{pattern}' invalidado"),
        deleted_count: Some(n),
    })
}

/// Deletes every entry of the namespace.
pub async fn clear(ctx: &Ctx, me: &Actor, origin: &RequestContext) -> ServiceResult<Mensaje> {
    require(me, Nivel::Administrador)?;
    ctx.cache.clear().await;
    audited(ctx, me, origin, "cache_cleared", "*").await?;
    Ok(Mensaje {
        message: "Caché limpiado exitosamente".into(),
        deleted_count: None,
    })
}

/// One audit row per cache administration. The cache is not in the database, so the row is
/// written right after the action.
async fn audited(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    event: &str,
    target: &str,
) -> ServiceResult<()> {
    audit::record(
        &ctx.db,
        &AuditEntry::new(event, Some(me.id))
            .resource("cache", target)
            .status(200)
            .context(origin),
    )
    .await?;
    Ok(())
}
