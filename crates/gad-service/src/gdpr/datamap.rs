//! The data map: which column holds which personal data, why, for how long and on
//! what legal basis. The classification is in the schema (column comments
//! `gdpr:categoria=…;finalidad=…;retencion=…`, migration 20261201001802); the texts for each
//! code are here, in Spanish and English. The API route, `gad gdpr data-map --markdown` and
//! docs/PRIVACY.md all come from [`build`] + [`markdown`].

use serde::Serialize;

use crate::config::Config;
use gad_store::gdpr::ColumnInfo;

/// (code, Spanish, English)
const CATEGORIAS: &[(&str, &str, &str)] = &[
    (
        "identificacion",
        "Datos identificativos",
        "Identification data",
    ),
    ("contacto", "Datos de contacto", "Contact data"),
    (
        "credenciales",
        "Credenciales y seguridad de la cuenta",
        "Credentials and account security",
    ),
    ("ubicacion", "Geolocalización", "Geolocation"),
    (
        "conexion",
        "Datos de conexión y actividad (IP, navegador, accesos)",
        "Connection and activity data (IP, user agent, access)",
    ),
    (
        "laboral",
        "Datos profesionales (rango, unidad, especialidad, rol)",
        "Professional data (rank, unit, speciality, role)",
    ),
    (
        "operativo",
        "Registros operativos vinculados a la persona",
        "Operational records linked to the person",
    ),
];

/// (code, purpose es, purpose en, legal basis es, legal basis en)
const FINALIDADES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "cuenta",
        "Gestión de la cuenta y autenticación",
        "Account management and authentication",
        "Ejercicio de funciones propias del Estado (Ley 25.326, art. 5 inc. 2 b; RGPD art. 6.1.e)",
        "Exercise of official authority (Argentine Law 25.326 s. 5(2)(b); GDPR Art. 6(1)(e))",
    ),
    (
        "despacho",
        "Despacho de emergencias y coordinación de tareas",
        "Emergency dispatch and task coordination",
        "Ejercicio de funciones propias del Estado (Ley 25.326, art. 5 inc. 2 b; RGPD art. 6.1.e)",
        "Exercise of official authority (Argentine Law 25.326 s. 5(2)(b); GDPR Art. 6(1)(e))",
    ),
    (
        "notificaciones",
        "Avisos por Telegram",
        "Telegram notifications",
        "Consentimiento del titular al vincular su cuenta (Ley 25.326, art. 5; RGPD art. 6.1.a)",
        "The person's consent when linking the account (Law 25.326 s. 5; GDPR Art. 6(1)(a))",
    ),
    (
        "seguridad",
        "Protección de las cuentas y del servicio (bloqueos, revocaciones, credenciales de un uso)",
        "Protection of accounts and of the service (lockouts, revocations, one-time credentials)",
        "Obligación de seguridad de los datos (Ley 25.326, art. 9; RGPD arts. 6.1.c y 32)",
        "Security of processing obligation (Law 25.326 s. 9; GDPR Arts. 6(1)(c) and 32)",
    ),
    (
        "auditoria",
        "Trazabilidad de las acciones (registro de auditoría encadenado)",
        "Accountability of actions (hash-chained audit trail)",
        "Obligación legal de trazabilidad y seguridad (Ley 25.326, art. 9; RGPD arts. 6.1.c y 5.2)",
        "Legal obligation of accountability and security (Law 25.326 s. 9; GDPR Arts. 6(1)(c) and 5(2))",
    ),
];

