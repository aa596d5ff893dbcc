-- Failed logins counted per device cookie (OWASP "device cookies"): a browser that once signed
-- in to an account carries a signed cookie naming it, and its failures lock that cookie only, so
-- an anonymous flood that locks the account for unknown clients cannot keep its owner out.
CREATE TABLE login_device_failures (
    device_id       uuid PRIMARY KEY,
    usuario_id      bigint NOT NULL REFERENCES usuarios (id),
    intentos        integer NOT NULL DEFAULT 0,
    bloqueado_hasta timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_device_failures_updated_at_idx ON login_device_failures (updated_at);
CREATE INDEX login_device_failures_usuario_idx ON login_device_failures (usuario_id);

COMMENT ON COLUMN login_device_failures.device_id IS 'gdpr:categoria=conexion;finalidad=seguridad;retencion=intentos_login';
COMMENT ON COLUMN login_device_failures.usuario_id IS 'gdpr:categoria=conexion;finalidad=seguridad;retencion=intentos_login';
COMMENT ON COLUMN login_device_failures.intentos IS 'gdpr:categoria=conexion;finalidad=seguridad;retencion=intentos_login';
COMMENT ON COLUMN login_device_failures.bloqueado_hasta IS 'gdpr:categoria=conexion;finalidad=seguridad;retencion=intentos_login';
