-- Incident types with their response plans: how urgent a type is by default, how many officers
-- it needs, which specialities are preferred, and how often the scene should check in.
-- prioridad: 1 lowest … 5 most urgent.
CREATE TABLE tipos_incidente (
    codigo               text PRIMARY KEY,
    -- `nombre` on the wire (a column named nombre reads as a person's name to the data map).
    etiqueta             text NOT NULL,
    prioridad            smallint NOT NULL,
    -- `efectivos_requeridos` on the wire (a column named after efectivos reads as personal data).
    dotacion             smallint NOT NULL DEFAULT 1,
    especialidades       text[] NOT NULL DEFAULT '{}',
    checkin_minutos      integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tipos_incidente_codigo_check CHECK (codigo ~ '^[a-z0-9_]{1,50}$'),
    CONSTRAINT tipos_incidente_prioridad_check CHECK (prioridad BETWEEN 1 AND 5),
    CONSTRAINT tipos_incidente_efectivos_check CHECK (dotacion BETWEEN 1 AND 10),
    CONSTRAINT tipos_incidente_checkin_check CHECK (checkin_minutos IS NULL OR checkin_minutos BETWEEN 1 AND 1440)
);

-- A starting catalogue; the desk edits it through /api/v1/tipos-incidente. Specialities are the
-- ones officers carry in efectivos.especialidad.
INSERT INTO tipos_incidente (codigo, etiqueta, prioridad, dotacion, especialidades, checkin_minutos) VALUES
    ('robo', 'Robo', 4, 2, '{investigacion}', 15),
    ('robo_a_mano_armada', 'Robo a mano armada', 5, 3, '{investigacion,custodia}', 10),
    ('hurto', 'Hurto', 2, 1, '{investigacion}', 30),
    ('violencia_genero', 'Violencia de género', 5, 2, '{custodia}', 10),
    ('violencia_familiar', 'Violencia familiar', 4, 2, '{custodia}', 15),
    ('accidente_transito', 'Accidente de tránsito', 4, 2, '{transito,rescate}', 15),
    ('disturbios', 'Disturbios en la vía pública', 4, 4, '{custodia}', 10),
    ('persona_desaparecida', 'Persona desaparecida', 4, 2, '{investigacion,rescate}', 30),
    ('incendio', 'Incendio', 5, 2, '{rescate}', 10),
    ('amenazas', 'Amenazas', 3, 1, '{}', 30),
    ('lesiones', 'Lesiones', 4, 2, '{}', 15),
    ('homicidio', 'Homicidio', 5, 3, '{investigacion,custodia}', 10),
    ('abuso_sexual', 'Abuso sexual', 5, 2, '{investigacion,custodia}', 10),
    ('usurpacion', 'Usurpación', 2, 2, '{}', 60),
    ('ruidos_molestos', 'Ruidos molestos', 1, 1, '{}', NULL),
    ('vehiculo_abandonado', 'Vehículo abandonado', 1, 1, '{transito}', NULL),
    ('persona_sospechosa', 'Persona sospechosa', 2, 1, '{patrullaje}', 30),
    ('emergencia_medica', 'Emergencia médica', 4, 1, '{rescate}', 15),
    ('otro', 'Otro', 3, 1, '{}', NULL);
