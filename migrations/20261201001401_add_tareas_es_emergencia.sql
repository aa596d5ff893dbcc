-- "Is this task an emergency?" becomes a column (issue 14) instead of a LIKE on the code
-- pattern repeated in four places. Set by the emergency dispatch statement only.
ALTER TABLE tareas ADD COLUMN es_emergencia boolean NOT NULL DEFAULT false;
UPDATE tareas SET es_emergencia = true WHERE codigo LIKE 'EMG-%';
-- The overview and the socket snapshot count live emergencies of the last 24 h.
CREATE INDEX tareas_emergencias_idx ON tareas (created_at DESC) WHERE es_emergencia AND deleted_at IS NULL;
