//! Every text an officer reads, in Spanish (es-AR), in one place.

use gad_core::{EstadoDisponibilidad, EstadoTarea};
use gad_service::telegram_link::UnlinkReason;

pub const BTN_TAREAS: &str = "📋 Mis tareas";
pub const BTN_SOS: &str = "🆘 Emergencia";
pub const BTN_ESTADO: &str = "📍 Mi estado";
pub const BTN_STATS: &str = "📊 Estadísticas";

pub const BIENVENIDA: &str = "¡Hola! Soy el asistente de GAD.\n\nUsá el menú de abajo:\n\
📋 Mis tareas — tus tareas abiertas\n🆘 Emergencia — envía tu ubicación y despacha al efectivo más cercano\n\
📍 Mi estado — disponibilidad\n📊 Estadísticas — tu resumen\n\n\
Compartí tu ubicación en tiempo real para que la central te vea en el mapa.";

pub const NO_VINCULADO: &str = "Tu cuenta de Telegram no está vinculada a GAD.\n\n\
Para vincularla: entrá a GAD, generá un código de vinculación (Mi perfil → Telegram, con tu \
contraseña) y enviame /vincular CÓDIGO (vence a los 10 minutos).";

pub const VINCULAR_USO: &str = "Enviame el código así: /vincular CÓDIGO";
pub const CODIGO_INVALIDO: &str = "El código no es válido, ya fue usado o venció. \
Generá uno nuevo en GAD e intentá otra vez.";
pub const CUENTA_INACTIVA: &str = "Tu usuario de GAD no está activo. Consultá con tu supervisor.";
pub const DESVINCULADO: &str = "Listo: tu cuenta de Telegram ya no está vinculada a GAD.";

/// The question a redeemed code asks before anything is linked.
pub fn confirmar_vinculo(nombre: &str, apellido: &str) -> String {
    format!(
        "Este código es de la cuenta de GAD de {nombre} {apellido}.\n\n\
Si la vinculás, esta cuenta de Telegram recibirá sus avisos y podrá actuar en su nombre \
(tareas, emergencias, ubicación). Tenés 2 minutos para responder.\n\n¿Vincular esta cuenta?"
    )
}
pub const VINCULAR_SI: &str = "Sí";
pub const VINCULAR_NO: &str = "No";
pub const VINCULO_CONFIRMADO: &str = "Confirmado: vinculando la cuenta…";
pub const VINCULO_RECHAZADO: &str = "No se vinculó ninguna cuenta y el código quedó anulado. \
Si no pediste este código, avisá a tu supervisor y cambiá tu contraseña en GAD.";

/// What the chat is told when the server ends its link (`None`: a reason this bot does not know).
pub fn desvinculado_por(motivo: Option<UnlinkReason>) -> String {
    let porque = match motivo {
        Some(UnlinkReason::PasswordChanged) => "se cambió la contraseña de tu usuario de GAD",
        Some(UnlinkReason::Deactivated) => "tu usuario de GAD fue desactivado",
        Some(UnlinkReason::Deleted) => "tu usuario de GAD fue dado de baja",
        Some(UnlinkReason::LevelChanged) => "cambió tu nivel de acceso en GAD",
        Some(UnlinkReason::LoggedOutEverywhere) => {
            "cerraste la sesión de GAD en todos los dispositivos"
        }
        Some(UnlinkReason::Administrator) => "un administrador quitó la vinculación",
        Some(UnlinkReason::OtherAccount) => {
            "tu usuario de GAD se vinculó con otra cuenta de Telegram"
        }
        None => "se cerraron las sesiones de tu usuario de GAD",
    };
    format!(
        "🔒 Esta cuenta de Telegram ya no está vinculada a GAD: {porque}.\n\n\
Si fuiste vos y querés seguir recibiendo avisos, generá un código nuevo en GAD y enviame \
/vincular CÓDIGO. Si no, avisá a tu supervisor."
    )
}

pub fn vinculado(nombre: &str) -> String {
    format!("✅ Cuenta vinculada. ¡Bienvenido/a, {nombre}!\n\n{BIENVENIDA}")
}

pub const SIN_TAREAS: &str = "No tenés tareas abiertas. 👍";
pub const SIN_HISTORIAL: &str = "No hay tareas para mostrar.";
pub const ANTERIOR: &str = "« Anterior";
pub const SIGUIENTE: &str = "Siguiente »";
pub const SI: &str = "Sí, confirmar";
pub const NO: &str = "No";
pub const OPERACION_CANCELADA: &str = "Operación cancelada. No se cambió nada.";
pub const TAREA_NO_ENCONTRADA: &str = "No encontré esa tarea entre las tuyas.";
pub const HISTORIAL_USO: &str = "Uso: /historial [todas|activas|finalizadas]";

