//! What the bot does with each update: commands and menu buttons, inline-button presses,
//! locations (a single location is an emergency report, a live location moves the officer on
//! the map). Every update is authenticated afresh from the database by the sender's Telegram
//! id, which only Telegram (through this bot) can assert.

use std::sync::Arc;

use gad_core::geo::{Lat, Lng};
use gad_core::permissions::can_set_task_state;
use gad_core::request_context::RequestContext;
use gad_core::state_machine::allowed_targets;
use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel};
use gad_service::checkins;
use gad_service::efectivos::{self, DisponibilidadBody, UbicacionBody};
use gad_service::emergency::{self, AckBody, EmergencyBody, Raised};
use gad_service::error::{bounded, validated};
use gad_service::evidencia::{self, Origen, Upload};
use gad_service::stats::{self, UserStatsQuery};
use gad_service::tasks::{self, StatusChange};
use gad_service::telegram::{self as field, LinkedOfficer as Officer};
use gad_service::telegram_link::{self as linking, Confirmed, Redeemed};
use gad_service::turnos;
use gad_service::{Ctx, ServiceError};
use serde_json::Value;
use teloxide::types::{
    CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageId, Update,
    UpdateKind,
};

use crate::callback::{Callback, HistFilter};
use crate::metrics::BotMetrics;
use crate::ratelimit::{ChatLimiter, Verdict};
use crate::task_pages::{self, Page};
use crate::telegram::{Tg, button, main_menu};
use crate::texts;

pub struct Handler {
    pub state: Ctx,
    pub tg: Tg,
    pub metrics: Arc<BotMetrics>,
    pub limiter: ChatLimiter,
}

/// Where an answer goes: a new message, or the message whose button was pressed.
#[derive(Clone, Copy)]
enum Reply {
    New(i64),
    Edit(i64, MessageId),
}

/// Who/where for audit rows: the update id stands in for the request id.
pub fn context(update_id: u32) -> RequestContext {
    RequestContext {
        ip: None,
        user_agent: Some("gad-bot (Telegram)".into()),
        request_id: Some(format!("tg-{update_id}")),
    }
}

fn failure_text(f: &ServiceError) -> &'static str {
    match f.code() {
        401 => texts::NO_VINCULADO,
        403 if matches!(f, ServiceError::Forbidden(m) if m == tasks::EMERGENCIA_LA_CIERRA_LA_CENTRAL) => {
            texts::EMERGENCIA_LA_CIERRA_LA_CENTRAL
        }
        403 => texts::SIN_PERMISO,
        404 => texts::TAREA_NO_ENCONTRADA,
        409 => texts::TRANSICION_INVALIDA,
        _ => texts::ERROR_TEMPORAL,
    }
}

fn sender_id(m: &Message) -> Option<i64> {
    m.from.as_ref().map(|u| u.id.0 as i64)
}

impl Handler {
    /// Handles one update; never fails (errors become a plain Spanish answer and a metric).
    pub async fn handle(&self, u: Update) {
        let update_id = u.id.0;
        match u.kind {
            UpdateKind::Message(m) => self.on_message(update_id, m).await,
            UpdateKind::EditedMessage(m) => {
                if m.location().is_some() {
                    self.metrics.update("live_location");
                    self.on_live_location(update_id, &m, false).await;
                } else {
                    self.metrics.update("edited_message");
                }
            }
            UpdateKind::CallbackQuery(q) => {
                self.metrics.update("callback_query");
                self.on_callback(update_id, q).await;
            }
            _ => self.metrics.update("other"),
        }
    }

    /// Runs a service-layer operation, recording its time.
    async fn timed<T>(&self, operation: &str, fut: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = fut.await;
        self.metrics
            .service_call(operation, started.elapsed().as_secs_f64());
        out
    }

    async fn reply(&self, to: Reply, text: &str, keyboard: Option<InlineKeyboardMarkup>) {
        match to {
            Reply::New(chat) => {
                let markup = keyboard.map(teloxide::types::ReplyMarkup::InlineKeyboard);
                self.tg.send(chat, text, markup).await;
            }
            Reply::Edit(chat, id) => self.tg.edit(chat, id, text, keyboard).await,
        }
    }

    async fn fail(&self, to: Reply, f: &ServiceError) {
        if f.is_server_error() {
            tracing::error!(error = %f, "bot: service failure");
            self.metrics.error("service");
        } else {
            self.metrics.error(&format!("refused_{}", f.code()));
        }
        self.reply(to, failure_text(f), None).await;
    }

    /// The linked, active officer behind `telegram_id`; otherwise the chat is told how to link.
    async fn officer(&self, chat: i64, telegram_id: i64) -> Option<Officer> {
        match field::officer_for(&self.state, telegram_id).await {
            Ok(Some(o)) => Some(o),
            Ok(None) => {
                self.metrics.error("unlinked");
                self.tg.send(chat, texts::NO_VINCULADO, None).await;
                None
            }
            Err(f) => {
                self.fail(Reply::New(chat), &f).await;
                None
            }
        }
    }

