-- PostGIS answers every distance question; pgcrypto-free gen_random_uuid() is core since PG13.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TYPE nivel_usuario AS ENUM ('LEVEL_1', 'LEVEL_2', 'LEVEL_3');
CREATE TYPE estado_tarea AS ENUM ('PROGRAMMED', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'CANCELLED');
CREATE TYPE prioridad_tarea AS ENUM ('LOW', 'MEDIUM', 'HIGH', 'URGENT', 'CRITICAL');
CREATE TYPE tipo_tarea AS ENUM ('PATRULLAJE', 'INVESTIGACION', 'VIGILANCIA', 'INTERVENCION', 'ADMINISTRATIVA', 'ENTRENAMIENTO');
CREATE TYPE estado_disponibilidad AS ENUM ('DISPONIBLE', 'EN_TAREA', 'FUERA_SERVICIO', 'NO_DISPONIBLE');

-- One trigger function keeps updated_at honest for every table that has it.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
