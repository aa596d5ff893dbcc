//! The gazetteer (`lugares`): fuzzy name search over the trigram index, house numbers
//! interpolated along street segments, intersections of two streets, the nearest entry to a
//! point, and the batched import. Names arrive already normalised (`gad_core::lugares`).
//!
//! A name's score is the mean of `similarity` (the whole names look alike: "Corientes" ~
//! "Corrientes") and `word_similarity` (the query is a part of the name: "Clínicas" in
//! "Hospital de Clínicas"), so an exact name ranks first and a partial one still matches; the
//! index answers both operators (`%`, `<%`) at their default thresholds (0.3 and 0.6). Names are
//! scored in `lugares_nombres` (each distinct name once, a narrow row), and only the best few are
//! then fetched from `lugares` by equality: with 200 000 entries sharing common words ("Centro de
//! Salud N° …") this scores four times fewer, much smaller rows than scoring `lugares` itself.

use crate::Tx;

/// One answer of a search: what to show and where it is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hallado {
    pub nombre: String,
    pub tipo: String,
    pub lat: f64,
    pub lng: f64,
    pub score: f64,
}

/// The score of the normalised name column against the query in parameter `$p`.
fn score(p: usize) -> String {
    format!(
        "((similarity(nombre_normalizado, ${p}) + word_similarity(${p}, nombre_normalizado)) / 2)::float8"
    )
}

/// The predicate the trigram index answers for the query in parameter `$p`.
fn matches(p: usize) -> String {
    format!("(nombre_normalizado % ${p} OR ${p} <% nombre_normalizado)")
}

/// Best names whose entries are fetched for a name search.
const CANDIDATES: i64 = 20;

/// Street names (normalised) considered per side of an address or intersection.
const STREET_NAMES: i64 = 3;

/// Entries whose name looks like `q`, best first; a street (many segments) appears once, at the
/// middle of one of its segments.
pub async fn por_nombre(
    db: &sqlx::PgPool,
    q: &str,
    limit: i64,
) -> Result<Vec<Hallado>, sqlx::Error> {
    let (score, matches) = (score(1), matches(1));
    let sql = format!(
        "WITH best AS (
            SELECT nombre_normalizado, {score} AS score FROM lugares_nombres WHERE {matches}
            ORDER BY score DESC, nombre_normalizado LIMIT {CANDIDATES}
         ), d AS (
            SELECT DISTINCT ON (l.nombre_normalizado, l.tipo, l.localidad)
                   l.id, l.nombre, l.tipo, l.geom, b.score
            FROM best b JOIN lugares l ON l.nombre_normalizado = b.nombre_normalizado
            ORDER BY l.nombre_normalizado, l.tipo, l.localidad, l.id
         )
         SELECT nombre, tipo, ST_Y(p) AS lat, ST_X(p) AS lng, score
         FROM d CROSS JOIN LATERAL (SELECT CASE WHEN tipo = 'calle'
                THEN ST_LineInterpolatePoint(geom::geometry, 0.5) ELSE geom::geometry END AS p) x
         ORDER BY score DESC, nombre, id LIMIT $2"
    );
    sqlx::query_as(&sql).bind(q).bind(limit).fetch_all(db).await
}

/// The best street names for `$p` (a CTE body): `nombre_normalizado`, `s`.
fn street_names(p: usize) -> String {
    let (score, matches) = (score(p), matches(p));
    format!(
        "SELECT nombre_normalizado, {score} AS s FROM lugares_nombres
         WHERE es_calle AND {matches}
         ORDER BY s DESC, nombre_normalizado LIMIT {STREET_NAMES}"
    )
}

/// `calle` + `altura`: the point at that house number on each best-matching street whose
/// segment covers it, interpolated along the segment; named "<street> <number>".
pub async fn por_direccion(
    db: &sqlx::PgPool,
    calle: &str,
    altura: i32,
    limit: i64,
) -> Result<Vec<Hallado>, sqlx::Error> {
    let names = street_names(1);
    let sql = format!(
        "WITH n AS ({names})
         SELECT l.nombre || ' ' || $2::int4 AS nombre, 'direccion' AS tipo,
                ST_Y(p) AS lat, ST_X(p) AS lng, n.s AS score
         FROM n JOIN lugares l ON l.tipo = 'calle' AND l.nombre_normalizado = n.nombre_normalizado
              AND $2::int4 BETWEEN least(l.altura_desde, l.altura_hasta)
                               AND greatest(l.altura_desde, l.altura_hasta)
         CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(l.geom::geometry,
                CASE WHEN l.altura_hasta = l.altura_desde THEN 0.5
                     ELSE ($2::int4 - l.altura_desde)::float8 / (l.altura_hasta - l.altura_desde) END) AS p) x
         ORDER BY n.s DESC, l.id LIMIT $3"
    );
    sqlx::query_as(&sql)
        .bind(calle)
        .bind(altura)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Where the best streets for `a` and for `b` cross: "<A> y <B>", one row per crossing point
