//! `gad seed`: demo data around a centre (default Buenos Aires). Rows are generated inside
//! PostgreSQL with generate_series in batches, so 100 000 efectivos take seconds, not minutes.
//! Idempotent: natural keys (e-mails, codes) are kept on a second run.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

pub const ADMIN_EMAIL: &str = "admin@gad.local";
pub const ADMIN_PASSWORD: &str = "GadAdmin2026!";
pub const SUPERVISOR_PASSWORD: &str = "Supervisor2026!";
pub const EFECTIVO_PASSWORD: &str = "Efectivo2026!";

#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {
    /// Supervisors (level 2) besides the admin.
    #[arg(long, default_value_t = 10)]
    pub usuarios: i64,
    /// Officers: each is a level-1 usuario with an efectivo record and a location.
    #[arg(long, default_value_t = 200)]
    pub efectivos: i64,
    /// Tasks, spread over every state.
    #[arg(long, default_value_t = 500)]
    pub tareas: i64,
    /// Centre of the generated locations, "LAT,LNG".
    #[arg(long, default_value = "-34.60,-58.38", allow_hyphen_values = true)]
    pub center: String,
    /// Radius (km) around the centre.
    #[arg(long, default_value_t = 15.0)]
    pub spread_km: f64,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

const BATCH: i64 = 10_000;

fn bar(len: u64, msg: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg);
    pb
}

/// The passwords the seeded accounts get: the published demo ones only in development; in
/// staging and production fresh random ones, printed once (a published password on a
/// reachable server is an open door).
struct Passwords {
    admin: String,
    supervisor: String,
    efectivo: String,
    generated: bool,
}

fn passwords(development: bool) -> Passwords {
    if development {
        return Passwords {
            admin: ADMIN_PASSWORD.into(),
            supervisor: SUPERVISOR_PASSWORD.into(),
            efectivo: EFECTIVO_PASSWORD.into(),
            generated: false,
        };
    }
    let random = || {
        use rand::Rng;
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
        let mut rng = rand::thread_rng();
        let s: String = (0..20)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        format!("{s}-9!")
    };
    Passwords {
        admin: random(),
        supervisor: random(),
        efectivo: random(),
        generated: true,
    }
}

