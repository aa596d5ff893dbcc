-- Failed logins for e-mails that match no account, counted like an account's so that a 423
-- after five failures does not reveal which e-mails exist (issue 13).
CREATE TABLE login_failures (
    email           text PRIMARY KEY,
    intentos        integer NOT NULL DEFAULT 0,
    bloqueado_hasta timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_updated_at_idx ON login_failures (updated_at);
