//! Who is acting: the authenticated user as every use case sees it, whatever the door (HTTP
//! token, WebSocket ticket, a verified Telegram link, the CLI).

use crate::Nivel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub nivel: Nivel,
    /// The user's efectivo record, if they are an officer.
    pub efectivo_id: Option<i64>,
}

impl Actor {
    pub fn is_supervisor(&self) -> bool {
        self.nivel >= Nivel::Supervisor
    }
    pub fn is_admin(&self) -> bool {
        self.nivel >= Nivel::Administrador
    }
}
