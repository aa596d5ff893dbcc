-- The gazetteer holds public place and street names and their geometry, never a person: the
-- data map's reviewers mark these columns so they are not reported as unclassified.
COMMENT ON COLUMN lugares.nombre IS 'gdpr:no_personal (public place or street name)';
COMMENT ON COLUMN lugares.nombre_normalizado IS 'gdpr:no_personal (public place or street name)';
COMMENT ON COLUMN lugares.geom IS 'gdpr:no_personal (a street or a public place)';
COMMENT ON COLUMN lugares_nombres.nombre_normalizado IS 'gdpr:no_personal (public place or street name)';
