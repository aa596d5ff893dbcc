//! Map view (contract §8): located efectivos and open tasks within a radius of a point, nearest
//! first, computed in PostGIS.

use gad_core::geo::{Lat, Lng, RadiusM};
use gad_core::validate::Validate;
use gad_core::{Actor, EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad};
use gad_store::geo as store;
use serde::{Deserialize, Serialize};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::ServiceResult;

/// Upper bound of markers per kind in one answer (a 100 km radius over a dense seed would
/// otherwise return the whole table).
const MAX_MARKERS: i64 = 5000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MapQuery {
    pub center_lat: Lat,
    pub center_lng: Lng,
    /// Default 10 000 metres.
    pub radius_m: Option<RadiusM>,
    /// Only officers who could be dispatched now (available, fresh position, active user).
    pub disponibles: Option<bool>,
}

impl Validate for MapQuery {}

/// An officer on the map.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EfectivoEnMapa {
    pub lat: f64,
    pub lng: f64,
    /// The efectivo's uuid.
    pub entity_id: uuid::Uuid,
    pub efectivo_id: i64,
    /// Whole metres from the centre (spheroid).
    pub distance_m: i64,
    pub estado: Option<EstadoDisponibilidad>,
    pub nombre: String,
    pub unidad: Option<String>,
}

/// A task on the map.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TareaEnMapa {
    pub lat: f64,
    pub lng: f64,
    /// The task's uuid.
    pub entity_id: uuid::Uuid,
    pub task_id: i64,
    pub codigo: String,
    pub distance_m: i64,
    /// Prioridad label (baja, media, alta, urgente, critica).
    pub priority: Option<&'static str>,
    pub estado: Option<EstadoTarea>,
}

/// Markers around a point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MapView {
    pub usuarios: Vec<EfectivoEnMapa>,
    pub tareas: Vec<TareaEnMapa>,
}

/// The markers around the query's centre (level 2).
pub async fn map_view(ctx: &Ctx, me: &Actor, q: &MapQuery) -> ServiceResult<MapView> {
    require(me, Nivel::Supervisor)?;
    // The "available" view applies the dispatch rule itself, so it never shows an officer
    // that an emergency would not reach.
    let around = store::Around {
        lat: q.center_lat.get(),
        lng: q.center_lng.get(),
        radius_m: q.radius_m.unwrap_or(RadiusM::DEFAULT).get(),
        limit: MAX_MARKERS,
        only_available: q.disponibles.unwrap_or(false),
        max_position_age_minutes: ctx.config.dispatch_max_position_age_minutes,
        caller_id: me.id,
        duty: ctx.config.duty,
    };
    let (efectivos, tareas) = tokio::try_join!(
        store::efectivos_around(&ctx.db, &around),
        store::tareas_around(&ctx.db, &around)
    )?;
    let usuarios = efectivos
        .into_iter()
        .map(|e| EfectivoEnMapa {
            lat: e.lat,
            lng: e.lng,
            entity_id: e.uuid,
            efectivo_id: e.id,
            distance_m: e.distance_m.round() as i64,
            estado: EstadoDisponibilidad::from_db(&e.estado),
            nombre: e.nombre,
            unidad: e.unidad,
        })
        .collect();
    let tareas = tareas
        .into_iter()
        .map(|t| TareaEnMapa {
            lat: t.lat,
            lng: t.lng,
            entity_id: t.uuid,
            task_id: t.id,
            codigo: t.codigo,
            distance_m: t.distance_m.round() as i64,
            priority: Prioridad::from_db(&t.prioridad).map(|p| p.label()),
            estado: EstadoTarea::from_db(&t.estado),
        })
        .collect();
    Ok(MapView { usuarios, tareas })
}
