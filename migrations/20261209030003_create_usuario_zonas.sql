-- The comisarías a supervisor answers for: their lists and map default to these zones and
-- they receive only these zones' alerts. No rows: the whole city.
CREATE TABLE usuario_zonas (
    usuario_id  bigint NOT NULL REFERENCES usuarios (id) ON DELETE CASCADE,
    zona_id     bigint NOT NULL CONSTRAINT usuario_zonas_zona_id_fkey REFERENCES zonas (id) ON DELETE RESTRICT,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (usuario_id, zona_id)
);
CREATE INDEX usuario_zonas_zona_id ON usuario_zonas (zona_id);

-- Which jurisdiction a supervisor works in: employment data, kept while the account exists.
COMMENT ON COLUMN usuario_zonas.usuario_id IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
