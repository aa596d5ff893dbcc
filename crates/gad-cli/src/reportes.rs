//! `gad reportes verificar FILE`: checks a CSV report against itself and the audit trail — the
//! SHA-256 of its header and data lines equals its footer's, an audit entry
//! `report_generated` carries that hash, and the audit chain head named in the footer is in
//! the chain with that hash. An edited report fails, naming why.

use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ReportesCommand {
    /// Verify a CSV report (its footer, its data and the audit trail).
    Verificar {
        /// The report file (.csv).
        file: PathBuf,
    },
}

pub async fn run(pool: &sqlx::PgPool, cmd: ReportesCommand) -> anyhow::Result<()> {
    match cmd {
        ReportesCommand::Verificar { file } => {
            let bytes =
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!(
                    "{}: no es texto UTF-8 (la verificación es solo para reportes CSV)",
                    file.display()
                )
            })?;
            let f = gad_service::reportes::verify_text(&text)
                .map_err(|e| anyhow::anyhow!("{}: no verificado: {e}", file.display()))?;
            if f.recomputed != f.sha256 {
                anyhow::bail!(
                    "{}: no verificado: los datos fueron modificados (sha256 de los datos {}, el pie dice {})",
                    file.display(),
                    f.recomputed,
                    f.sha256
                );
            }
            if !gad_store::reportes::generated_with_hash(pool, &f.sha256).await? {
                anyhow::bail!(
                    "{}: no verificado: ninguna entrada de auditoría report_generated tiene el hash {}",
                    file.display(),
                    f.sha256
                );
            }
            let stored = if f.chain_seq == 0 {
                Some(gad_store::audit::GENESIS.to_string())
            } else {
                gad_store::audit::row_hash_at(pool, f.chain_seq)
                    .await?
                    .map(|(_, h)| h)
            };
            match stored {
                Some(h) if h == f.chain_hash => {}
                Some(h) => anyhow::bail!(
                    "{}: no verificado: la cadena de auditoría en la secuencia {} tiene el hash {h}, el pie dice {}",
                    file.display(),
                    f.chain_seq,
                    f.chain_hash
                ),
                None => anyhow::bail!(
                    "{}: no verificado: la secuencia {} de la cadena de auditoría no existe (¿purgada por retención?)",
                    file.display(),
                    f.chain_seq
                ),
            }
            println!(
                "{}: verificado (sha256 {}, cadena de auditoría en la secuencia {})",
                file.display(),
                f.sha256,
                f.chain_seq
            );
            Ok(())
        }
    }
}
