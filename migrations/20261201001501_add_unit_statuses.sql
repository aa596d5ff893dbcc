-- Issue 15: unit statuses as CAD systems have them. New values only (wire values kept):
-- en_camino (accepted, driving) and en_escena (arrived). Added in their own migration: a new
-- enum value cannot be used in the transaction that adds it.
ALTER TYPE estado_disponibilidad ADD VALUE IF NOT EXISTS 'EN_CAMINO';
ALTER TYPE estado_disponibilidad ADD VALUE IF NOT EXISTS 'EN_ESCENA';