pub fn tareas_titulo(page: i64, pages: i64) -> String {
    format!(
        "📋 Tus tareas abiertas (página {} de {}):",
        page + 1,
        pages.max(1)
    )
}

pub fn historial_titulo(filtro: &str, page: i64, pages: i64) -> String {
    format!(
        "🗂 Historial ({filtro}) — página {} de {}:",
        page + 1,
        pages.max(1)
    )
}

pub fn estado(e: EstadoTarea) -> &'static str {
    match e {
        EstadoTarea::Programada => "programada",
        EstadoTarea::EnCurso => "en curso",
        EstadoTarea::Pausada => "pausada",
        EstadoTarea::Finalizada => "finalizada",
        EstadoTarea::Cancelada => "cancelada",
    }
}

/// The verb of the button that moves a task from `from` to `to`.
pub fn accion(from: EstadoTarea, to: EstadoTarea) -> &'static str {
    match (from, to) {
        (EstadoTarea::Pausada, EstadoTarea::EnCurso) => "▶️ Reanudar",
        (_, EstadoTarea::EnCurso) => "▶️ Iniciar",
        (_, EstadoTarea::Pausada) => "⏸ Pausar",
        (_, EstadoTarea::Finalizada) => "✅ Finalizar",
        (_, EstadoTarea::Cancelada) => "✖️ Cancelar",
        (_, EstadoTarea::Programada) => "Reprogramar",
    }
}

pub fn confirmar(accion: &str, codigo: &str, titulo: &str) -> String {
    format!("¿Confirmás «{accion}» en la tarea {codigo} — {titulo}?")
}

pub fn transicion_hecha(codigo: &str, from: EstadoTarea, to: EstadoTarea) -> String {
    format!(
        "Listo: la tarea {codigo} pasó de {} a {}.",
        estado(from),
        estado(to)
    )
}

/// An officer tried to close an emergency (a stale button): only the desk closes one.
pub const EMERGENCIA_LA_CIERRA_LA_CENTRAL: &str = "Una emergencia solo la cierra la central. \
Si no podés atenderla, rechazá el despacho y se llamará al siguiente efectivo; en el lugar, \
informá por nota o con tu estado.";

/// An SOS refused because this officer raised too many in the last hour: why, and what to do.
pub fn emergencia_limitada(limite: i64, reintentar_en_s: i64) -> String {
    let minutos = (reintentar_en_s.max(1) + 59) / 60;
    format!(
        "⚠️ No se despachó la emergencia: ya pediste {limite} en la última hora, el máximo \
permitido. La central fue avisada de este pedido. Si la emergencia es real, comunicate ya \
con la central por radio o teléfono. Podrás volver a pedir en {minutos} min."
    )
}

pub const TRANSICION_INVALIDA: &str =
    "La tarea cambió de estado mientras tanto; abrí 📋 Mis tareas para ver las acciones posibles.";

pub fn estadisticas(v: &serde_json::Value) -> String {
    let n = |k: &str| v[k].as_i64().unwrap_or(0);
    format!(
        "📊 Tus estadísticas (últimos {} días)\n\nTotal: {}\nFinalizadas: {}\nEn curso: {}\n\
Programadas: {}\nPausadas: {}\nCanceladas: {}\nDuración promedio: {:.2} h",
        n("period_days"),
        n("total"),
        n("completadas"),
        n("en_progreso"),
        n("programadas"),
        n("pausadas"),
        n("canceladas"),
        v["promedio_duracion_horas"].as_f64().unwrap_or(0.0)
    )
}

pub const PEDIR_UBICACION: &str = "Para despachar una emergencia tocá «🆘 Emergencia» \
(envía tu ubicación actual).";
pub const EMERGENCIA_SIN_EFECTIVOS: &str = "🆘 Emergencia recibida, pero no hay efectivos \
disponibles en el radio. Avisá por radio a la central.";

/// The description of an emergency an officer raises from Telegram.
pub fn emergencia_descripcion(nombre: &str) -> String {
    format!("Emergencia reportada por Telegram por {nombre}")
}

pub fn emergencia_despachada(
    nombre: &str,
    codigo_interno: &str,
    distancia_m: f64,
    tarea: &str,
) -> String {
    format!(
        "🆘 Emergencia despachada ({tarea}).\nVa en camino: {nombre} ({codigo_interno}), a {}.",
        distancia(distancia_m)
    )
}

