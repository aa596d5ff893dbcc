//! `gad zonas import FILE.geojson` and `gad zonas export [--out FILE]`: the GIS office's way in
//! and out of the jurisdictions layer (`gad_service::zonas`), as a GeoJSON FeatureCollection
//! with `nombre`, `tipo` and `padre` (the parent's name) on each feature.

use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ZonasCommand {
    /// Import zones from a FeatureCollection (properties nombre, tipo, padre), all or nothing.
    Import {
        /// The .geojson file.
        file: PathBuf,
        /// Only when no zone exists yet (the demo seed, on every start).
        #[arg(long)]
        si_vacio: bool,
    },
    /// Export every zone as a FeatureCollection, comisarías first.
    Export {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(ctx: &gad_service::Ctx, cmd: ZonasCommand) -> anyhow::Result<()> {
    match cmd {
        ZonasCommand::Import { file, si_vacio } => {
            if si_vacio && gad_store::zonas::count(&ctx.db).await? > 0 {
                println!("ya hay zonas: nada importado");
                return Ok(());
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let n = gad_service::zonas::import(ctx, &text)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{n} zonas importadas");
            Ok(())
        }
        ZonasCommand::Export { out } => {
            let text = gad_store::zonas::feature_collection(&ctx.db).await?;
            match out {
                Some(path) => std::fs::write(&path, text.as_bytes())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                None => println!("{text}"),
            }
            Ok(())
        }
    }
}
