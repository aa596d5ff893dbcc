-- Jurisdictions: comisarías, their patrol quadrants (cuadrantes) and other zones, as
-- multipolygons in WGS84. A cuadrante lies inside its comisaría (checked by the service, which
-- answers PostGIS's reason); only a comisaría can be a parent, and a comisaría has none, so the
-- tree is at most two levels deep and cannot loop.
CREATE TABLE zonas (
    id          bigserial PRIMARY KEY,
    nombre      text NOT NULL CHECK (length(nombre) BETWEEN 1 AND 200),
    tipo        text NOT NULL CHECK (tipo IN ('comisaria', 'cuadrante', 'otra')),
    padre_id    bigint CONSTRAINT zonas_padre_id_fkey REFERENCES zonas (id) ON DELETE RESTRICT,
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    -- "Smallest first" orders by this: computed once per write, not per lookup.
    area_m2     double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT zonas_padre_check CHECK (padre_id IS NULL OR (tipo <> 'comisaria' AND padre_id <> id))
);
CREATE INDEX zonas_geom_gist ON zonas USING gist (geom);
CREATE INDEX zonas_padre_id ON zonas (padre_id);

COMMENT ON COLUMN zonas.nombre IS 'gdpr:no_personal (the name of a jurisdiction)';
COMMENT ON COLUMN zonas.geom IS 'gdpr:no_personal (the outline of a jurisdiction)';