pub fn distancia(m: f64) -> String {
    if m >= 1000.0 {
        format!("{:.1} km", m / 1000.0)
    } else {
        format!("{} m", m.round() as i64)
    }
}

pub const SIN_EFECTIVO: &str =
    "Tu usuario no tiene legajo de efectivo en GAD; consultá con tu supervisor.";
pub const UBICACION_EN_VIVO: &str = "📍 Recibí tu ubicación en tiempo real; la central la verá \
en el mapa mientras la compartas.";

pub fn disponibilidad(e: EstadoDisponibilidad) -> &'static str {
    match e {
        EstadoDisponibilidad::Disponible => "Disponible",
        EstadoDisponibilidad::NoDisponible => "No disponible",
        EstadoDisponibilidad::FueraServicio => "Fuera de servicio",
        EstadoDisponibilidad::EnTarea => "En tarea",
        EstadoDisponibilidad::EnCamino => "En camino",
        EstadoDisponibilidad::EnEscena => "En escena",
    }
}

pub fn mi_estado(e: Option<EstadoDisponibilidad>) -> String {
    match e {
        Some(e) => format!(
            "📍 Tu estado actual: {}.\n¿Cómo querés figurar?",
            disponibilidad(e)
        ),
        None => "📍 ¿Cómo querés figurar?".into(),
    }
}

pub fn estado_cambiado(e: EstadoDisponibilidad) -> String {
    format!("Listo: ahora figurás como «{}».", disponibilidad(e))
}

pub const DEMASIADOS_MENSAJES: &str =
    "Estás enviando muchos mensajes seguidos. Esperá unos segundos y probá de nuevo.";
pub const ERROR_TEMPORAL: &str =
    "No pude completar la operación por un problema temporal. Probá de nuevo en unos minutos.";
pub const NO_ENTIENDO: &str = "No entendí el mensaje. Usá el menú de abajo o /ayuda.";
pub const SIN_PERMISO: &str = "No tenés permiso para esa operación.";

// Push notifications.
pub fn push_asignada(codigo: &str, titulo: &str) -> String {
    format!("📌 Te asignaron la tarea {codigo} — {titulo}.\nAbrila en 📋 Mis tareas.")
}
pub fn push_nueva(codigo: &str, titulo: &str) -> String {
    format!("📌 Nueva tarea {codigo} — {titulo}.\nAbrila en 📋 Mis tareas.")
}
pub fn push_modificada(codigo: &str, titulo: &str) -> String {
    format!("✏️ Se modificó la tarea {codigo} — {titulo}.")
}
pub fn push_eliminada(codigo: &str) -> String {
    format!("🗑 Se eliminó la tarea {codigo}.")
}
pub fn push_estado(codigo: &str, to: EstadoTarea) -> String {
    match to {
        EstadoTarea::Cancelada => format!("✖️ La tarea {codigo} fue cancelada."),
        _ => format!("🔄 La tarea {codigo} ahora está {}.", estado(to)),
    }
}
pub fn push_emergencia(
    codigo: &str,
    distancia_m: f64,
    lat: f64,
    lng: f64,
    descripcion: Option<&str>,
) -> String {
    let mut s = format!(
        "🚨 EMERGENCIA asignada a vos ({codigo}), a {}.\nUbicación: {lat:.5}, {lng:.5}",
        distancia(distancia_m)
    );
    if let Some(d) = descripcion.filter(|d| !d.is_empty()) {
        s.push_str(&format!("\n{d}"));
    }
    s
}

/// Words for an incident's priority (1–5, 5 most urgent).
pub fn prioridad_incidente(p: i16) -> &'static str {
    match p {
        5 => "crítica",
        4 => "alta",
        3 => "media",
        2 => "baja",
        _ => "muy baja",
    }
}

/// What a dispatched officer reads about the incident, under the emergency's first lines: case
/// number, type, priority, address and reference (each only when known).
pub fn push_incidente(i: &gad_service::events::IncidentSummary) -> String {
    let mut lines = Vec::new();
    if let Some(n) = &i.nro_incidente {
        lines.push(format!("📁 Caso N.º {n}"));
    }
    if let Some(t) = i.tipo_nombre.as_ref().or(i.tipo_incidente.as_ref()) {
        lines.push(format!("Tipo: {t}"));
    }
    lines.push(format!(
        "Prioridad: {}/5 ({})",
        i.prioridad,
        prioridad_incidente(i.prioridad)
    ));
    if let Some(d) = i.direccion.as_deref().filter(|d| !d.is_empty()) {
        lines.push(format!("📍 Dirección: {d}"));
    }
    if let Some(r) = i.referencia.as_deref().filter(|r| !r.is_empty()) {
        lines.push(format!("Referencia: {r}"));
    }
    lines.join("\n")
}

