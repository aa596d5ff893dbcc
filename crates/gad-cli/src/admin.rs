//! `gad create-admin`.

use anyhow::{Context, bail};

pub async fn create_admin(
    pool: &sqlx::PgPool,
    email: &str,
    password: &str,
    nombre: &str,
    apellido: &str,
    dni: Option<&str>,
) -> anyhow::Result<i64> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        bail!("--password must be 8 to 128 characters");
    }
    if !email.contains('@') {
        bail!("--email is not a valid e-mail address");
    }
    let hash = gad_api::auth::password::hash_blocking(password).map_err(|e| anyhow::anyhow!(e))?;
    let dni = dni
        .map(str::to_string)
        .unwrap_or_else(|| format!("ADM-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
         VALUES (lower($1), $2, $3, $4, 'LEVEL_3', $5, true)
         ON CONFLICT ((lower(email))) DO UPDATE SET
            nivel = 'LEVEL_3', hashed_password = EXCLUDED.hashed_password, verificado = true,
            deleted_at = NULL, intentos_fallidos = 0, bloqueado_hasta = NULL
         RETURNING id",
    )
    .bind(email)
    .bind(&dni)
    .bind(nombre)
    .bind(apellido)
    .bind(&hash)
    .fetch_one(pool)
    .await
    .context("creating admin")?;
    Ok(id)
}
