-- Emergencies one user raised recently: the per-user hourly bound counts them on every SOS.
CREATE INDEX IF NOT EXISTS tareas_emergencias_caller_idx
    ON tareas (creado_por_usuario_id, created_at DESC) WHERE es_emergencia;