// Acknowledgement of an emergency dispatched to the officer.
pub const ACEPTAR: &str = "✅ Aceptar";
pub const RECHAZAR: &str = "❌ Rechazar";
pub fn aceptada(codigo: &str) -> String {
    format!("✅ Aceptaste la emergencia {codigo}. Figurás «En camino»; al llegar se marca sola.")
}
pub fn rechazada(codigo: &str) -> String {
    format!("Rechazaste la emergencia {codigo}; se llama al siguiente efectivo más cercano.")
}
pub const ACK_YA_RESPONDIDA: &str =
    "Esa emergencia ya no espera tu respuesta (ya fue respondida o venció).";

pub const AYUDA: &str = BIENVENIDA;

/// Commands shown in Telegram's menu (setMyCommands).
pub const COMANDOS: &[(&str, &str)] = &[
    ("tareas", "Mis tareas abiertas"),
    ("historial", "Historial: todas, activas o finalizadas"),
    ("estadisticas", "Mis estadísticas"),
    ("estado", "Disponible / No disponible / Fuera de servicio"),
    ("vincular", "Vincular la cuenta con un código"),
    ("desvincular", "Desvincular esta cuenta"),
    ("nota", "Agregar una nota a mi incidente actual"),
    ("turno", "Mi turno: registrar ingreso o egreso"),
    ("licencia", "Pedir una licencia"),
    ("mensaje", "Escribir a la central"),
    ("ayuda", "Ayuda"),
];

/// A monitoring alert forwarded to the operators' chat.
/// A witnessed head of the audit chain for the operators' chat: the JSON line as
/// `gad audit verify --witness` reads it, so a copy of the chat can be checked like the file.
pub fn testigo_auditoria(linea_json: &str) -> String {
    format!(
        "🔏 Testigo de la auditoría (guardar; se verifica con gad audit verify --witness):\n{linea_json}"
    )
}

pub fn push_monitoreo(title: &str, description: Option<&str>) -> String {
    match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("🚨 {title}\n{d}"),
        None => format!("🚨 {title}"),
    }
}

/// A shift's time as officers read it (UTC, the roster's time).
pub fn hora_turno(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%d/%m %H:%M UTC").to_string()
}

// ---------------------------------------------------------------------------------------------
// Roster: /turno and /licencia

pub const TURNO_NINGUNO: &str = "No tenés turnos en curso ni próximos.";
pub const BTN_INGRESO: &str = "✅ Registrar ingreso";
pub const BTN_EGRESO: &str = "🏁 Registrar egreso";
pub const EGRESO_REGISTRADO: &str = "🏁 Egreso registrado. ¡Buen descanso!";
pub const LICENCIA_USO: &str = "Para pedir una licencia escribí:\n\
/licencia <tipo> <desde> <hasta> [motivo]\n\
Tipos: vacaciones, enfermedad, estudio, otra. Fechas AAAA-MM-DD (inclusive).\n\
Ejemplo: /licencia vacaciones 2026-12-20 2026-12-24 viaje familiar";

/// The officer's shift under way or next (`/turno`).
pub fn turno(
    inicio: chrono::DateTime<chrono::Utc>,
    fin: chrono::DateTime<chrono::Utc>,
    unidad: Option<&str>,
    fichado: bool,
    tarde: bool,
) -> String {
    let unidad = unidad.map(|u| format!(" — {u}")).unwrap_or_default();
    let estado = match (fichado, tarde) {
        (true, true) => "ingreso registrado (tarde)",
        (true, false) => "ingreso registrado",
        (false, _) => "sin ingreso registrado",
    };
    format!(
        "🕒 Tu turno: {} → {}{unidad}\nEstado: {estado}.",
        hora_turno(inicio),
        hora_turno(fin)
    )
}

/// Clock-in done.
pub fn ingreso_registrado(tarde: bool) -> &'static str {
    if tarde {
        "✅ Ingreso registrado, fuera de la tolerancia: queda marcado como tarde."
    } else {
        "✅ Ingreso registrado. ¡Buen turno!"
    }
}

