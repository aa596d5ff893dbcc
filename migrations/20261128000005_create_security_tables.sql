CREATE TABLE audit_logs (
    id                 bigserial PRIMARY KEY,
    uuid               uuid NOT NULL DEFAULT gen_random_uuid(),
    event_type         text NOT NULL,
    severity           text NOT NULL DEFAULT 'info',
    user_id            bigint,
    ip_address         inet,
    user_agent         text,
    request_id         text,
    resource_type      text,
    resource_id        text,
    action_description text,
    old_values         jsonb,
    new_values         jsonb,
    success            boolean NOT NULL DEFAULT true,
    response_status    integer,
    retention_until    timestamptz NOT NULL DEFAULT (now() + interval '365 days'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_uuid_key UNIQUE (uuid)
);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, created_at DESC);
CREATE INDEX audit_logs_event_type_idx ON audit_logs (event_type, created_at DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);

CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    user_id    bigint,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- Deleting a user revokes every token issued before this instant (tokens carry `iat`).
ALTER TABLE usuarios ADD COLUMN tokens_valid_after timestamptz;

CREATE TABLE idempotency_keys (
    user_id         bigint NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE telegram_link_codes (
    code       text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES usuarios (id),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Short-lived single-use WebSocket tickets are shared by all instances through the database.
CREATE TABLE ws_tickets (
    ticket     text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES usuarios (id),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