    async fn on_message(&self, update_id: u32, m: Message) {
        let chat = m.chat.id.0;
        let Some(from) = sender_id(&m) else {
            self.metrics.update("other");
            return;
        };
        if !m.chat.is_private() {
            self.metrics.update("group_message");
            return;
        }
        if let Some(loc) = m.location() {
            if loc.live_period.is_some() {
                self.metrics.update("live_location");
                self.on_live_location(update_id, &m, true).await;
                return;
            }
            self.metrics.update("location");
            if !self.allowed(chat).await {
                return;
            }
            self.on_emergency(update_id, &m, loc.latitude, loc.longitude)
                .await;
            return;
        }
        if m.photo().is_some() || m.document().is_some() {
            self.metrics.update("file");
            if self.allowed(chat).await {
                self.on_file(update_id, &m).await;
            }
            return;
        }
        let Some(text) = m.text().map(str::trim) else {
            self.metrics.update("other_message");
            return;
        };
        self.metrics.update(if text.starts_with('/') {
            "command"
        } else {
            "text"
        });
        if !self.allowed(chat).await {
            return;
        }
        let (cmd, arg) = command(text);
        let ctx = context(update_id);
        // A text answering a message from the desk is an answer to the desk.
        if cmd.is_empty()
            && let Some(r) = m.reply_to_message()
            && let Ok(true) =
                gad_service::mensajes::delivered_in(&self.state, chat, i64::from(r.id.0)).await
        {
            if let Some(o) = self.officer(chat, from).await {
                self.to_desk(chat, &o, &ctx, Some(i64::from(r.id.0)), text)
                    .await;
            }
            return;
        }
        // A text answering one of the bot's messages about an incident is a note on it.
        if cmd.is_empty()
            && let Some(r) = m.reply_to_message()
            && let Ok(Some(task_id)) =
                evidencia::task_of_message(&self.state, chat, i64::from(r.id.0)).await
        {
            if let Some(o) = self.officer(chat, from).await {
                self.note(chat, &o, &ctx, Some(task_id), text).await;
            }
            return;
        }
        match cmd.as_str() {
            "mensaje" if arg.trim().is_empty() => {
                self.tg.send(chat, texts::MENSAJE_USO, None).await;
            }
            "mensaje" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.to_desk(chat, &o, &ctx, None, &arg).await;
                }
            }
            "nota" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.note(chat, &o, &ctx, None, &arg).await;
                }
            }
            "start" | "vincular" if !arg.is_empty() => self.link(chat, from, &arg).await,
            "vincular" => {
                self.tg.send(chat, texts::VINCULAR_USO, None).await;
            }
            "desvincular" => match linking::unlink_account(&self.state, from, &ctx).await {
                Ok(_) => {
                    self.tg.send(chat, texts::DESVINCULADO, None).await;
                }
                Err(e) => self.fail(Reply::New(chat), &e).await,
            },
            "start" | "ayuda" | "help" => {
                if self.officer(chat, from).await.is_some() {
                    self.tg.send(chat, texts::AYUDA, Some(main_menu())).await;
                }
            }
            "tareas" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.show_tasks(Reply::New(chat), &o, 0).await;
                }
            }
            "historial" => {
                let Some(f) = HistFilter::parse_word(&arg) else {
                    self.tg.send(chat, texts::HISTORIAL_USO, None).await;
                    return;
                };
                if let Some(o) = self.officer(chat, from).await {
                    self.show_history(Reply::New(chat), &o, f, 0).await;
                }
            }
            "estadisticas" => {
                if let Some(o) = self.officer(chat, from).await {
                    match self.timed("user_stats", own_stats(&self.state, &o)).await {
                        Ok(v) => {
                            self.tg.send(chat, &texts::estadisticas(&v), None).await;
                        }
                        Err(f) => self.fail(Reply::New(chat), &f).await,
                    }
                }
            }
            "estado" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.show_availability(chat, &o).await;
                }
            }
            "turno" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.show_shift(chat, &o).await;
                }
            }
            "licencia" => {
                if let Some(o) = self.officer(chat, from).await {
                    self.ask_leave(chat, &o, &ctx, &arg).await;
                }
            }
            "emergencia" => {
                if self.officer(chat, from).await.is_some() {
                    self.tg
                        .send(chat, texts::PEDIR_UBICACION, Some(main_menu()))
                        .await;
                }
            }
            _ => {
                if self.officer(chat, from).await.is_some() {
                    self.tg
                        .send(chat, texts::NO_ENTIENDO, Some(main_menu()))
                        .await;
                }
            }
        }
    }

    /// An officer's answer to the desk (a reply to its message, or `/mensaje`).
    async fn to_desk(
        &self,
        chat: i64,
        o: &Officer,
        ctx: &RequestContext,
        reply_to: Option<i64>,
        text: &str,
    ) {
        match self
            .timed(
                "message_answer",
                gad_service::mensajes::answer(&self.state, &o.actor, ctx, chat, reply_to, text),
            )
            .await
        {
            Ok(_) => {
                self.tg.send(chat, texts::MENSAJE_ENVIADO, None).await;
            }
            Err(f) if f.code() == 422 => {
                self.metrics.error("refused_422");
                self.tg.send(chat, texts::MENSAJE_INVALIDO, None).await;
            }
            Err(f) => self.fail(Reply::New(chat), &f).await,
        }
    }

    /// Applies the per-chat limit; tells the chat once when it is exceeded.
    async fn allowed(&self, chat: i64) -> bool {
        match self.limiter.check(chat) {
            Verdict::Allow => true,
            Verdict::Warn => {
                self.metrics.error("rate_limited");
                self.tg.send(chat, texts::DEMASIADOS_MENSAJES, None).await;
                false
            }
            Verdict::Drop => {
                self.metrics.error("rate_limited");
                false
            }
        }
    }

    /// A code only claims the link: the chat is asked, with the account's name, whether to link.
    async fn link(&self, chat: i64, from: i64, code: &str) {
        match linking::redeem(&self.state, code, from).await {
            Ok(Redeemed::Pending {
                nombre, apellido, ..
            }) => {
                let kb = InlineKeyboardMarkup::new(vec![vec![
                    button(texts::VINCULAR_SI, &Callback::Link { confirm: true }),
                    button(texts::VINCULAR_NO, &Callback::Link { confirm: false }),
                ]]);
                self.reply(
                    Reply::New(chat),
                    &texts::confirmar_vinculo(&nombre, &apellido),
                    Some(kb),
                )
                .await;
            }
            Ok(Redeemed::InvalidCode) => {
                self.metrics.error("invalid_link_code");
                self.tg.send(chat, texts::CODIGO_INVALIDO, None).await;
            }
            Ok(Redeemed::Inactive) => {
                self.metrics.error("inactive_user");
                self.tg.send(chat, texts::CUENTA_INACTIVA, None).await;
            }
            Err(e) => self.fail(Reply::New(chat), &e).await,
        }
    }

    /// [Sí] links the account whose code this Telegram account claimed; [No] spends the code.
    async fn answer_link(
        &self,
        to: Reply,
        chat: i64,
        from: i64,
        confirm: bool,
        ctx: &RequestContext,
    ) {
        if !confirm {
            match linking::decline(&self.state, from, ctx).await {
                Ok(_) => self.reply(to, texts::VINCULO_RECHAZADO, None).await,
                Err(e) => self.fail(to, &e).await,
            }
            return;
        }
        match linking::confirm(&self.state, from, ctx).await {
            Ok(Confirmed::Linked { nombre, .. }) => {
                self.reply(to, texts::VINCULO_CONFIRMADO, None).await;
                self.tg
                    .send(chat, &texts::vinculado(&nombre), Some(main_menu()))
                    .await;
            }
            Ok(Confirmed::NothingPending) => {
                self.metrics.error("invalid_link_code");
                self.reply(to, texts::CODIGO_INVALIDO, None).await;
            }
            Ok(Confirmed::Inactive) => {
                self.metrics.error("inactive_user");
                self.reply(to, texts::CUENTA_INACTIVA, None).await;
            }
            Err(e) => self.fail(to, &e).await,
        }
    }

    async fn show_tasks(&self, to: Reply, o: &Officer, page: i64) {
        match self
            .timed("open_tasks", task_pages::open_tasks(&self.state, o, page))
            .await
        {
            Ok(p) => {
                let (text, kb) = render_open(&p);
                self.reply(to, &text, Some(kb)).await;
            }
            Err(f) => self.fail(to, &f).await,
        }
    }

    async fn show_history(&self, to: Reply, o: &Officer, f: HistFilter, page: i64) {
        match self
            .timed("history", task_pages::history(&self.state, o, f, page))
            .await
        {
            Ok(p) => {
                let (text, kb) = render_history(&p, f);
                self.reply(to, &text, Some(kb)).await;
            }
            Err(fail) => self.fail(to, &fail).await,
        }
    }

    /// `/turno`: the shift under way or next, with the button that clocks in or out of it.
    async fn show_shift(&self, chat: i64, o: &Officer) {
        let t = match self
            .timed("shift_mine", turnos::mine(&self.state, &o.actor))
            .await
        {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.tg.send(chat, texts::TURNO_NINGUNO, None).await;
                return;
            }
            Err(f) => return self.fail(Reply::New(chat), &f).await,
        };
        let fichado = t.ingreso_at.is_some();
        let (label, ingreso) = if fichado {
            (texts::BTN_EGRESO, false)
        } else {
            (texts::BTN_INGRESO, true)
        };
        let kb = InlineKeyboardMarkup::new(vec![vec![button(
            label,
            &Callback::Turno { id: t.id, ingreso },
        )]]);
        let text = texts::turno(
            t.inicio,
            t.fin,
            t.unidad.as_deref(),
            fichado,
            t.ingreso_tarde,
        );
        self.reply(Reply::New(chat), &text, Some(kb)).await;
    }

    /// `/licencia <tipo> <desde> <hasta> [motivo]`: one line, checked by the same rules as the API.
    async fn ask_leave(&self, chat: i64, o: &Officer, ctx: &RequestContext, arg: &str) {
        let mut words = arg.split_whitespace();
        let (Some(tipo), Some(desde), Some(hasta)) = (words.next(), words.next(), words.next())
        else {
            self.tg.send(chat, texts::LICENCIA_USO, None).await;
            return;
        };
        let motivo = words.collect::<Vec<_>>().join(" ");
        let (Some(tipo), Ok(desde), Ok(hasta)) = (
            turnos::TipoLicencia::parse(&tipo.to_lowercase()),
            desde.parse::<chrono::NaiveDate>(),
            hasta.parse::<chrono::NaiveDate>(),
        ) else {
            self.tg.send(chat, texts::LICENCIA_USO, None).await;
            return;
        };
        let body = match validated(turnos::LicenciaBody {
            tipo,
            desde,
            hasta,
            motivo: (!motivo.is_empty()).then_some(motivo),
        }) {
            Ok(b) => b,
            Err(_) => {
                self.tg.send(chat, texts::LICENCIA_USO, None).await;
                return;
            }
        };
        match self
            .timed(
                "leave_request",
                turnos::request_leave(&self.state, &o.actor, ctx, &body),
            )
            .await
        {
            Ok(l) => {
                let text = texts::licencia_pedida(
                    l.id,
                    &l.tipo,
                    &l.desde.to_string(),
                    &l.hasta.to_string(),
                );
                self.tg.send(chat, &text, None).await;
            }
            Err(f) => self.fail(Reply::New(chat), &f).await,
        }
    }

    async fn show_availability(&self, chat: i64, o: &Officer) {
        if o.actor.efectivo_id.is_none() {
            self.tg.send(chat, texts::SIN_EFECTIVO, None).await;
            return;
        }
        let current = field::availability(&self.state, &o.actor)
            .await
            .ok()
            .flatten();
        let row = [
            EstadoDisponibilidad::Disponible,
            EstadoDisponibilidad::NoDisponible,
            EstadoDisponibilidad::FueraServicio,
        ]
        .map(|e| button(texts::disponibilidad(e), &Callback::Availability(e)));
        let kb = InlineKeyboardMarkup::new(vec![row.to_vec()]);
        self.reply(Reply::New(chat), &texts::mi_estado(current), Some(kb))
            .await;
    }

    async fn on_emergency(&self, update_id: u32, m: &Message, lat: f64, lng: f64) {
        let chat = m.chat.id.0;
        let Some(from) = sender_id(m) else { return };
        let Some(o) = self.officer(chat, from).await else {
            return;
        };
        // Derived from the Telegram message: a re-delivered update (same chat, same message)
        // carries the same key, so the service replays the first dispatch instead of a second.
        let key = format!("tg-{chat}-{}", m.id.0);
        let ctx = context(update_id);
        match self
            .timed(
                "emergency",
                raise_emergency(&self.state, &o, &ctx, lat, lng, &key),
            )
            .await
        {
            Ok(body) => {
                let text = self.dispatched_text(&body).await;
                self.tg.send(chat, &text, Some(main_menu())).await;
            }
            Err(f) if f.code() == 404 => {
                self.metrics.error("emergency_none_available");
                self.tg
                    .send(chat, texts::EMERGENCIA_SIN_EFECTIVOS, Some(main_menu()))
                    .await;
            }
            Err(ServiceError::RateLimited {
                limit,
                retry_after_seconds,
                ..
            }) => {
                self.metrics.error("emergency_rate_limited");
                let text = texts::emergencia_limitada(limit, retry_after_seconds);
                self.tg.send(chat, &text, Some(main_menu())).await;
            }
            Err(f) => self.fail(Reply::New(chat), &f).await,
        }
    }

    /// "Who is coming and how far", from the dispatch answer.
    async fn dispatched_text(&self, body: &Value) -> String {
        let efectivo_id = body["assigned_efectivo_id"].as_i64().unwrap_or_default();
        let who = field::officer_name(&self.state, efectivo_id)
            .await
            .ok()
            .flatten();
        let (nombre, codigo_interno) = who.unwrap_or_else(|| ("un efectivo".into(), "-".into()));
        texts::emergencia_despachada(
            &nombre,
            &codigo_interno,
            body["distance_m"].as_f64().unwrap_or_default(),
            body["codigo"].as_str().unwrap_or(""),
        )
    }

    /// The incident a note or file goes to: the one named (a reply), else the officer's current
    /// one; the chat is told when there is none.
    async fn incident_for(&self, chat: i64, o: &Officer, named: Option<i64>) -> Option<i64> {
        if named.is_some() {
            return named;
        }
        match evidencia::current_task(&self.state, &o.actor).await {
            Ok(Some(t)) => Some(t),
            Ok(None) => {
                self.metrics.error("no_incident");
                self.tg.send(chat, texts::SIN_INCIDENTE, None).await;
                None
            }
            Err(f) => {
                self.fail(Reply::New(chat), &f).await;
                None
            }
        }
    }

    /// `/nota TEXTO` or a reply: a note (origen telegram) on the incident.
    async fn note(
        &self,
        chat: i64,
        o: &Officer,
        ctx: &RequestContext,
        named: Option<i64>,
        texto: &str,
    ) {
        if texto.trim().is_empty() {
            self.tg.send(chat, texts::NOTA_USO, None).await;
            return;
        }
        let Some(task_id) = self.incident_for(chat, o, named).await else {
            return;
        };
        let r = self
            .timed(
                "add_note",
                evidencia::add_note(&self.state, &o.actor, ctx, task_id, texto, Origen::Telegram),
            )
            .await;
        match r {
            Ok(_) => {
                let codigo = evidencia::task_code(&self.state, &o.actor, task_id)
                    .await
                    .unwrap_or_default();
                self.tg
                    .send(chat, &texts::nota_agregada(&codigo), None)
                    .await;
            }
            Err(f) if f.code() == 422 => {
                self.metrics.error("refused_422");
                self.tg.send(chat, texts::NOTA_INVALIDA, None).await;
            }
            Err(f) => self.fail(Reply::New(chat), &f).await,
        }
    }

    /// A photo (its largest size) or a document: an attachment of the incident the message
    /// answers, or — with a caption — of the officer's current incident.
    async fn on_file(&self, update_id: u32, m: &Message) {
        let chat = m.chat.id.0;
        let Some(from) = sender_id(m) else { return };
        let Some(o) = self.officer(chat, from).await else {
            return;
        };
        let named = match m.reply_to_message() {
            Some(r) => evidencia::task_of_message(&self.state, chat, i64::from(r.id.0))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        if named.is_none() && m.caption().is_none() {
            self.metrics.error("no_incident");
            self.tg.send(chat, texts::SIN_INCIDENTE, None).await;
            return;
        }
        let Some(task_id) = self.incident_for(chat, &o, named).await else {
            return;
        };
        let (meta, nombre, declarado) = if let Some(sizes) = m.photo() {
            let Some(big) = sizes
                .iter()
                .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
            else {
                return;
            };
            (big.file.clone(), format!("foto-{}.jpg", m.id.0), None)
        } else if let Some(d) = m.document() {
            (
                d.file.clone(),
                d.file_name.clone().unwrap_or_default(),
                d.mime_type.as_ref().map(ToString::to_string),
            )
        } else {
            return;
        };
        let max = self.state.config.adjuntos.max_bytes;
        if meta.size as usize > max {
            self.metrics.error("refused_413");
            let text = texts::adjunto_muy_grande(max / (1024 * 1024));
            self.tg.send(chat, &text, None).await;
            return;
        }
        let Some(bytes) = self.download(&meta.id, max).await else {
            self.tg.send(chat, texts::ADJUNTO_NO_DESCARGADO, None).await;
            return;
        };
        let upload = Upload {
            nombre,
            declarado,
            bytes,
        };
        let ctx = context(update_id);
        let r = self
            .timed(
                "add_attachment",
                evidencia::add_attachment(
                    &self.state,
                    &o.actor,
                    &ctx,
                    task_id,
                    upload,
                    Origen::Telegram,
                ),
            )
            .await;
        match r {
            Ok(a) => {
                let codigo = evidencia::task_code(&self.state, &o.actor, task_id)
                    .await
                    .unwrap_or_default();
                let text = texts::adjunto_agregado(&codigo, &a.sha256);
                self.tg.send(chat, &text, None).await;
            }
            Err(f) if f.code() == 422 => {
                self.metrics.error("refused_422");
                self.tg.send(chat, texts::ADJUNTO_TIPO_INVALIDO, None).await;
            }
            Err(f) if f.code() == 413 => {
                self.metrics.error("refused_413");
                let text = texts::adjunto_muy_grande(max / (1024 * 1024));
                self.tg.send(chat, &text, None).await;
            }
            Err(f) => self.fail(Reply::New(chat), &f).await,
        }
    }

    /// A file from Telegram (getFile, then its download URL), at most `max` bytes.
    async fn download(&self, file_id: &str, max: usize) -> Option<axum::body::Bytes> {
        use futures::StreamExt;
        use teloxide::net::Download;
        use teloxide::prelude::{Request, Requester};
        let file = self
            .tg
            .call("getFile", || {
                self.tg.bot.get_file(file_id.to_string()).send()
            })
            .await
            .map_err(|e| tracing::warn!(error = %e, "telegram: getFile failed"))
            .ok()?;
        let mut stream = self.tg.bot.download_file_stream(&file.path);
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| tracing::warn!(error = %e, "telegram: file download failed"))
                .ok()?;
            if buf.len() + chunk.len() > max {
                return None;
            }
            buf.extend_from_slice(&chunk);
        }
        self.metrics.api_call("downloadFile", 0.0);
        Some(buf.into())
    }

    async fn on_live_location(&self, _update_id: u32, m: &Message, first: bool) {
        let chat = m.chat.id.0;
        let (Some(from), Some(loc)) = (sender_id(m), m.location()) else {
            return;
        };
        let o = if first {
            self.officer(chat, from).await
        } else {
            // Edits arrive every few seconds: no reply when unlinked, just ignore them.
            field::officer_for(&self.state, from).await.ok().flatten()
        };
        let Some(o) = o else { return };
        let Some(efectivo_id) = o.actor.efectivo_id else {
            if first {
                self.tg.send(chat, texts::SIN_EFECTIVO, None).await;
            }
            return;
        };
        let fix = || -> Result<UbicacionBody, ServiceError> {
            Ok(UbicacionBody {
                lat: bounded("lat", loc.latitude, Lat::new)?,
                lng: bounded("lng", loc.longitude, Lng::new)?,
                accuracy_m: loc.horizontal_accuracy,
                heading: loc.heading.map(f64::from),
                speed: None,
                // The fix's own time (Telegram's edit date of a live location): edits
                // that arrive out of order never move the officer back.
                recorded_at: Some(m.edit_date().copied().unwrap_or(m.date)),
            })
        };
        let r = self
            .timed("set_location", async {
                set_location(&self.state, &o, efectivo_id, fix()?).await
            })
            .await;
        match r {
            Ok(_) if first => {
                self.tg.send(chat, texts::UBICACION_EN_VIVO, None).await;
            }
            Ok(_) => {}
            Err(f) if first => self.fail(Reply::New(chat), &f).await,
            Err(_) => self.metrics.error("live_location"),
        }
    }

    async fn on_callback(&self, update_id: u32, q: CallbackQuery) {
        self.tg.answer_callback(&q.id).await;
        let Some(msg) = q.message.as_ref() else {
            return;
        };
        let chat = msg.chat().id.0;
        let to = Reply::Edit(chat, msg.id());
        if !self.allowed(chat).await {
            return;
        }
        let Some(cb) = q.data.as_deref().and_then(Callback::decode) else {
            self.metrics.error("bad_callback");
            return;
        };
        let ctx = context(update_id);
        // Answering "¿Vincular esta cuenta?" comes before the account is linked.
        if let Callback::Link { confirm } = cb {
            self.answer_link(to, chat, q.from.id.0 as i64, confirm, &ctx)
                .await;
            return;
        }
        let Some(o) = self.officer(chat, q.from.id.0 as i64).await else {
            return;
        };
        match cb {
            Callback::Link { .. } => {} // answered above
            Callback::Recibido { mensaje_id } => {
                let original = msg
                    .regular_message()
                    .and_then(|m| m.text())
                    .unwrap_or_default()
                    .to_string();
                match gad_service::mensajes::confirm(&self.state, o.actor.id, mensaje_id).await {
                    Ok(Some(_)) => {
                        self.reply(to, &texts::mensaje_confirmado(&original), None)
                            .await
                    }
                    Ok(None) => {
                        self.tg.send(chat, texts::MENSAJE_YA_CONFIRMADO, None).await;
                    }
                    Err(f) => self.fail(Reply::New(chat), &f).await,
                }
            }
            Callback::Turno { id, ingreso } => {
                let done = if ingreso {
                    self.timed(
                        "shift_clock_in",
                        turnos::clock_in(&self.state, &o.actor, &ctx, id),
                    )
                    .await
                } else {
                    self.timed(
                        "shift_clock_out",
                        turnos::clock_out(&self.state, &o.actor, &ctx, id),
                    )
                    .await
                };
                match done {
                    Ok(t) if ingreso => {
                        self.reply(to, texts::ingreso_registrado(t.ingreso_tarde), None)
                            .await
                    }
                    Ok(_) => self.reply(to, texts::EGRESO_REGISTRADO, None).await,
                    // The roster's refusals are already sentences for the officer.
                    Err(ServiceError::Refused(m)) => self.reply(to, &m, None).await,
                    Err(f) => self.fail(to, &f).await,
                }
            }
            Callback::TasksPage(p) => self.show_tasks(to, &o, p).await,
            Callback::History(f, p) => self.show_history(to, &o, f, p).await,
            Callback::Dismiss => self.reply(to, texts::OPERACION_CANCELADA, None).await,
            Callback::Ask {
                task_id,
                to: estado,
            } => match task_pages::own_task(&self.state, &o, task_id).await {
                Ok(Some(t)) => {
                    let text =
                        texts::confirmar(texts::accion(t.estado, estado), &t.codigo, &t.titulo);
                    let kb = InlineKeyboardMarkup::new(vec![vec![
                        button(
                            texts::SI,
                            &Callback::Confirm {
                                task_id,
                                to: estado,
                            },
                        ),
                        button(texts::NO, &Callback::Dismiss),
                    ]]);
                    self.reply(to, &text, Some(kb)).await;
                }
                Ok(None) => self.reply(to, texts::TAREA_NO_ENCONTRADA, None).await,
                Err(f) => self.fail(to, &f).await,
            },
            Callback::Confirm {
                task_id,
                to: estado,
            } => {
                // The bot only acts on the officer's own tasks, whatever their level.
                match task_pages::own_task(&self.state, &o, task_id).await {
                    Ok(Some(t)) => {
                        match self
                            .timed(
                                "change_status",
                                tasks::change_status(
                                    &self.state,
                                    &o.actor,
                                    &ctx,
                                    task_id,
                                    &StatusChange {
                                        estado,
                                        nota: Some("desde Telegram".into()),
                                        codigo_cierre: None,
                                        resumen: None,
                                    },
                                ),
                            )
                            .await
                        {
                            Ok(_) => {
                                let text = texts::transicion_hecha(&t.codigo, t.estado, estado);
                                self.reply(to, &text, None).await;
                            }
                            Err(f) => self.fail(to, &f).await,
                        }
                    }
                    Ok(None) => self.reply(to, texts::TAREA_NO_ENCONTRADA, None).await,
                    Err(f) => self.fail(to, &f).await,
                }
            }
            Callback::Ack { task_id, accept } => {
                let codigo = task_pages::own_task(&self.state, &o, task_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|t| t.codigo)
                    .unwrap_or_default();
                match self
                    .timed(
                        "ack",
                        answer_dispatch(&self.state, &o, &ctx, task_id, accept),
                    )
                    .await
                {
                    Ok(_) if accept => self.reply(to, &texts::aceptada(&codigo), None).await,
                    Ok(_) => self.reply(to, &texts::rechazada(&codigo), None).await,
                    Err(f) if f.code() == 409 || f.code() == 404 => {
                        self.metrics.error(&format!("refused_{}", f.code()));
                        self.reply(to, texts::ACK_YA_RESPONDIDA, None).await;
                    }
                    Err(f) => self.fail(to, &f).await,
                }
            }
            Callback::Checkin { task_id, ok } => {
                let respuesta = if ok {
                    checkins::Respuesta::Ok
                } else {
                    checkins::Respuesta::Apoyo
                };
                match self
                    .timed(
                        "checkin",
                        checkins::answer(&self.state, &o.actor, &ctx, task_id, respuesta),
                    )
                    .await
                {
                    Ok(a) => {
                        let codigo = evidencia::task_code(&self.state, &o.actor, task_id)
                            .await
                            .unwrap_or_default();
                        let text = if ok {
                            texts::checkin_ok(&codigo)
                        } else {
                            texts::checkin_apoyo(&codigo, a.refuerzos.len())
                        };
                        self.reply(to, &text, None).await;
                    }
                    Err(f) if f.code() == 404 => {
                        self.metrics.error("refused_404");
                        self.reply(to, texts::CHECKIN_NO_CORRESPONDE, None).await;
                    }
                    Err(f) => self.fail(to, &f).await,
                }
            }
            Callback::Availability(e) => {
                let Some(efectivo_id) = o.actor.efectivo_id else {
                    self.reply(to, texts::SIN_EFECTIVO, None).await;
                    return;
                };
                match self
                    .timed(
                        "set_availability",
                        efectivos::set_availability(
                            &self.state,
                            &o.actor,
                            &ctx,
                            efectivo_id,
                            &DisponibilidadBody { estado: e },
                        ),
                    )
                    .await
                {
                    Ok(_) => self.reply(to, &texts::estado_cambiado(e), None).await,
                    Err(f) => self.fail(to, &f).await,
                }
            }
        }
    }
}

