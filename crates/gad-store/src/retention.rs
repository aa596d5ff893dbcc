//! Retention purges: the SQL the maintenance job (`crate::jobs`) runs, one bounded
//! DELETE per call. Each picks at most `batch` rows with `FOR UPDATE SKIP LOCKED`, so a purge
//! never waits on a row a request is using and several instances can purge at once.

use sqlx::PgPool;

/// One purgeable table: its key and what makes a row expired. `$2` is the table's retention
/// period (hours or days, as the condition says).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub table: &'static str,
    pub key: &'static str,
    pub condition: &'static str,
}

pub const IDEMPOTENCY_KEYS: Rule = Rule {
    table: "idempotency_keys",
    key: "user_id, key",
    condition: "created_at < now() - make_interval(hours => $2::int)",
};

pub const REVOKED_TOKENS: Rule = Rule {
    table: "revoked_tokens",
    key: "jti",
    condition: "expires_at < now() - make_interval(hours => $2::int)",
};

pub const WS_TICKETS: Rule = Rule {
    table: "ws_tickets",
    key: "ticket",
    condition: "expires_at < now() - make_interval(hours => $2::int)",
};

pub const TOTP_CHALLENGES: Rule = Rule {
    table: "totp_challenges",
    key: "challenge_hash",
    condition: "expires_at < now() - make_interval(hours => $2::int)",
};

pub const TELEGRAM_LINK_CODES: Rule = Rule {
    table: "telegram_link_codes",
    key: "code",
    condition: "(expires_at < now() - make_interval(hours => $2::int)
                 OR used_at < now() - make_interval(hours => $2::int))",
};

pub const LOGIN_FAILURES: Rule = Rule {
    table: "login_failures",
    key: "email",
    condition: "updated_at < now() - make_interval(days => $2::int)
                AND (bloqueado_hasta IS NULL OR bloqueado_hasta < now())",
};

pub const LOGIN_DEVICE_FAILURES: Rule = Rule {
    table: "login_device_failures",
    key: "device_id",
    condition: "updated_at < now() - make_interval(days => $2::int)
                AND (bloqueado_hasta IS NULL OR bloqueado_hasta < now())",
};

/// Clears the caller (name, phone) of up to `batch` incidents ended — closed, or else finished,
/// cancelled or deleted — more than `days` days ago; the incident itself is kept.
pub async fn clear_denunciantes(db: &PgPool, days: i32, batch: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tareas SET denunciante_nombre = NULL, denunciante_telefono = NULL
         WHERE id IN (
            SELECT id FROM tareas
            WHERE (denunciante_nombre IS NOT NULL OR denunciante_telefono IS NOT NULL)
              AND COALESCE(cerrada_at, fin_real, deleted_at) < now() - make_interval(days => $2::int)
            LIMIT $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind(batch)
    .bind(days)
    .execute(db)
    .await?
    .rows_affected())
}

/// Deletes up to `batch` expired rows of `rule`'s table; returns how many.
pub async fn purge_batch(
    db: &PgPool,
    rule: &Rule,
    period: i32,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let Rule {
        table,
        key,
        condition,
    } = rule;
    let sql = format!(
        "DELETE FROM {table} WHERE ({key}) IN (
            SELECT {key} FROM {table} WHERE {condition} LIMIT $1 FOR UPDATE SKIP LOCKED)"
    );
    Ok(sqlx::query(&sql)
        .bind(batch)
        .bind(period)
        .execute(db)
        .await?
        .rows_affected())
}