/// (code, setting, default, retention es, retention en)
const RETENCIONES: &[(&str, Option<&str>, &str, &str, &str)] = &[
    (
        "cuenta",
        None,
        "",
        "Mientras exista la cuenta; al ejercer el derecho de supresión se anonimiza",
        "While the account exists; anonymised when erasure is requested",
    ),
    (
        "ultima_ubicacion",
        None,
        "",
        "Sólo la última posición (se sobrescribe); se borra al anonimizar",
        "Only the last position (overwritten); deleted on erasure",
    ),
    (
        "ubicaciones",
        Some("LOCATION_RETENTION_DAYS"),
        "30 días",
        "plazo desde su registro; se borra al anonimizar",
        "period from when it was recorded; deleted on erasure",
    ),
    (
        "auditoria",
        Some("AUDIT_RETENTION_DAYS"),
        "365 días",
        "plazo desde su creación (nunca menos de 365 días), fijado al insertarla en su retention_until; se conserva al anonimizar, con los datos personales que contiene ilegibles (cifrados con la clave de la persona, que se destruye)",
        "period from creation (never under 365 days), fixed at insert in its retention_until; kept on erasure, with the personal values inside it unreadable (encrypted with the person's key, which is destroyed)",
    ),
    (
        "tokens_revocados",
        Some("REVOKED_TOKEN_RETENTION_HOURS"),
        "0 horas",
        "plazo tras el vencimiento del token",
        "period after the token's expiry",
    ),
    (
        "tickets",
        Some("TICKET_RETENTION_HOURS"),
        "0 horas",
        "plazo tras vencer (un ticket vale 30 s; un desafío de segundo factor, 5 minutos)",
        "period after expiry (a ticket is valid for 30 s; a second-factor challenge, 5 minutes)",
    ),
    (
        "codigos_telegram",
        Some("TELEGRAM_LINK_CODE_RETENTION_HOURS"),
        "24 horas",
        "plazo tras vencer o usarse; se borra al anonimizar",
        "period after expiry or use; deleted on erasure",
    ),
    (
        "avisos_telegram",
        None,
        "",
        "Hasta que el bot lo envía (se descarta sin enviar a las 24 horas); se borra al anonimizar",
        "Until the bot sends it (dropped unsent after 24 hours); deleted on erasure",
    ),
    (
        "idempotencia",
        Some("IDEMPOTENCY_KEY_RETENTION_HOURS"),
        "24 horas",
        "plazo desde su uso (mínimo 24 horas: la ventana de reintento); se borra al anonimizar",
        "period from use (at least 24 hours: the retry window); deleted on erasure",
    ),
    (
        "intentos_login",
        Some("LOGIN_FAILURE_RETENTION_DAYS"),
        "30 días",
        "plazo sin nuevos intentos (nunca durante un bloqueo)",
        "period without new attempts (never during a lockout)",
    ),
    (
        "operativo",
        None,
        "",
        "Registro operativo: se conserva; al anonimizar queda vinculado a la persona seudonimizada y sus textos dejan de contener los datos de la persona",
        "Operational record: kept; after erasure it points at the pseudonymised person and its text no longer holds the person's values",
    ),
    (
        "denunciante",
        Some("DENUNCIANTE_RETENTION_DAYS"),
        "365 días",
        "plazo desde el cierre del incidente; luego se borra (el incidente se conserva sin el denunciante). Lo leen sólo supervisores y administradores",
        "period from the incident's closure; then deleted (the incident is kept without its caller). Read by supervisors and administrators only",
    ),
    (
        "clave_persona",
        None,
        "",
        "Mientras exista la persona; se destruye al anonimizar (sus datos dentro de la auditoría quedan ilegibles)",
        "While the person exists; destroyed on erasure (their values inside the audit trail become unreadable)",
    ),
];

/// Texts of one entry in one language.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DataMapTexts {
    pub categoria: String,
    pub finalidad: String,
    pub base_legal: String,
    pub retencion: String,
}

/// One column holding personal data.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DataMapEntry {
    pub tabla: String,
    pub columna: String,
    /// PostgreSQL type.
    pub tipo: String,
    /// Codes: categoria (identificacion, contacto, credenciales, ubicacion, conexion, laboral,
    /// operativo), finalidad, retencion.
    pub categoria: String,
    pub finalidad: String,
    pub retencion: String,
    /// The setting that governs the retention, if any (e.g. LOCATION_RETENTION_DAYS).
    pub retencion_variable: Option<String>,
    /// Its value in this deployment (e.g. "30 días"), if any.
    pub retencion_configurada: Option<String>,
    pub es: DataMapTexts,
    pub en: DataMapTexts,
}

/// The data map: every personal column, and the personal-looking columns nobody classified
/// (should be empty; the schema test fails otherwise).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DataMap {
    pub columnas: Vec<DataMapEntry>,
    /// "tabla.columna" of columns whose name looks personal and that carry no classification.
    pub sin_clasificar: Vec<String>,
    /// "tabla.columna" of columns whose comment is not a valid classification.
    pub clasificacion_invalida: Vec<String>,
}

/// Name parts that suggest personal data (a column named with one needs a classification).
const PERSONAL_TOKENS: &[&str] = &[
    "email",
    "dni",
    "nombre",
    "apellido",
    "telefono",
    "phone",
    "telegram",
    "password",
    "ip",
    "agent",
    "geom",
    "lat",
    "lon",
    "lng",
    "ubicacion",
    "accuracy",
    "heading",
    "speed",
    "usuario",
    "user",
    "delegado",
    "creado",
    "respondido",
    "efectivo",
    "efectivos",
    "acceso",
    "bloqueado",
    "intentos",
    "jti",
    "ticket",
    "code",
    "nota",
    "notas",
    "motivo",
    "descripcion",
    "metadata",
    "extra",
    "values",
    "body",
    "key",
];

/// True when a column's name suggests it may hold personal data.
pub fn looks_personal(columna: &str) -> bool {
    columna
        .split('_')
        .any(|part| PERSONAL_TOKENS.contains(&part))
}

