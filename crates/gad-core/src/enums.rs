//! The contract's enums (§15). Each knows its PostgreSQL label (`as_db`) and its wire value
//! (`as_wire`), so the mapping lives in exactly one place.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Generates a string-valued enum with DB labels, wire values and serde using wire values.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $db:literal, $wire:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WIRE_VALUES: &'static [&'static str] = &[$($wire),+];

            pub fn as_db(self) -> &'static str {
                match self { $($name::$variant => $db),+ }
            }
            pub fn as_wire(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn from_db(s: &str) -> Option<Self> {
                match s { $($db => Some($name::$variant),)+ _ => None }
            }
            pub fn from_wire(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
            /// Human text listing the allowed wire values, used in 422 messages.
            pub fn allowed_message() -> String {
                let quoted: Vec<String> = Self::WIRE_VALUES.iter().map(|v| format!("'{v}'")).collect();
                format!("Input should be {}", quoted.join(", "))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_wire())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_wire())
            }
        }

        /// In the OpenAPI document: a string with exactly the wire values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::WIRE_VALUES.iter().copied()))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_wire(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("enum: {}", $name::allowed_message()))
                })
            }
        }
    };
}

wire_enum!(
    /// Task state (`estado_tarea`).
    EstadoTarea {
        Programada => "PROGRAMMED", "programada";
        EnCurso => "IN_PROGRESS", "en_curso";
        Pausada => "PAUSED", "pausada";
        Finalizada => "COMPLETED", "finalizada";
        Cancelada => "CANCELLED", "cancelada";
    }
);

wire_enum!(
    /// Task type (`tipo_tarea`).
    TipoTarea {
        Patrullaje => "PATRULLAJE", "patrullaje";
        Investigacion => "INVESTIGACION", "investigacion";
        Vigilancia => "VIGILANCIA", "vigilancia";
        Intervencion => "INTERVENCION", "intervencion";
        Administrativa => "ADMINISTRATIVA", "administrativa";
        Entrenamiento => "ENTRENAMIENTO", "entrenamiento";
    }
);

wire_enum!(
    /// Officer availability (`estado_disponibilidad`).
    EstadoDisponibilidad {
        Disponible => "DISPONIBLE", "disponible";
        EnTarea => "EN_TAREA", "en_tarea";
        FueraServicio => "FUERA_SERVICIO", "fuera_servicio";
        NoDisponible => "NO_DISPONIBLE", "no_disponible";
        EnCamino => "EN_CAMINO", "en_camino";
        EnEscena => "EN_ESCENA", "en_escena";
    }
);

wire_enum!(
    /// How an incident was closed (`tareas.codigo_cierre`; DB label = wire value).
    CodigoCierre {
        Resuelto => "resuelto", "resuelto";
        FalsaAlarma => "falsa_alarma", "falsa_alarma";
        Derivado => "derivado", "derivado";
        SinNovedad => "sin_novedad", "sin_novedad";
        Detenidos => "detenidos", "detenidos";
        Otro => "otro", "otro";
    }
);

impl EstadoDisponibilidad {
    /// May an officer (or a supervisor through `PUT /efectivos/{id}/disponibilidad`) move the
    /// unit from `self` to `to`? `en_tarea` and `en_camino` are entered only by dispatch and
    /// acknowledgement; `en_escena` is reached from `en_camino`/`en_tarea` (arrival). Setting the
    /// current value again is allowed (idempotent).
    pub fn may_set(self, to: EstadoDisponibilidad) -> bool {
        use EstadoDisponibilidad::*;
        if self == to {
            return true;
        }
        match to {
            EnTarea | EnCamino => false,
            EnEscena => matches!(self, EnCamino | EnTarea),
            Disponible | NoDisponible | FueraServicio => true,
        }
    }

    /// Values a unit may be moved to from `self` by that route.
    pub fn settable_from(self) -> Vec<EstadoDisponibilidad> {
        Self::ALL
            .iter()
            .copied()
            .filter(|t| *t != self && self.may_set(*t))
            .collect()
    }
}

/// Generates an integer-valued enum (wire value is a small integer).
macro_rules! int_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $n:literal => $db:literal, $label:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_db(self) -> &'static str {
                match self { $($name::$variant => $db),+ }
            }
            pub fn as_i16(self) -> i16 {
                match self { $($name::$variant => $n),+ }
            }
            /// Upper-case Spanish label (map view `priority`, stats keys).
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            pub fn from_db(s: &str) -> Option<Self> {
                match s { $($db => Some($name::$variant),)+ _ => None }
            }
            pub fn from_i64(n: i64) -> Option<Self> {
                match n { $($n => Some($name::$variant),)+ _ => None }
            }
            pub fn allowed_message() -> String {
                let vals: Vec<String> = Self::ALL.iter().map(|v| v.as_i16().to_string()).collect();
                format!("Input should be one of {}", vals.join(", "))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i16(self.as_i16())
            }
        }

        /// In the OpenAPI document: an integer with exactly the allowed values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .enum_values(Some(Self::ALL.iter().map(|v| v.as_i16())))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let n = i64::deserialize(d)?;
                $name::from_i64(n).ok_or_else(|| {
                    serde::de::Error::custom(format!("enum: {}", $name::allowed_message()))
                })
            }
        }
    };
}

int_enum!(
    /// Access level (`nivel_usuario`): 1 efectivo, 2 supervisor, 3 administrador.
    Nivel {
        Efectivo = 1 => "LEVEL_1", "EFECTIVO";
        Supervisor = 2 => "LEVEL_2", "SUPERVISOR";
        Administrador = 3 => "LEVEL_3", "ADMINISTRADOR";
    }
);

int_enum!(
    /// Task priority (`prioridad_tarea`), 1 baja … 5 crítica.
    Prioridad {
        Baja = 1 => "LOW", "BAJA";
        Media = 2 => "MEDIUM", "MEDIA";
        Alta = 3 => "HIGH", "ALTA";
        Urgente = 4 => "URGENT", "URGENTE";
        Critica = 5 => "CRITICAL", "CRITICA";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_and_wire_round_trip() {
        for e in EstadoTarea::ALL {
            assert_eq!(EstadoTarea::from_db(e.as_db()), Some(*e));
            assert_eq!(EstadoTarea::from_wire(e.as_wire()), Some(*e));
        }
        for p in Prioridad::ALL {
            assert_eq!(Prioridad::from_i64(p.as_i16() as i64), Some(*p));
            assert_eq!(Prioridad::from_db(p.as_db()), Some(*p));
        }
        assert_eq!(Nivel::from_db("LEVEL_3"), Some(Nivel::Administrador));
        assert!(Nivel::Administrador > Nivel::Supervisor);
    }

    #[test]
    fn unknown_enum_value_lists_allowed_values() {
        let err = serde_json::from_str::<EstadoTarea>("\"volando\"");
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("'programada'") && msg.contains("'cancelada'"),
            "{msg}"
        );
    }
}

wire_enum!(
    /// What a zone is (`zonas.tipo`; DB label = wire value).
    TipoZona {
        Comisaria => "comisaria", "comisaria";
        Cuadrante => "cuadrante", "cuadrante";
        Otra => "otra", "otra";
    }
);