/// Leave asked.
pub fn licencia_pedida(id: i64, tipo: &str, desde: &str, hasta: &str) -> String {
    format!(
        "📝 Pediste licencia por {tipo} del {desde} al {hasta} (n.º {id}). \
         Queda pendiente hasta que la apruebe un supervisor."
    )
}

/// Reminder to an officer still clocked in 2 h after their shift ended.
pub fn push_turno_sin_egreso(fin: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "⏰ Tu turno terminó el {} y seguís con el ingreso registrado. Si ya terminaste, \
         registrá el egreso con /turno.",
        hora_turno(fin)
    )
}

// ---------------------------------------------------------------------------------------------
// Notes and evidence of an incident

/// A note written at the desk, pushed to the officers on the incident.
pub fn nota_de_la_central(codigo: &str, texto: &str) -> String {
    format!(
        "📝 Nota de la central sobre {codigo}: {texto}\n(Respondé a este mensaje para agregar una nota.)"
    )
}
pub fn nota_agregada(codigo: &str) -> String {
    format!("📝 Nota agregada a {codigo}.")
}
pub fn adjunto_agregado(codigo: &str, sha256: &str) -> String {
    let corto: String = sha256.chars().take(12).collect();
    format!("📎 Archivo agregado a {codigo} (SHA-256 {corto}…).")
}
pub const NOTA_USO: &str =
    "Escribí la nota después del comando, por ejemplo:\n/nota Llegamos al lugar, todo tranquilo.";
pub const SIN_INCIDENTE: &str = "No tenés un incidente en curso: la nota o el archivo se agregan al incidente al que te despacharon o asignaron. Respondé al mensaje del incidente para elegir otro.";
pub const NOTA_INVALIDA: &str = "La nota debe tener entre 1 y 2000 caracteres.";
pub const ADJUNTO_TIPO_INVALIDO: &str = "Solo se aceptan fotos (JPEG, PNG) y documentos PDF.";
pub fn adjunto_muy_grande(max_mb: usize) -> String {
    format!("El archivo supera el máximo de {max_mb} MB.")
}
pub const ADJUNTO_NO_DESCARGADO: &str =
    "No pude descargar el archivo de Telegram. Probá de nuevo en un momento.";

// Officer-safety check-ins.
pub fn checkin_pregunta(codigo: &str) -> String {
    format!(
        "🛡️ ¿Todo bien? Control de seguridad del incidente {codigo}.\n\
Respondé con un botón; si no respondés en unos minutos se avisa a la central."
    )
}
pub const ESTOY_BIEN: &str = "👍 Estoy bien";
pub const NECESITO_APOYO: &str = "🆘 Necesito apoyo";
pub fn checkin_ok(codigo: &str) -> String {
    format!("👍 Registrado: estás bien ({codigo}). Gracias.")
}
pub fn checkin_apoyo(codigo: &str, refuerzos: usize) -> String {
    if refuerzos > 0 {
        format!(
            "🆘 Pedido de apoyo registrado ({codigo}): se avisó a la central y se despachó un refuerzo."
        )
    } else {
        format!(
            "🆘 Pedido de apoyo registrado ({codigo}): se avisó a la central. No se pudo despachar \
un refuerzo automáticamente; la central se comunicará."
        )
    }
}
pub const CHECKIN_NO_CORRESPONDE: &str =
    "Ese control ya no corresponde: no estás en ese incidente.";

// Messages from the desk (`/api/v1/mensajes`).

pub const RECIBIDO: &str = "✅ Recibido";
const PIE_CONFIRMAR: &str = "\n\nTocá «Recibido» para confirmar la lectura.";
pub fn mensaje(texto: &str, confirmar: bool) -> String {
    let pie = if confirmar { PIE_CONFIRMAR } else { "" };
    format!("📨 Mensaje de la central:\n{texto}{pie}")
}
pub fn mensaje_urgente(texto: &str, confirmar: bool) -> String {
    let pie = if confirmar { PIE_CONFIRMAR } else { "" };
    format!("🚨 URGENTE — Mensaje de la central:\n{texto}{pie}")
}
pub fn mensaje_confirmado(original: &str) -> String {
    format!("{original}\n\n✅ Recibido (confirmado)")
}
pub const MENSAJE_YA_CONFIRMADO: &str = "Ese mensaje ya estaba confirmado.";
pub const MENSAJE_USO: &str =
    "Escribí /mensaje seguido del texto para la central, o respondé a un mensaje de la central.";
pub const MENSAJE_ENVIADO: &str = "📨 Tu mensaje llegó a la central.";
pub const MENSAJE_INVALIDO: &str = "El mensaje debe tener entre 1 y 2000 caracteres.";
