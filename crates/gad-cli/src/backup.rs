//! `gad backup` / `gad restore`: compressed custom-format dumps (pg_dump -Fc) with a sha256 file
//! (`sha256sum -c` compatible) and a `.meta.json` (version, migrations, row counts, created_at).
//! Restore verifies the checksum and the archive's table of contents first; a full restore
//! (`--clean --if-exists`, one transaction) then compares the restored row counts with the meta.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Tables whose row counts go into the meta file and are compared after a restore.
pub const MAIN_TABLES: &[&str] = &[
    "usuarios",
    "efectivos",
    "efectivo_ubicaciones",
    "tareas",
    "tarea_efectivos",
    "historial_estados",
    "audit_logs",
    "revoked_tokens",
    "idempotency_keys",
];

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Directory for the dump, its .sha256 and .meta.json (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Database to dump (default: DATABASE_URL or POSTGRES_* from the environment).
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The .dump file written by `gad backup`.
    #[arg(long)]
    pub file: PathBuf,
    /// Only verify the checksum and the archive's table of contents; change nothing.
    #[arg(long)]
    pub verify_only: bool,
    /// Database to restore into (default: DATABASE_URL or POSTGRES_* from the environment).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Restore even when the target already holds data (it is replaced).
    #[arg(long)]
    pub force: bool,
}

/// The database URL from the flag, else the environment (DATABASE_URL or POSTGRES_*).
pub fn database_url(flag: Option<String>) -> anyhow::Result<String> {
    if let Some(u) = flag.filter(|u| !u.trim().is_empty()) {
        return Ok(u);
    }
    if let Ok(u) = std::env::var("DATABASE_URL")
        && !u.trim().is_empty()
    {
        return Ok(u);
    }
    // POSTGRES_* composition lives in Config; it also needs the other variables to be valid.
    let cfg = gad_api::Config::from_env().map_err(|e| anyhow::anyhow!(e))?;
    Ok(cfg.database_url)
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

async fn row_counts(
    conn: &mut sqlx::PgConnection,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut m = serde_json::Map::new();
    for t in MAIN_TABLES {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema='public' AND table_name=$1)",
        )
        .bind(t)
        .fetch_one(&mut *conn)
        .await?;
        if exists {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
                .fetch_one(&mut *conn)
                .await?;
            m.insert((*t).to_string(), json!(n));
        }
    }
    Ok(m)
}

async fn migrations(conn: &mut sqlx::PgConnection) -> Value {
    let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
        "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await;
    match rows {
        Ok(r) => json!({
            "applied": r.len(),
            "latest": r.last().map(|(v, _)| *v),
            "versions": r.iter().map(|(v, d)| json!({"version": v, "description": d})).collect::<Vec<_>>(),
        }),
        Err(_) => json!({"applied": 0, "latest": null, "versions": []}),
    }
}

async fn tool_version(tool: &str) -> String {
    match tokio::process::Command::new(tool)
        .arg("--version")
        .output()
        .await
    {
        Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Err(_) => "unknown".into(),
    }
}

/// Splits the password out of a connection URL: the tools get it through `PGPASSWORD`, so it
/// never appears on a command line (`ps` shows every user the arguments of every process).
fn split_password(url: &str) -> (String, Option<String>) {
    let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_string(), None);
    };
    if at < s {
        return (url.to_string(), None);
    }
    let creds = &url[s + 3..at];
    match creds.find(':') {
        Some(c) => {
            let pass = percent_decode(&creds[c + 1..]);
            (
                format!("{}{}{}", &url[..s + 3], &creds[..c], &url[at..]),
                Some(pass),
            )
        }
        None => (url.to_string(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Creates `path` empty with mode 0600 (the tool then writes into it, keeping the mode), so a
/// dump of every officer's data is never readable by other local users, not even mid-write.
fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    set_private(path)
}

fn set_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod 600 {}", path.display()))?;
    }
    Ok(())
}

async fn run_tool(tool: &str, args: &[&str], password: Option<&str>) -> anyhow::Result<String> {
    let mut cmd = tokio::process::Command::new(tool);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {tool} (install postgresql-client)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        bail!("{tool} failed ({}): {first}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// Writes `gad-<UTC stamp>.dump`, `.dump.sha256` and `.meta.json` into `out`; returns the dump path.
pub async fn backup(args: BackupArgs) -> anyhow::Result<PathBuf> {
    let url = database_url(args.database_url)?;
    let mut db = connect(&url).await?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let name = format!("gad-{stamp}.dump");
    let dump = args.out.join(&name);
    let partial = args.out.join(format!("{name}.partial"));
    // Row counts and the dump come from one snapshot, so the meta matches the dump exactly
    // even while the application writes.
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut db)
        .await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut db)
        .await?;
    let counts = row_counts(&mut db).await?;
    let migs = migrations(&mut db).await;
    let partial_s = partial.to_string_lossy().into_owned();
    create_private(&partial)?;
    let (dump_url, password) = split_password(&url);
    let r = run_tool(
        "pg_dump",
        &[
            "--format=custom",
            "--compress=6",
            "--no-owner",
            "--no-privileges",
            "--snapshot",
            &snapshot,
            "--file",
            &partial_s,
            "--dbname",
            &dump_url,
        ],
        password.as_deref(),
    )
    .await;
    let _ = sqlx::query("COMMIT").execute(&mut db).await;
    {
        use sqlx::Connection;
        let _ = db.close().await;
    }
    if let Err(e) = r {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &dump)?;
    let sum = sha256_file(&dump)?;
    let size = std::fs::metadata(&dump)?.len();
    let sha = args.out.join(format!("{name}.sha256"));
    create_private(&sha)?;
    std::fs::write(&sha, format!("{sum}  {name}\n"))?;
    let meta = json!({
        "file": name,
        "format": "pg_dump custom (-Fc), compressed",
        "size_bytes": size,
        "sha256": sum,
        "created_at": gad_core::time::now_rfc3339(),
        "gad_version": env!("CARGO_PKG_VERSION"),
        "pg_dump_version": tool_version("pg_dump").await,
        "database": redact(&url),
        "migrations": migs,
        "row_counts": counts,
    });
    create_private(&meta_path(&dump))?;
    std::fs::write(
        meta_path(&dump),
        serde_json::to_string_pretty(&meta)? + "\n",
    )?;
    Ok(dump)
}