/// (neighbouring segments that meet at the crossing give the same point: the caller drops
/// repeats).
pub async fn por_interseccion(
    db: &sqlx::PgPool,
    a: &str,
    b: &str,
    limit: i64,
) -> Result<Vec<Hallado>, sqlx::Error> {
    let (na, nb) = (street_names(1), street_names(2));
    let sql = format!(
        "WITH a AS ({na}), b AS ({nb})
         SELECT la.nombre || ' y ' || lb.nombre AS nombre, 'interseccion' AS tipo,
                ST_Y(p) AS lat, ST_X(p) AS lng, (a.s + b.s) / 2 AS score
         FROM a JOIN lugares la ON la.tipo = 'calle' AND la.nombre_normalizado = a.nombre_normalizado
         JOIN b ON b.nombre_normalizado <> a.nombre_normalizado
         JOIN lugares lb ON lb.tipo = 'calle' AND lb.nombre_normalizado = b.nombre_normalizado
              AND la.geom && lb.geom
              AND ST_Intersects(la.geom::geometry, lb.geom::geometry)
         CROSS JOIN LATERAL (SELECT ST_PointOnSurface(
                ST_Intersection(la.geom::geometry, lb.geom::geometry)) AS p) x
         ORDER BY score DESC, la.id, lb.id LIMIT $3"
    );
    sqlx::query_as(&sql)
        .bind(a)
        .bind(b)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// An entry near a point: for a street, the closest point on it and the house number there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Cercano {
    pub nombre: String,
    pub tipo: String,
    pub lat: f64,
    pub lng: f64,
    pub distancia_m: f64,
    /// For a street segment with a range: the number interpolated at the closest point.
    pub altura: Option<i32>,
}

/// Entries within `radius_m` of the point, nearest first (at most `limit`). The radius bounds
/// the candidates through the GiST index, which are then sorted by their exact distance.
pub async fn cercanos(
    db: &sqlx::PgPool,
    lat: f64,
    lng: f64,
    radius_m: f64,
    limit: i64,
) -> Result<Vec<Cercano>, sqlx::Error> {
    let pt = crate::efectivos::point_sql(1, 2);
    let sql = format!(
        "SELECT nombre, tipo, ST_Y(p) AS lat, ST_X(p) AS lng, ST_Distance(p::geography, {pt}) AS distancia_m,
                CASE WHEN altura_desde IS NOT NULL
                     THEN round(altura_desde + f.frac * (altura_hasta - altura_desde))::int4 END AS altura
         FROM (SELECT id, nombre, tipo, geom, altura_desde, altura_hasta FROM lugares
               WHERE ST_DWithin(geom, {pt}, $3)
               ORDER BY ST_Distance(geom, {pt}), id LIMIT $4) c
         CROSS JOIN LATERAL (SELECT CASE WHEN tipo = 'calle'
                THEN ST_LineLocatePoint(geom::geometry, {pt}::geometry) END AS frac) f
         CROSS JOIN LATERAL (SELECT CASE WHEN tipo = 'calle'
                THEN ST_LineInterpolatePoint(geom::geometry, f.frac) ELSE geom::geometry END AS p) x
         ORDER BY distancia_m, c.id"
    );
    sqlx::query_as(&sql)
        .bind(lng)
        .bind(lat)
        .bind(radius_m)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// An entry to import: its geometry as WKT in WGS 84 (`POINT(lng lat)`, `LINESTRING(…)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Nuevo {
    pub nombre: String,
    pub nombre_normalizado: String,
    pub tipo: String,
    pub wkt: String,
    pub altura_desde: Option<i32>,
    pub altura_hasta: Option<i32>,
    pub localidad: Option<String>,
}

/// Inserts the entries and their names (the caller batches and holds the transaction).
pub async fn insertar(tx: &mut Tx<'_>, filas: &[Nuevo]) -> Result<u64, sqlx::Error> {
    let col = |f: fn(&Nuevo) -> String| filas.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO lugares_nombres (nombre_normalizado, es_calle)
         SELECT nn, bool_or(t = 'calle') FROM UNNEST($1::text[], $2::text[]) AS u(nn, t) GROUP BY nn
         ON CONFLICT (nombre_normalizado)
         DO UPDATE SET es_calle = lugares_nombres.es_calle OR EXCLUDED.es_calle",
    )
    .bind(col(|f| f.nombre_normalizado.clone()))
    .bind(col(|f| f.tipo.clone()))
    .execute(&mut **tx)
    .await?;
    let r = sqlx::query(
        "INSERT INTO lugares (nombre, nombre_normalizado, tipo, geom, altura_desde, altura_hasta, localidad)
         SELECT n, nn, t, ST_GeogFromText('SRID=4326;' || w), d, h, l
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::text[])
              AS u(n, nn, t, w, d, h, l)",
    )
    .bind(col(|f| f.nombre.clone()))
    .bind(col(|f| f.nombre_normalizado.clone()))
    .bind(col(|f| f.tipo.clone()))
    .bind(col(|f| f.wkt.clone()))
    .bind(filas.iter().map(|f| f.altura_desde).collect::<Vec<_>>())
    .bind(filas.iter().map(|f| f.altura_hasta).collect::<Vec<_>>())
    .bind(filas.iter().map(|f| f.localidad.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Empties the gazetteer (inside the import's transaction).
pub async fn vaciar(tx: &mut Tx<'_>) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM lugares_nombres")
        .execute(&mut **tx)
        .await?;
    Ok(sqlx::query("DELETE FROM lugares")
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Entries in the gazetteer.
pub async fn contar(db: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM lugares")
        .fetch_one(db)
        .await
}
