//! `gad gdpr data-map`: the data map from the schema, as JSON or as the Markdown
//! committed in docs/PRIVACY.md.

#[derive(clap::Subcommand)]
pub enum GdprCommand {
    /// Print the data map (JSON; --markdown: docs/PRIVACY.md, Spanish and English).
    DataMap {
        #[arg(long)]
        markdown: bool,
    },
}

pub async fn run(pool: &sqlx::PgPool, cmd: GdprCommand) -> anyhow::Result<()> {
    match cmd {
        GdprCommand::DataMap { markdown } => {
            let columns = gad_store::gdpr::schema_columns(pool).await?;
            let map = gad_service::gdpr::datamap::build(&columns, None);
            if markdown {
                print!("{}", gad_service::gdpr::datamap::markdown(&map));
            } else {
                println!("{}", serde_json::to_string_pretty(&map)?);
            }
            if !map.sin_clasificar.is_empty() || !map.clasificacion_invalida.is_empty() {
                anyhow::bail!(
                    "unclassified personal-looking columns: {:?}; invalid classifications: {:?}",
                    map.sin_clasificar,
                    map.clasificacion_invalida
                );
            }
            Ok(())
        }
    }
}
