//! The audit rows that carry personal values: written here, read here. A person's name,
//! e-mail, DNI, phone and Telegram id inside `old_values`/`new_values`
//! (`gad_store::audit::PERSONAL_FIELDS`) are sealed with that person's key before the row is
//! inserted (the store refuses them in clear), and opened for the people allowed to read the
//! trail: level 3 (`GET /admin/audit`), the operator (`gad audit export`) and the person in their
//! own export. Erasure destroys the key (`gad_store::gdpr::anonymise`): the values read as
//! "[borrado]" from then on, while the stored rows — and so the hash chain — stay as they were.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use gad_store::audit::{self as store, AuditEntry, ERASED, PERSONAL_FIELDS};
use gad_store::{Conn, DbError, person_keys};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::personal_keys::{MasterKey, PersonKey, sealed_person};

/// What a sealed value of another person reads as in someone's own export.
pub const OTHER_PERSON: &str = "[de otra persona]";
/// What a sealed value reads as when its person's key exists but does not open it (the master
/// key was changed, or the row was altered).
pub const UNREADABLE: &str = "[ilegible]";

/// The person whose values an object of `entry` holds: the officer record's `usuario_id`, or
/// the user the entry is about.
fn subject_of(entry: &AuditEntry, v: &Value) -> Option<i64> {
    v.get("usuario_id").and_then(Value::as_i64).or_else(|| {
        (entry.resource_type.as_deref() == Some("usuario"))
            .then(|| entry.resource_id.as_deref()?.parse().ok())
            .flatten()
    })
}

/// The person's key for writing, created on first use; None when the person has been erased
/// (or does not exist).
async fn key_for_write(
    master: &MasterKey,
    db: &mut Conn,
    usuario_id: i64,
) -> Result<Option<PersonKey>, DbError> {
    let Some((fresh, wrapped)) = master.new_person_key(usuario_id) else {
        tracing::error!("no random key could be drawn for an audit entry");
        return Ok(None);
    };
    Ok(
        match person_keys::get_or_create(db, usuario_id, &wrapped).await? {
            None => None,
            Some(stored) if stored == wrapped => Some(fresh),
            Some(stored) => {
                let key = master.unwrap_key(usuario_id, &stored);
                if key.is_none() {
                    tracing::error!(
                        usuario_id,
                        "a person's audit key does not unwrap: was AUDIT_MASTER_KEY (or JWT_SECRET_KEY) changed?"
                    );
                }
                key
            }
        },
    )
}

/// Writes one audit row in `db` — the transaction of the change it records — with the personal
/// values sealed under their person's key (a person already erased has no key: their values
/// are written as "[borrado]").
pub async fn record(ctx: &Ctx, db: &mut Conn, entry: &AuditEntry) -> Result<(), DbError> {
    if store::clear_personal_field(entry).is_none() {
        return store::insert(&mut *db, entry).await;
    }
    let mut sealed = entry.clone();
    let mut keys: HashMap<i64, Option<PersonKey>> = HashMap::new();
    for slot in [&mut sealed.old_values, &mut sealed.new_values] {
        let subject = slot.as_ref().and_then(|v| subject_of(entry, v));
        let Some(Value::Object(m)) = slot else {
            continue;
        };
        if subject.is_none() {
            tracing::error!(event = %entry.event_type, "audit entry with personal values of nobody known");
        }
        for field in PERSONAL_FIELDS {
            let Some(v) = m.get_mut(field) else { continue };
            if store::is_storable_personal(v) {
                continue;
            }
            let key = match subject {
                Some(id) => {
                    if let Entry::Vacant(slot) = keys.entry(id) {
                        slot.insert(key_for_write(&ctx.personal, db, id).await?);
                    }
                    keys.get(&id).and_then(Option::as_ref)
                }
                None => None,
            };
            *v = key
                .and_then(|k| k.seal(field, v))
                .unwrap_or_else(|| Value::String(ERASED.into()));
        }
    }
    store::insert(&mut *db, &sealed).await
}

/// The people whose sealed values these `old_values`/`new_values` hold.
pub fn persons<'a>(values: impl IntoIterator<Item = &'a Option<Value>>) -> Vec<i64> {
    let mut ids = BTreeSet::new();
    for m in values.into_iter().flatten().filter_map(Value::as_object) {
        for field in PERSONAL_FIELDS {
            if let Some(id) = m.get(field).and_then(sealed_person) {
                ids.insert(id);
            }
        }
    }
    ids.into_iter().collect()
}

/// The keys needed to read some audit rows, loaded once for the people they mention.
#[derive(Default)]
pub struct Keyring {
    keys: HashMap<i64, Result<PersonKey, &'static str>>,
    /// Only this person's values are opened (someone's own export); others read
    /// [`OTHER_PERSON`].
    only: Option<i64>,
}

impl Keyring {
    /// An empty keyring (keys are added with [`Keyring::ensure`]).
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Loads the keys of `ids` (a person without a key has been erased).
    pub async fn load(master: &MasterKey, db: &mut Conn, ids: &[i64]) -> Result<Keyring, DbError> {
        let mut ring = Keyring::new();
        ring.ensure(master, db, ids).await?;
        Ok(ring)
    }

    /// Adds the keys of those of `ids` not loaded yet.
    pub async fn ensure(
        &mut self,
        master: &MasterKey,
        db: &mut Conn,
        ids: &[i64],
    ) -> Result<(), DbError> {
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !self.keys.contains_key(id))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for id in &missing {
            self.keys.insert(*id, Err(ERASED));
        }
        for (id, wrapped) in person_keys::wrapped_keys(&mut *db, &missing).await? {
            self.keys
                .insert(id, master.unwrap_key(id, &wrapped).ok_or(UNREADABLE));
        }
        Ok(())
    }

    /// The keyring of one person's own export: their values open, anyone else's are withheld.
    pub async fn of_person(master: &MasterKey, db: &mut Conn, id: i64) -> Result<Keyring, DbError> {
        let mut ring = Self::load(master, db, &[id]).await?;
        ring.only = Some(id);
        Ok(ring)
    }

    /// Opens every sealed personal value of `v` in place (or marks why it cannot be read).
    pub fn reveal(&self, v: &mut Option<Value>) {
        let Some(Value::Object(m)) = v else { return };
        for field in PERSONAL_FIELDS {
            let Some(slot) = m.get_mut(field) else {
                continue;
            };
            let Some(id) = sealed_person(slot) else {
                continue;
            };
            let plain = match (self.only, self.keys.get(&id)) {
                (Some(only), _) if only != id => Value::String(OTHER_PERSON.into()),
                (_, Some(Ok(key))) => key
                    .open(field, slot)
                    .unwrap_or_else(|| Value::String(UNREADABLE.into())),
                (_, Some(Err(marker))) => Value::String((*marker).into()),
                (_, None) => Value::String(ERASED.into()),
            };
            *slot = plain;
        }
    }
}

/// Opens the personal values of audit rows for a reader allowed to see them (level 3 or the
/// operator): `values` are every row's `old_values` and `new_values`.
pub async fn reveal<'a>(
    master: &MasterKey,
    db: &mut Conn,
    values: impl IntoIterator<Item = &'a mut Option<Value>>,
) -> Result<(), DbError> {
    let mut values: Vec<&mut Option<Value>> = values.into_iter().collect();
    let ids = persons(values.iter().map(|v| &**v));
    let ring = Keyring::load(master, db, &ids).await?;
    for v in values.iter_mut() {
        ring.reveal(v);
    }
    Ok(())
}
