//! The task state machine (contract §6) and the time bookkeeping each transition implies.
//! The database layer loads a task's `TaskClock`, asks `transition`, and writes the result in
//! the same transaction as the history row, so the rule lives here and only here.

use chrono::{DateTime, Utc};

use crate::EstadoTarea::{self, Cancelada, EnCurso, Finalizada, Pausada, Programada};

/// States reachable from `from` in one step.
pub fn allowed_targets(from: EstadoTarea) -> &'static [EstadoTarea] {
    match from {
        Programada => &[EnCurso, Cancelada],
        EnCurso => &[Pausada, Finalizada, Cancelada],
        Pausada => &[EnCurso, Cancelada],
        Finalizada | Cancelada => &[],
    }
}

pub fn is_terminal(e: EstadoTarea) -> bool {
    allowed_targets(e).is_empty()
}

/// The time fields of a task that transitions maintain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskClock {
    pub inicio_real: Option<DateTime<Utc>>,
    pub fin_real: Option<DateTime<Utc>>,
    pub pausado_en: Option<DateTime<Utc>>,
    pub tiempo_pausado_segundos: i64,
    pub duracion_real_horas: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Invalid transition from {from} to {to}")]
pub struct InvalidTransition {
    pub from: EstadoTarea,
    pub to: EstadoTarea,
    pub allowed: &'static [EstadoTarea],
}

/// Applies `from → to` at `now`. Returns the new clock or the refusal with the allowed targets.
/// `now` earlier than a stored instant (clock skew between instances) never yields negative
/// durations: elapsed times are clamped at zero.
pub fn transition(
    from: EstadoTarea,
    to: EstadoTarea,
    clock: &TaskClock,
    now: DateTime<Utc>,
) -> Result<TaskClock, InvalidTransition> {
    let allowed = allowed_targets(from);
    if !allowed.contains(&to) {
        return Err(InvalidTransition { from, to, allowed });
    }
    let mut next = clock.clone();
    // Leaving a pause (resume, or cancel while paused) closes the pause interval.
    if from == Pausada
        && let Some(p) = next.pausado_en.take()
    {
        next.tiempo_pausado_segundos += (now - p).num_seconds().max(0);
    }
    match to {
        EnCurso => {
            if next.inicio_real.is_none() {
                next.inicio_real = Some(now);
            }
        }
        Pausada => next.pausado_en = Some(now),
        Finalizada => {
            let inicio = *next.inicio_real.get_or_insert(now);
            let fin = now.max(inicio);
            next.fin_real = Some(fin);
            let worked = ((fin - inicio).num_seconds() - next.tiempo_pausado_segundos).max(0);
            next.duracion_real_horas = Some(worked as f64 / 3600.0);
        }
        Cancelada => {
            if let Some(inicio) = next.inicio_real {
                next.fin_real = Some(now.max(inicio));
            }
        }
        Programada => {}
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn full_lifecycle_accounts_pause() {
        let c0 = TaskClock::default();
        let c1 = transition(Programada, EnCurso, &c0, t0()).unwrap_or_default();
        let c2 = transition(EnCurso, Pausada, &c1, t0() + Duration::hours(1)).unwrap_or_default();
        let c3 = transition(Pausada, EnCurso, &c2, t0() + Duration::hours(2)).unwrap_or_default();
        let c4 =
            transition(EnCurso, Finalizada, &c3, t0() + Duration::hours(4)).unwrap_or_default();
        assert_eq!(c4.tiempo_pausado_segundos, 3600);
        assert_eq!(c4.duracion_real_horas, Some(3.0));
        assert_eq!(c4.inicio_real, Some(t0()));
        assert!(c4.pausado_en.is_none());
    }

    #[test]
    fn terminal_states_refuse_everything() {
        for to in EstadoTarea::ALL {
            let e = transition(Finalizada, *to, &TaskClock::default(), t0());
            assert!(e.is_err());
        }
        let e = transition(Programada, Finalizada, &TaskClock::default(), t0());
        assert_eq!(e.err().map(|e| e.allowed), Some(&[EnCurso, Cancelada][..]));
    }

    fn estado() -> impl Strategy<Value = EstadoTarea> {
        prop::sample::select(EstadoTarea::ALL.to_vec())
    }

    proptest! {
        /// Any sequence of requested transitions, applied with refusals skipped, keeps the
        /// invariants: only allowed edges are taken, durations are never negative, pause time
        /// never exceeds elapsed time, and `pausado_en` is set exactly while paused.
        #[test]
        fn random_sequences_keep_invariants(
            steps in prop::collection::vec((estado(), -3600i64..7200), 0..40)
        ) {
            let mut state = Programada;
            let mut clock = TaskClock::default();
            let mut now = t0();
            for (to, dt) in steps {
                now += Duration::seconds(dt);
                match transition(state, to, &clock, now) {
                    Ok(next) => {
                        prop_assert!(allowed_targets(state).contains(&to));
                        state = to;
                        clock = next;
                    }
                    Err(e) => prop_assert!(!e.allowed.contains(&to)),
                }
                prop_assert!(clock.tiempo_pausado_segundos >= 0);
                prop_assert_eq!(clock.pausado_en.is_some(), state == Pausada);
                if let Some(h) = clock.duracion_real_horas { prop_assert!(h >= 0.0); }
                if let (Some(i), Some(f)) = (clock.inicio_real, clock.fin_real) { prop_assert!(f >= i); }
                if state == Finalizada { prop_assert!(clock.duracion_real_horas.is_some()); }
            }
        }

        /// With time moving forward, pause time is exactly the sum of the pause intervals
        /// (an independent model), inicio_real is the first start, and the final duration is
        /// elapsed time minus pauses.
        #[test]
        fn pause_time_is_accounted_exactly(
            steps in prop::collection::vec((estado(), 0i64..7200), 0..40)
        ) {
            let mut state = Programada;
            let mut clock = TaskClock::default();
            let mut now = t0();
            let mut first_start = None;
            let mut paused_since: Option<DateTime<Utc>> = None;
            let mut paused_total = 0i64;
            for (to, dt) in steps {
                now += Duration::seconds(dt);
                let Ok(next) = transition(state, to, &clock, now) else { continue };
                if state == Pausada && let Some(p) = paused_since.take() {
                    paused_total += (now - p).num_seconds();
                }
                if to == Pausada { paused_since = Some(now); }
                if to == EnCurso && first_start.is_none() { first_start = Some(now); }
                state = to;
                clock = next;
                prop_assert_eq!(clock.tiempo_pausado_segundos, paused_total);
                prop_assert_eq!(clock.inicio_real, first_start);
                if state == Finalizada {
                    let (Some(i), Some(f), Some(h)) = (clock.inicio_real, clock.fin_real, clock.duracion_real_horas)
                        else { return Err(TestCaseError::fail("finished without times")) };
                    let worked = (f - i).num_seconds() - paused_total;
                    prop_assert!(worked >= 0);
                    prop_assert!((h * 3600.0 - worked as f64).abs() < 1e-6);
                }
            }
        }
    }
}
