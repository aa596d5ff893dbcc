-- Every task and emergency carries the smallest zone containing its location and the comisaría
-- whose jurisdiction it falls in. A trigger sets both in the statement that writes `geom`, so
-- every path that places a task (desk form, emergency dispatch, bot, imports) agrees without
-- repeating the rule, and the emergency hot path pays one GiST lookup on `zonas`.
ALTER TABLE tareas
    ADD COLUMN zona_id bigint CONSTRAINT tareas_zona_id_fkey REFERENCES zonas (id) ON DELETE SET NULL,
    ADD COLUMN comisaria_id bigint CONSTRAINT tareas_comisaria_id_fkey REFERENCES zonas (id) ON DELETE SET NULL;
CREATE INDEX tareas_zona_id ON tareas (zona_id) WHERE zona_id IS NOT NULL;
CREATE INDEX tareas_comisaria_id ON tareas (comisaria_id) WHERE comisaria_id IS NOT NULL;

CREATE FUNCTION tareas_set_zona() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.geom IS NULL THEN
        NEW.zona_id := NULL;
        NEW.comisaria_id := NULL;
        RETURN NEW;
    END IF;
    SELECT (array_agg(z.id ORDER BY z.area_m2, z.id))[1],
           (array_agg(z.id ORDER BY z.area_m2, z.id) FILTER (WHERE z.tipo = 'comisaria'))[1]
      INTO NEW.zona_id, NEW.comisaria_id
      FROM zonas z
     WHERE ST_Covers(z.geom, NEW.geom::geometry);
    RETURN NEW;
END
$$;

CREATE TRIGGER tareas_zona_insert BEFORE INSERT ON tareas
    FOR EACH ROW EXECUTE FUNCTION tareas_set_zona();
CREATE TRIGGER tareas_zona_update BEFORE UPDATE OF geom ON tareas
    FOR EACH ROW WHEN (NEW.geom IS DISTINCT FROM OLD.geom) EXECUTE FUNCTION tareas_set_zona();
