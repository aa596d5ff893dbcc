//! Inline-button payloads. Telegram limits `callback_data` to 64 bytes and echoes it back
//! verbatim from the client, so it only ever carries ids and closed-vocabulary codes (never free
//! text) and every press is re-checked against the database as if it were new input.

use gad_core::{EstadoDisponibilidad, EstadoTarea};

/// Telegram's limit on `callback_data`.
pub const MAX_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HistFilter {
    Todas,
    Activas,
    Finalizadas,
}

impl HistFilter {
    pub fn code(self) -> &'static str {
        match self {
            HistFilter::Todas => "t",
            HistFilter::Activas => "a",
            HistFilter::Finalizadas => "f",
        }
    }
    fn from_code(s: &str) -> Option<HistFilter> {
        match s {
            "t" => Some(HistFilter::Todas),
            "a" => Some(HistFilter::Activas),
            "f" => Some(HistFilter::Finalizadas),
            _ => None,
        }
    }
    /// The word the officer types after /historial.
    pub fn parse_word(s: &str) -> Option<HistFilter> {
        match s.trim().to_lowercase().as_str() {
            "" | "todas" => Some(HistFilter::Todas),
            "activas" => Some(HistFilter::Activas),
            "finalizadas" => Some(HistFilter::Finalizadas),
            _ => None,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            HistFilter::Todas => "todas",
            HistFilter::Activas => "activas",
            HistFilter::Finalizadas => "finalizadas",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// A page of "Mis tareas".
    TasksPage(i64),
    /// Asks to confirm moving a task to a state.
    Ask { task_id: i64, to: EstadoTarea },
    /// Confirmed: move the task.
    Confirm { task_id: i64, to: EstadoTarea },
    /// Confirmation declined.
    Dismiss,
    /// A page of the history.
    History(HistFilter, i64),
    /// Sets the officer's availability.
    Availability(EstadoDisponibilidad),
    /// Answers an emergency dispatched to the officer (accept or decline).
    Ack { task_id: i64, accept: bool },
    /// Answers "¿Vincular esta cuenta?" for the code this Telegram account redeemed. It names
    /// no code: the pending claim is looked up by the sender's Telegram id.
    Link { confirm: bool },
    /// Answers "¿Todo bien?" for a task: "Estoy bien" (`ok`) or "Necesito apoyo".
    Checkin { task_id: i64, ok: bool },
    /// Clocks in to (`ingreso`) or out of a shift of the officer's.
    Turno { id: i64, ingreso: bool },
    /// "Recibido": the officer confirms a message from the desk.
    Recibido { mensaje_id: i64 },
}

impl Callback {
    pub fn encode(&self) -> String {
        let s = match self {
            Callback::TasksPage(p) => format!("tp:{p}"),
            Callback::Ask { task_id, to } => format!("ta:{task_id}:{}", to.as_wire()),
            Callback::Confirm { task_id, to } => format!("tc:{task_id}:{}", to.as_wire()),
            Callback::Dismiss => "tx".into(),
            Callback::History(f, p) => format!("hp:{}:{p}", f.code()),
            Callback::Availability(e) => format!("ds:{}", e.as_wire()),
            Callback::Ack { task_id, accept } => format!("ak:{task_id}:{}", u8::from(*accept)),
            Callback::Link { confirm } => format!("lk:{}", u8::from(*confirm)),
            Callback::Checkin { task_id, ok } => format!("ck:{task_id}:{}", u8::from(*ok)),
            Callback::Turno { id, ingreso } => format!("tu:{id}:{}", u8::from(*ingreso)),
            Callback::Recibido { mensaje_id } => format!("mr:{mensaje_id}"),
        };
        debug_assert!(s.len() <= MAX_BYTES);
        s
    }

    pub fn decode(s: &str) -> Option<Callback> {
        if s.len() > MAX_BYTES {
            return None;
        }
        let parts: Vec<&str> = s.split(':').collect();
        let page = |p: &str| p.parse::<i64>().ok().filter(|n| (0..10_000).contains(n));
        match parts.as_slice() {
            ["tp", p] => page(p).map(Callback::TasksPage),
            ["ta", id, to] => Some(Callback::Ask {
                task_id: id.parse().ok()?,
                to: EstadoTarea::from_wire(to)?,
            }),
            ["tc", id, to] => Some(Callback::Confirm {
                task_id: id.parse().ok()?,
                to: EstadoTarea::from_wire(to)?,
            }),
            ["tx"] => Some(Callback::Dismiss),
            ["hp", f, p] => Some(Callback::History(HistFilter::from_code(f)?, page(p)?)),
            ["ds", e] => match EstadoDisponibilidad::from_wire(e)? {
                // The other states are set by dispatch, acknowledgement and arrival.
                e @ (EstadoDisponibilidad::Disponible
                | EstadoDisponibilidad::NoDisponible
                | EstadoDisponibilidad::FueraServicio) => Some(Callback::Availability(e)),
                _ => None,
            },
            ["ak", id, a] => Some(Callback::Ack {
                task_id: id.parse().ok()?,
                accept: match *a {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            }),
            ["ck", id, a] => Some(Callback::Checkin {
                task_id: id.parse().ok()?,
                ok: match *a {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            }),
            ["mr", id] => Some(Callback::Recibido {
                mensaje_id: id.parse().ok()?,
            }),
            ["lk", "1"] => Some(Callback::Link { confirm: true }),
            ["lk", "0"] => Some(Callback::Link { confirm: false }),
            ["tu", id, i] => Some(Callback::Turno {
                id: id.parse().ok()?,
                ingreso: match *i {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_round_trips_within_64_bytes() {
        let mut all = vec![
            Callback::TasksPage(9_999),
            Callback::Turno {
                id: i64::MAX,
                ingreso: false,
            },
            Callback::Dismiss,
            Callback::History(HistFilter::Finalizadas, 9_999),
            Callback::Ack {
                task_id: i64::MAX,
                accept: true,
            },
            Callback::Ack {
                task_id: i64::MAX,
                accept: false,
            },
            Callback::Link { confirm: true },
            Callback::Link { confirm: false },
            Callback::Checkin {
                task_id: i64::MAX,
                ok: true,
            },
            Callback::Checkin {
                task_id: i64::MAX,
                ok: false,
            },
        ];
        for to in EstadoTarea::ALL {
            all.push(Callback::Ask {
                task_id: i64::MAX,
                to: *to,
            });
            all.push(Callback::Confirm {
                task_id: i64::MAX,
                to: *to,
            });
        }
        for e in [
            EstadoDisponibilidad::Disponible,
            EstadoDisponibilidad::NoDisponible,
            EstadoDisponibilidad::FueraServicio,
        ] {
            all.push(Callback::Availability(e));
        }
        for c in all {
            let s = c.encode();
            assert!(s.len() <= MAX_BYTES, "{s}");
            assert_eq!(Callback::decode(&s), Some(c));
        }
    }

    #[test]
    fn forged_payloads_are_refused() {
        for s in [
            "",
            "tp:-1",
            "tp:x",
            "ta:1:volando",
            "ds:en_tarea",
            "ds:en_camino",
            "ak:1:2",
            "ck:1:2",
            "ck:x:1",
            "hp:z:0",
            "tc:1",
            "lk:2",
            "lk:1:x",
            &"x".repeat(65),
        ] {
            assert_eq!(Callback::decode(s), None, "{s}");
        }
    }
}