/// The officer's own statistics over the last 30 days.
async fn own_stats(state: &Ctx, o: &Officer) -> Result<Value, ServiceError> {
    let q = UserStatsQuery {
        days: Some(30),
        use_cache: Some(true),
    };
    stats::user_stats(state, &o.actor, o.actor.id, &q).await
}

/// Raises an emergency at the shared point. `key` is derived from the Telegram message, so a
/// re-delivered update replays the first dispatch. Answers the dispatch's body.
async fn raise_emergency(
    state: &Ctx,
    o: &Officer,
    ctx: &RequestContext,
    lat: f64,
    lng: f64,
    key: &str,
) -> Result<Value, ServiceError> {
    let body = validated(EmergencyBody {
        lat: Some(bounded("lat", lat, Lat::new)?),
        lng: Some(bounded("lng", lng, Lng::new)?),
        telegram_id: Some(o.telegram_id),
        descripcion: Some(texts::emergencia_descripcion(&o.nombre)),
        radius_m: None,
        tipo_incidente: None,
        prioridad: None,
        direccion: None,
        referencia: None,
        denunciante: None,
    })?;
    match emergency::raise(state, &o.actor, ctx, &body, Some(key)).await? {
        Raised::Assigned(d) => Ok(d.body),
        Raised::Replay { body, .. } => Ok(body),
    }
}