pub async fn run(pool: &PgPool, args: &SeedArgs, development: bool) -> anyhow::Result<()> {
    let (lat, lng) = parse_center(&args.center)?;
    let started = std::time::Instant::now();
    let pw = passwords(development);
    let admin_hash = hash(&pw.admin)?;
    let sup_hash = hash(&pw.supervisor)?;
    let ef_hash = hash(&pw.efectivo)?;

    sqlx::query(
        "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
         VALUES ($1, 'DEMO-ADMIN', 'Ana', 'Administradora', 'LEVEL_3', $2, true)
         ON CONFLICT ((lower(email))) DO NOTHING",
    )
    .bind(ADMIN_EMAIL)
    .bind(&admin_hash)
    .execute(pool)
    .await
    .context("seeding admin")?;

    sqlx::query(
        "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
         SELECT 'supervisor' || g || '@gad.local', 'DEMO-S' || g, 'Supervisor', 'Demo ' || g, 'LEVEL_2', $2, true
         FROM generate_series(1, $1::bigint) g
         ON CONFLICT DO NOTHING",
    )
    .bind(args.usuarios)
    .bind(&sup_hash)
    .execute(pool)
    .await
    .context("seeding supervisors")?;

    let pb = bar(args.efectivos as u64, "efectivos", args.quiet);
    let deg = args.spread_km / 111.0;
    let mut from = 1;
    while from <= args.efectivos {
        let to = (from + BATCH - 1).min(args.efectivos);
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
             SELECT 'efectivo' || g || '@gad.local', 'DEMO-E' || g,
                    (ARRAY['Juan','María','Carlos','Lucía','Diego','Sofía','Martín','Valentina'])[1 + g % 8],
                    (ARRAY['Gómez','Fernández','López','Díaz','Martínez','Pérez','Romero','Sosa'])[1 + (g / 8) % 8],
                    'LEVEL_1', $3, true
             FROM generate_series($1::bigint, $2::bigint) g
             ON CONFLICT DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .bind(&ef_hash)
        .execute(&mut *tx)
        .await
        .context("seeding officer users")?;
        sqlx::query(
            "INSERT INTO efectivos (usuario_id, codigo_interno, rango, unidad, especialidad,
                                    estado_disponibilidad, geom, ubicacion_accuracy_m, ubicacion_updated_at)
             SELECT u.id, 'EF-' || lpad(g::text, 6, '0'),
                    (ARRAY['Agente','Cabo','Sargento','Oficial','Inspector'])[1 + g % 5],
                    'Comisaría ' || (1 + g % 15),
                    (ARRAY['patrullaje','transito','investigacion','rescate','custodia'])[1 + g % 5],
                    (CASE WHEN g % 10 < 7 THEN 'DISPONIBLE' WHEN g % 10 < 8 THEN 'EN_TAREA'
                          WHEN g % 10 < 9 THEN 'FUERA_SERVICIO' ELSE 'NO_DISPONIBLE' END)::estado_disponibilidad,
                    ST_SetSRID(ST_MakePoint($4 + (random() * 2 - 1) * $5 / cos(radians($3)),
                                            $3 + (random() * 2 - 1) * $5), 4326)::geography,
                    5 + random() * 20, now() - random() * interval '10 minutes'
             FROM generate_series($1::bigint, $2::bigint) g
             JOIN usuarios u ON lower(u.email) = 'efectivo' || g || '@gad.local'
             ON CONFLICT DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .bind(lat)
        .bind(lng)
        .bind(deg)
        .execute(&mut *tx)
        .await
        .context("seeding efectivos")?;
        tx.commit().await?;
        pb.set_position(to as u64);
        from = to + 1;
    }
    pb.finish();

    let pb = bar(args.tareas as u64, "tareas", args.quiet);
    let mut from = 1;
    let officers = args.efectivos.max(1);
    while from <= args.tareas {
        let to = (from + BATCH - 1).min(args.tareas);
        let mut tx = pool.begin().await?;
        // States cycle through all five; times are consistent with each state.
        sqlx::query(
            "WITH src AS (
                SELECT g,
                       (ARRAY['PROGRAMMED','IN_PROGRESS','PAUSED','COMPLETED','CANCELLED'])[1 + g % 5]::estado_tarea AS estado,
                       now() - ((g % 240) || ' hours')::interval AS inicio,
                       $3 + (random() * 2 - 1) * $5 AS la,
                       $4 + (random() * 2 - 1) * $5 / cos(radians($3)) AS lo,
                       1 + (g * 7919) % $6 AS officer
                FROM generate_series($1::bigint, $2::bigint) g
            ), ins AS (
                INSERT INTO tareas (codigo, titulo, descripcion, tipo, prioridad, estado, inicio_programado,
                                    fin_programado, inicio_real, fin_real, pausado_en, duracion_real_horas,
                                    delegado_usuario_id, creado_por_usuario_id, ubicacion_lat, ubicacion_lon,
                                    ubicacion_descripcion, geom, efectivos_asignados)
                SELECT 'DEMO-' || lpad(s.g::text, 7, '0'), 'Tarea demo ' || s.g, 'Generada por gad seed',
                       (ARRAY['PATRULLAJE','INVESTIGACION','VIGILANCIA','INTERVENCION','ADMINISTRATIVA','ENTRENAMIENTO'])[1 + s.g % 6]::tipo_tarea,
                       (ARRAY['LOW','MEDIUM','HIGH','URGENT','CRITICAL'])[1 + (s.g / 5) % 5]::prioridad_tarea,
                       s.estado, s.inicio, s.inicio + interval '4 hours',
                       CASE WHEN s.estado <> 'PROGRAMMED' THEN s.inicio END,
                       CASE WHEN s.estado IN ('COMPLETED','CANCELLED') THEN s.inicio + interval '3 hours' END,
                       CASE WHEN s.estado = 'PAUSED' THEN s.inicio + interval '1 hour' END,
                       CASE WHEN s.estado = 'COMPLETED' THEN 3 END,
                       e.usuario_id, (SELECT id FROM usuarios WHERE lower(email) = $7),
                       s.la, s.lo, 'Zona ' || (1 + s.g % 48),
                       ST_SetSRID(ST_MakePoint(s.lo, s.la), 4326)::geography, ARRAY[e.id]
                FROM src s JOIN efectivos e ON e.codigo_interno = 'EF-' || lpad(s.officer::text, 6, '0')
                ON CONFLICT DO NOTHING
                RETURNING id, estado, efectivos_asignados, creado_por_usuario_id, inicio_real
            ), te AS (
                INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
                SELECT id, efectivos_asignados[1] FROM ins
            )
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota)
            SELECT id, NULL::estado_tarea, 'PROGRAMMED'::estado_tarea, creado_por_usuario_id, 'creada por gad seed' FROM ins
            UNION ALL
            SELECT id, 'PROGRAMMED'::estado_tarea, estado, creado_por_usuario_id, 'gad seed' FROM ins WHERE estado <> 'PROGRAMMED'",
        )
        .bind(from)
        .bind(to)
        .bind(lat)
        .bind(lng)
        .bind(deg)
        .bind(officers)
        .bind(ADMIN_EMAIL)
        .execute(&mut *tx)
        .await
        .context("seeding tareas")?;
        tx.commit().await?;
        pb.set_position(to as u64);
        from = to + 1;
    }
    pb.finish();
    // Fresh statistics and visibility maps, so the first queries after a seed get the plans they
    // will get in service (autovacuum may be off or not yet due). One statement each: VACUUM
    // cannot run inside the implicit transaction of a multi-statement query.
    for table in ["usuarios", "efectivos", "tareas"] {
        if let Err(e) = sqlx::raw_sql(&format!("VACUUM (ANALYZE) {table}"))
            .execute(pool)
            .await
        {
            eprintln!("warning: VACUUM (ANALYZE) {table} failed: {e}");
        }
    }

    println!(
        "seeded in {:.1}s: {} supervisors, {} efectivos, {} tareas around {lat},{lng}",
        started.elapsed().as_secs_f64(),
        args.usuarios,
        args.efectivos,
        args.tareas
    );
    if pw.generated {
        println!(
            "ENVIRONMENT is not development: the published demo passwords were NOT used. \
             Generated passwords (shown only now; they apply to accounts created by this run, \
             existing accounts keep theirs):"
        );
    } else {
        println!("demo logins:");
    }
    println!("  admin (level 3):      {ADMIN_EMAIL} / {}", pw.admin);
    println!(
        "  supervisor (level 2): supervisor1@gad.local / {}",
        pw.supervisor
    );
    println!(
        "  efectivo (level 1):   efectivo1@gad.local / {}",
        pw.efectivo
    );
    Ok(())
}

fn hash(p: &str) -> anyhow::Result<String> {
    gad_api::auth::password::hash_blocking(p).map_err(|e| anyhow::anyhow!(e))
}

fn parse_center(s: &str) -> anyhow::Result<(f64, f64)> {
    let (a, b) = s.split_once(',').context("--center must be LAT,LNG")?;
    let lat: f64 = a.trim().parse().context("--center latitude")?;
    let lng: f64 = b.trim().parse().context("--center longitude")?;
    gad_core::geo::Lat::new(lat).map_err(|e| anyhow::anyhow!("--center latitude: {e}"))?;
    gad_core::geo::Lng::new(lng).map_err(|e| anyhow::anyhow!("--center longitude: {e}"))?;
    Ok((lat, lng))
}