/// A column whose name looks personal but that was reviewed and holds no personal data (public
/// place and street names of the gazetteer, for instance) carries `gdpr:no_personal` and a reason.
pub fn reviewed_not_personal(comment: &str) -> bool {
    comment.trim().starts_with("gdpr:no_personal")
}

/// Parses `gdpr:categoria=…;finalidad=…;retencion=…` (codes checked against the tables above).
pub fn parse(comment: &str) -> Option<Result<(String, String, String), String>> {
    let spec = comment.trim().strip_prefix("gdpr:")?;
    let mut cat = None;
    let mut fin = None;
    let mut ret = None;
    for part in spec.split(';') {
        match part.split_once('=') {
            Some(("categoria", v)) => cat = Some(v.trim().to_string()),
            Some(("finalidad", v)) => fin = Some(v.trim().to_string()),
            Some(("retencion", v)) => ret = Some(v.trim().to_string()),
            _ => return Some(Err(format!("unknown part '{part}'"))),
        }
    }
    Some(match (cat, fin, ret) {
        (Some(c), Some(f), Some(r))
            if CATEGORIAS.iter().any(|x| x.0 == c)
                && FINALIDADES.iter().any(|x| x.0 == f)
                && RETENCIONES.iter().any(|x| x.0 == r) =>
        {
            Ok((c, f, r))
        }
        _ => Err(format!("invalid classification '{spec}'")),
    })
}

fn configured(setting: &str, config: &Config) -> Option<String> {
    let r = &config.retention;
    Some(match setting {
        "LOCATION_RETENTION_DAYS" => format!("{} días", config.location_retention_days),
        "AUDIT_RETENTION_DAYS" => format!("{} días", r.audit_days),
        "REVOKED_TOKEN_RETENTION_HOURS" => format!("{} horas", r.revoked_token_hours),
        "TICKET_RETENTION_HOURS" => format!("{} horas", r.ticket_hours),
        "TELEGRAM_LINK_CODE_RETENTION_HOURS" => format!("{} horas", r.telegram_link_code_hours),
        "IDEMPOTENCY_KEY_RETENTION_HOURS" => format!("{} horas", r.idempotency_key_hours),
        "LOGIN_FAILURE_RETENTION_DAYS" => format!("{} días", r.login_failure_days),
        "DENUNCIANTE_RETENTION_DAYS" => format!("{} días", r.denunciante_days),
        _ => return None,
    })
}