/// Rows in the GAD tables that exist in the target (0 for an empty or schema-only database).
async fn existing_rows(db: &mut sqlx::PgConnection) -> anyhow::Result<i64> {
    let mut total = 0i64;
    for table in MAIN_TABLES {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{table}"))
            .fetch_one(&mut *db)
            .await?;
        if exists {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM public.{table} LIMIT 1) s"
            ))
            .fetch_one(&mut *db)
            .await?;
            total += n;
        }
    }
    Ok(total)
}

fn redact(url: &str) -> String {
    // postgres://user:pass@host/db → postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn meta_path(dump: &Path) -> PathBuf {
    dump.with_extension("meta.json")
}

fn sha_path(dump: &Path) -> PathBuf {
    let mut s = dump.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Checks the sha256 file and the archive's table of contents. Returns the number of TABLE DATA entries.
pub async fn verify(file: &Path) -> anyhow::Result<usize> {
    if !file.is_file() {
        bail!("{} does not exist", file.display());
    }
    let sp = sha_path(file);
    let expected = std::fs::read_to_string(&sp)
        .with_context(|| format!("reading checksum file {}", sp.display()))?;
    let expected = expected
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    let actual = sha256_file(file)?;
    if expected != actual {
        bail!(
            "checksum mismatch for {}: file has {actual}, {} says {expected}",
            file.display(),
            sp.display()
        );
    }
    let f = file.to_string_lossy().into_owned();
    let toc = run_tool("pg_restore", &["--list", &f], None).await?;
    let data = toc.lines().filter(|l| l.contains(" TABLE DATA ")).count();
    if data == 0 {
        bail!("archive lists no table data");
    }
    Ok(data)
}

/// Verifies, then (unless verify-only) restores into the database and compares row counts with the meta.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let entries = verify(&args.file).await?;
    println!(
        "verified {}: checksum ok, {entries} table data entries",
        args.file.display()
    );
    if args.verify_only {
        return Ok(());
    }
    let url = database_url(args.database_url)?;
    if !args.force {
        let mut db = connect(&url).await?;
        let rows = existing_rows(&mut db).await?;
        {
            use sqlx::Connection;
            let _ = db.close().await;
        }
        if rows > 0 {
            bail!(
                "{} already holds data ({rows} rows in GAD tables): restoring would replace it. \
                 Restore into an empty database, or pass --force to replace it",
                redact(&url)
            );
        }
    }
    let f = args.file.to_string_lossy().into_owned();
    let (restore_url, password) = split_password(&url);
    run_tool(
        "pg_restore",
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            &restore_url,
            &f,
        ],
        password.as_deref(),
    )
    .await?;
    let mut db = connect(&url).await?;
    let counts = row_counts(&mut db).await?;
    {
        use sqlx::Connection;
        let _ = db.close().await;
    }
    if let Ok(text) = std::fs::read_to_string(meta_path(&args.file)) {
        let meta: Value = serde_json::from_str(&text).context("parsing meta.json")?;
        if let Some(want) = meta["row_counts"].as_object() {
            let diff: Vec<String> = want
                .iter()
                .filter(|(t, n)| counts.get(*t) != Some(n))
                .map(|(t, n)| {
                    format!(
                        "{t}: meta {n}, restored {}",
                        counts.get(t).unwrap_or(&Value::Null)
                    )
                })
                .collect();
            if !diff.is_empty() {
                bail!(
                    "restored row counts differ from the backup: {}",
                    diff.join("; ")
                );
            }
        }
    }
    let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{t}={n}")).collect();
    println!("restored into {}: {}", redact(&url), summary.join(" "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn the_password_leaves_the_url_and_goes_to_the_environment() {
        let (url, pass) =
            split_password("postgres://gad:s%40cr%3At@db.example:5435/gad?sslmode=require");
        assert_eq!(url, "postgres://gad@db.example:5435/gad?sslmode=require");
        assert_eq!(pass.as_deref(), Some("s@cr:t"));
        let (url, pass) = split_password("postgres://postgres@127.0.0.1:5432/gad");
        assert_eq!(url, "postgres://postgres@127.0.0.1:5432/gad");
        assert_eq!(pass, None);
    }
}
