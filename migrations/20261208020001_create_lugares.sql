-- Address search: the embedded gazetteer. Places and intersections are points; street segments
-- are lines with the house-number range they cover, so a number is interpolated along them.
-- `nombre_normalizado` (lower case, no accents, abbreviations spelled out) is written by the
-- importer in Rust, the same function that normalises a query, so both sides always agree.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE lugares (
    id bigserial PRIMARY KEY,
    nombre text NOT NULL CHECK (length(nombre) BETWEEN 1 AND 200),
    nombre_normalizado text NOT NULL CHECK (length(nombre_normalizado) BETWEEN 1 AND 200),
    tipo text NOT NULL CHECK (tipo IN ('lugar', 'calle', 'interseccion')),
    geom geography(Geometry, 4326) NOT NULL,
    altura_desde integer,
    altura_hasta integer,
    localidad text CHECK (localidad IS NULL OR length(localidad) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lugares_geom_tipo CHECK (
        ST_GeometryType(geom::geometry) = CASE WHEN tipo = 'calle' THEN 'ST_LineString' ELSE 'ST_Point' END
    ),
    -- A range is both ends or none; it may run against the line's direction.
    CONSTRAINT lugares_alturas CHECK (
        (altura_desde IS NULL) = (altura_hasta IS NULL)
        AND (altura_desde IS NULL OR (tipo = 'calle' AND altura_desde >= 0 AND altura_hasta >= 0))
    )
);

-- Each distinct name once, with whether a street bears it: the fuzzy search scores names here (a
-- narrow table, one row per name however many segments or places share it) and then fetches the
-- entries by equality. Written by the import together with `lugares`.
CREATE TABLE lugares_nombres (
    nombre_normalizado text PRIMARY KEY,
    es_calle boolean NOT NULL
);
CREATE INDEX lugares_nombres_trgm ON lugares_nombres USING gin (nombre_normalizado gin_trgm_ops);

CREATE INDEX lugares_nombre ON lugares (nombre_normalizado);
-- The reverse search: entries within a radius of a point.
CREATE INDEX lugares_geom ON lugares USING gist (geom);