/// The data map of `columns` (from `store::gdpr::schema_columns`). With `config`, each entry
/// also says the retention configured in this deployment.
pub fn build(columns: &[ColumnInfo], config: Option<&Config>) -> DataMap {
    let mut map = DataMap {
        columnas: Vec::new(),
        sin_clasificar: Vec::new(),
        clasificacion_invalida: Vec::new(),
    };
    for c in columns {
        let name = format!("{}.{}", c.tabla, c.columna);
        if c.comentario.as_deref().is_some_and(reviewed_not_personal) {
            continue;
        }
        match c.comentario.as_deref().and_then(parse) {
            Some(Ok((cat, fin, ret))) => {
                let (_, cat_es, cat_en) = CATEGORIAS
                    .iter()
                    .find(|x| x.0 == cat)
                    .copied()
                    .unwrap_or(("", "", ""));
                let (_, fin_es, fin_en, base_es, base_en) = FINALIDADES
                    .iter()
                    .find(|x| x.0 == fin)
                    .copied()
                    .unwrap_or(("", "", "", "", ""));
                let (_, setting, default, ret_es, ret_en) = RETENCIONES
                    .iter()
                    .find(|x| x.0 == ret)
                    .copied()
                    .unwrap_or(("", None, "", "", ""));
                let (ret_es, ret_en) = match setting {
                    Some(s) => (
                        format!("{s} (por defecto {default}): {ret_es}"),
                        format!(
                            "{s} (default {}): {ret_en}",
                            default.replace("días", "days").replace("horas", "hours")
                        ),
                    ),
                    None => (ret_es.to_string(), ret_en.to_string()),
                };
                map.columnas.push(DataMapEntry {
                    tabla: c.tabla.clone(),
                    columna: c.columna.clone(),
                    tipo: c.tipo.clone(),
                    categoria: cat,
                    finalidad: fin,
                    retencion: ret,
                    retencion_variable: setting.map(str::to_string),
                    retencion_configurada: match (setting, config) {
                        (Some(s), Some(cfg)) => configured(s, cfg),
                        _ => None,
                    },
                    es: DataMapTexts {
                        categoria: cat_es.into(),
                        finalidad: fin_es.into(),
                        base_legal: base_es.into(),
                        retencion: ret_es,
                    },
                    en: DataMapTexts {
                        categoria: cat_en.into(),
                        finalidad: fin_en.into(),
                        base_legal: base_en.into(),
                        retencion: ret_en,
                    },
                });
            }
            Some(Err(_)) => map.clasificacion_invalida.push(name),
            None if looks_personal(&c.columna) => map.sin_clasificar.push(name),
            None => {}
        }
    }
    map
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// docs/PRIVACY.md: the data map in Spanish and English (deterministic: no dates, no
/// deployment values). `gad gdpr data-map --markdown` prints it; a test checks the committed
/// file equals it.
pub fn markdown(map: &DataMap) -> String {
    let mut out = String::new();
    out.push_str("<!-- Generado por `gad gdpr data-map --markdown` desde los comentarios del esquema (migración 20261201001802) y crates/gad-api/src/gdpr/datamap.rs. No editar a mano. -->\n");
    out.push_str("<!-- Generated by `gad gdpr data-map --markdown` from the schema's column comments. Do not edit by hand. -->\n\n");
    out.push_str("# Privacidad / Privacy — GAD\n\n");
    out.push_str("## Español\n\n");
    out.push_str("GAD trata datos personales de los efectivos y del personal que lo usa. Cada columna que contiene datos personales está clasificada en el esquema de la base de datos; esta tabla se genera de esa clasificación y es la misma que devuelve `GET /api/v1/gdpr/data-map` (nivel 3).\n\n");
    out.push_str("Derechos del titular:\n\n");
    out.push_str("- **Acceso y portabilidad**: `GET /api/v1/gdpr/me/export` (cualquier nivel) y `GET /api/v1/gdpr/users/{id}/export` (nivel 3), en JSON o `?format=zip` (JSON + CSV). Nunca incluye contraseñas, hashes, códigos ni tickets.\n");
    out.push_str("- **Supresión por anonimización**: `POST /api/v1/gdpr/users/{id}/erase` (nivel 3, con motivo). Se reemplazan nombre, DNI, e-mail, teléfono y Telegram; se borra el historial de ubicaciones; se revocan los tokens y se cierran las conexiones. Tareas, despachos y auditoría se conservan apuntando a la persona seudonimizada. No procede mientras el efectivo esté en una emergencia abierta (409).\n");
    out.push_str("- **Retención**: cada plazo es una variable de configuración; la tarea de mantenimiento purga por lotes y deja un registro de auditoría por pasada.\n\n");
    table(&mut out, map, true);
    out.push_str("\n## English\n\n");
    out.push_str("GAD processes personal data of the officers and staff who use it. Every column holding personal data is classified in the database schema; this table is generated from that classification and is the same one `GET /api/v1/gdpr/data-map` (level 3) returns.\n\n");
    out.push_str("Data-subject rights:\n\n");
    out.push_str("- **Access and portability**: `GET /api/v1/gdpr/me/export` (any level) and `GET /api/v1/gdpr/users/{id}/export` (level 3), as JSON or `?format=zip` (JSON + CSV). Never includes passwords, hashes, codes or tickets.\n");
    out.push_str("- **Erasure by anonymisation**: `POST /api/v1/gdpr/users/{id}/erase` (level 3, with a reason). Name, DNI, e-mail, phone and Telegram are replaced; the location history is deleted; tokens are revoked and sockets closed. Tasks, dispatches and audit are kept, pointing at the pseudonymised person. Refused while the officer is on an open emergency (409).\n");
    out.push_str("- **Retention**: every period is a setting; the maintenance job purges in batches and writes one audit row per run.\n\n");
    table(&mut out, map, false);
    out
}

fn table(out: &mut String, map: &DataMap, es: bool) {
    if es {
        out.push_str("| Tabla | Columna | Categoría | Finalidad | Base legal | Retención |\n");
    } else {
        out.push_str("| Table | Column | Category | Purpose | Legal basis | Retention |\n");
    }
    out.push_str("|---|---|---|---|---|---|\n");
    for e in &map.columnas {
        let t = if es { &e.es } else { &e.en };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&e.tabla),
            cell(&e.columna),
            cell(&t.categoria),
            cell(&t.finalidad),
            cell(&t.base_legal),
            cell(&t.retencion)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert!(matches!(
            parse("gdpr:categoria=contacto;finalidad=cuenta;retencion=cuenta"),
            Some(Ok(_))
        ));
        assert!(matches!(
            parse("gdpr:categoria=nope;finalidad=cuenta;retencion=cuenta"),
            Some(Err(_))
        ));
        assert!(parse("just a comment").is_none());
        assert!(looks_personal("creado_por_usuario_id"));
        assert!(looks_personal("ip_address"));
        assert!(!looks_personal("ultima_actualizacion_estado"));
        assert!(!looks_personal("titulo"));
    }
}
