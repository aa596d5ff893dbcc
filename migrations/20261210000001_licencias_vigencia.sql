-- The instants a leave covers: from the start of `desde` to the end of `hasta` as calendar days
-- of ZONA_HORARIA, fixed when the leave is asked. Dispatch and shift cancellation compare
-- instants with it, so neither depends on the database session's time zone. Rows written before
-- this column read their days in UTC, as they were read until now.
ALTER TABLE licencias ADD COLUMN vigencia tstzrange;
UPDATE licencias SET vigencia = tstzrange(desde::timestamp AT TIME ZONE 'UTC',
                                          (hasta + 1)::timestamp AT TIME ZONE 'UTC');
ALTER TABLE licencias ALTER COLUMN vigencia SET NOT NULL;

COMMENT ON COLUMN licencias.vigencia IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
