//! `gad lugares import FILE`: loads the address-search gazetteer from a GeoJSON
//! FeatureCollection or a CSV (`gad_service::lugares::import`), reporting what was imported and
//! every row refused with its feature index or line number.

use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum LugaresCommand {
    /// Import places and street segments (GeoJSON FeatureCollection, or CSV nombre,tipo,lat,lng).
    Import {
        /// The file: .geojson/.json (Points: places and intersections; LineStrings: street
        /// segments with altura_desde/altura_hasta) or .csv.
        file: PathBuf,
        /// Empty the gazetteer first (in the same transaction as the import).
        #[arg(long)]
        reemplazar: bool,
    },
}

/// Refusals printed one per line before the rest are only counted.
const SHOWN_REFUSALS: usize = 50;

pub async fn run(ctx: &gad_service::Ctx, cmd: LugaresCommand) -> anyhow::Result<()> {
    match cmd {
        LugaresCommand::Import { file, reemplazar } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let name = file.to_string_lossy();
            let read = gad_service::lugares::import::leer_archivo(&name, &text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for r in read.rechazos.iter().take(SHOWN_REFUSALS) {
                eprintln!("rechazado: {r}");
            }
            if read.rechazos.len() > SHOWN_REFUSALS {
                eprintln!(
                    "rechazado: … y {} más",
                    read.rechazos.len() - SHOWN_REFUSALS
                );
            }
            if read.filas.is_empty() && !read.rechazos.is_empty() {
                anyhow::bail!(
                    "{}: ninguna fila válida ({} rechazadas)",
                    file.display(),
                    read.rechazos.len()
                );
            }
            let done = gad_service::lugares::importar(ctx, &read.filas, reemplazar)
                .await
                .map_err(|e| anyhow::anyhow!("import: {e}"))?;
            let total = gad_store::lugares::contar(&ctx.db).await?;
            println!(
                "lugares: {} importados, {} rechazados, {} borrados antes; {total} en total",
                done.insertados,
                read.rechazos.len(),
                done.borrados
            );
            Ok(())
        }
    }
}