async fn set_location(
    state: &Ctx,
    o: &Officer,
    efectivo_id: i64,
    fix: UbicacionBody,
) -> Result<(), ServiceError> {
    let fix = validated(fix)?;
    efectivos::set_location(state, &o.actor, efectivo_id, fix).await?;
    Ok(())
}

/// Accepts or declines the emergency dispatched to the officer (a decline calls the next).
async fn answer_dispatch(
    state: &Ctx,
    o: &Officer,
    ctx: &RequestContext,
    task_id: i64,
    accept: bool,
) -> Result<(), ServiceError> {
    let body = AckBody {
        accept,
        motivo: (!accept).then(|| "rechazada desde Telegram".to_string()),
        efectivo_id: o.actor.efectivo_id,
    };
    emergency::ack(state, &o.actor, ctx, task_id, &body).await?;
    Ok(())
}

/// `/cmd@bot arg…` → ("cmd", "arg…"); the menu buttons map to their commands.
fn command(text: &str) -> (String, String) {
    match text {
        texts::BTN_TAREAS => return ("tareas".into(), String::new()),
        texts::BTN_ESTADO => return ("estado".into(), String::new()),
        texts::BTN_STATS => return ("estadisticas".into(), String::new()),
        texts::BTN_SOS => return ("emergencia".into(), String::new()),
        _ => {}
    }
    let Some(rest) = text.strip_prefix('/') else {
        return (String::new(), text.to_string());
    };
    let (head, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let cmd = head.split('@').next().unwrap_or("").to_lowercase();
    (cmd, arg.trim().to_string())
}

fn nav_row(page: &Page, make: impl Fn(i64) -> Callback) -> Vec<InlineKeyboardButton> {
    let mut row = Vec::new();
    if page.page > 0 {
        row.push(button(texts::ANTERIOR, &make(page.page - 1)));
    }
    if page.page + 1 < page.pages {
        row.push(button(texts::SIGUIENTE, &make(page.page + 1)));
    }
    row
}

fn render_open(p: &Page) -> (String, InlineKeyboardMarkup) {
    if p.tasks.is_empty() {
        return (
            texts::SIN_TAREAS.into(),
            InlineKeyboardMarkup::new(Vec::<Vec<_>>::new()),
        );
    }
    let mut text = texts::tareas_titulo(p.page, p.pages);
    let mut rows = Vec::new();
    for t in &p.tasks {
        text.push_str(&format!(
            "\n\n• {} — {}\n  Estado: {}",
            t.codigo,
            t.titulo,
            texts::estado(t.estado)
        ));
        // The bot is the field's tool: it offers only what an officer may do (an emergency is
        // closed by the desk, so it gets no "Finalizar"/"Cancelar").
        let row: Vec<InlineKeyboardButton> = allowed_targets(t.estado)
            .iter()
            .filter(|to| **to != EstadoTarea::Programada)
            .filter(|to| can_set_task_state(Nivel::Efectivo, t.es_emergencia, **to))
            .map(|to| {
                button(
                    format!("{} {}", texts::accion(t.estado, *to), t.codigo),
                    &Callback::Ask {
                        task_id: t.id,
                        to: *to,
                    },
                )
            })
            .collect();
        if !row.is_empty() {
            rows.push(row);
        }
    }
    let nav = nav_row(p, Callback::TasksPage);
    if !nav.is_empty() {
        rows.push(nav);
    }
    (text, InlineKeyboardMarkup::new(rows))
}

fn render_history(p: &Page, f: HistFilter) -> (String, InlineKeyboardMarkup) {
    if p.tasks.is_empty() {
        return (
            texts::SIN_HISTORIAL.into(),
            InlineKeyboardMarkup::new(Vec::<Vec<_>>::new()),
        );
    }
    let mut text = texts::historial_titulo(f.word(), p.page, p.pages);
    for t in &p.tasks {
        text.push_str(&format!(
            "\n• {} — {} ({})",
            t.codigo,
            t.titulo,
            texts::estado(t.estado)
        ));
    }
    let nav = nav_row(p, |n| Callback::History(f, n));
    let rows = if nav.is_empty() { vec![] } else { vec![nav] };
    (text, InlineKeyboardMarkup::new(rows))
}
