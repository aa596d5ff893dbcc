//! `gad audit verify` and `gad audit export`, on the owner's connection.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use gad_service::audit::Keyring;
use gad_service::personal_keys::MasterKey;
use gad_store::audit::{self, AuditExportRow};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first altered or missing row.
    Verify,
    /// Write the audit rows created in [--desde, --hasta] as CSV or JSON (oldest first).
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// From (RFC 3339, or YYYY-MM-DD = that day 00:00 UTC).
    #[arg(long)]
    pub desde: Option<String>,
    /// Until (RFC 3339, or YYYY-MM-DD = that whole day, UTC).
    #[arg(long)]
    pub hasta: Option<String>,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// File to write (default: standard output).
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
}

/// Parses a bound; `end` makes a bare date cover the whole day.
pub fn parse_bound(s: &str, end: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("'{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let t = if end {
        d.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    t.map(|t| t.and_utc())
        .ok_or_else(|| anyhow::anyhow!("invalid date '{s}'"))
}

pub async fn run(pool: &sqlx::PgPool, master: &MasterKey, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify => {
            let mut conn = pool.acquire().await?;
            let report = audit::verify(&mut conn).await?;
            match report.problem {
                None => {
                    println!(
                        "audit chain ok: {} rows verified (chain_seq {}..={})",
                        report.rows, report.first_seq, report.head_seq
                    );
                    Ok(())
                }
                Some(p) => Err(anyhow::anyhow!(
                    "audit chain broken: {p} ({} rows verified before it)",
                    report.rows.saturating_sub(1)
                )),
            }
        }
        AuditCommand::Export(args) => export(pool, master, args).await,
    }
}

/// Writes the rows with the personal values opened (with the server's master secret in the
/// environment), or "[borrado]" for people erased since.
async fn export(pool: &sqlx::PgPool, master: &MasterKey, args: ExportArgs) -> anyhow::Result<()> {
    let desde = args
        .desde
        .as_deref()
        .map(|s| parse_bound(s, false))
        .transpose()?;
    let hasta = args
        .hasta
        .as_deref()
        .map(|s| parse_bound(s, true))
        .transpose()?;
    if let (Some(d), Some(h)) = (desde, hasta)
        && d > h
    {
        anyhow::bail!("--hasta is earlier than --desde");
    }
    let json = match args.format.as_str() {
        "json" => true,
        "csv" => false,
        other => anyhow::bail!("--format must be csv or json (got '{other}')"),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut conn = pool.acquire().await?;
    let mut keys_conn = pool.acquire().await?;
    let mut ring = Keyring::new();
    let mut rows = audit::export_range(&mut conn, desde, hasta);
    let header: Vec<String> = match serde_json::to_value(AuditExportRow::default())? {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut n = 0u64;
    let mut line = String::new();
    if json {
        out.write_all(b"[")?;
    } else {
        gad_service::gdpr::csv_line(
            &mut line,
            header.iter().map(|h| serde_json::Value::String(h.clone())),
        );
        out.write_all(line.as_bytes())?;
    }
    while let Some(mut row) = rows.try_next().await? {
        let ids = gad_service::audit::persons([&row.old_values, &row.new_values]);
        ring.ensure(master, &mut keys_conn, &ids).await?;
        ring.reveal(&mut row.old_values);
        ring.reveal(&mut row.new_values);
        if json {
            if n > 0 {
                out.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut out, &row)?;
        } else {
            let serde_json::Value::Object(mut m) = serde_json::to_value(&row)? else {
                continue;
            };
            line.clear();
            gad_service::gdpr::csv_line(
                &mut line,
                header
                    .iter()
                    .map(|h| m.remove(h).unwrap_or(serde_json::Value::Null)),
            );
            out.write_all(line.as_bytes())?;
        }
        n += 1;
    }
    if json {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    eprintln!("audit export: {n} rows");
    Ok(())
}
