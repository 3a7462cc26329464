//! The limits that hold whatever a policy says: cooldown per (container, policy) and a global
//! circuit breaker on the number of responses per window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Cooldowns and the circuit breaker, checked and updated under one lock by the guard.
#[derive(Debug)]
pub struct Safeguards {
    cooldowns: HashMap<(String, String), Instant>,
    breaker: VecDeque<Instant>,
    breaker_max: u32,
    breaker_window: Duration,
}

impl Safeguards {
    /// At most `breaker_max` responses per `breaker_window`.
    pub fn new(breaker_max: u32, breaker_window: Duration) -> Self {
        Safeguards {
            cooldowns: HashMap::new(),
            breaker: VecDeque::new(),
            breaker_max,
            breaker_window,
        }
    }

    /// When the cooldown of `policy` on `container` ends, if it has not yet at `now`.
    pub fn cooling(&self, container: &str, policy: &str, now: Instant) -> Option<Instant> {
        self.cooldowns
            .get(&(container.to_owned(), policy.to_owned()))
            .copied()
            .filter(|until| *until > now)
    }

    /// Starts a cooldown of `length` for `policy` on `container`.
    pub fn start_cooldown(
        &mut self,
        container: &str,
        policy: &str,
        now: Instant,
        length: Duration,
    ) {
        self.cooldowns.retain(|_, until| *until > now);
        self.cooldowns
            .insert((container.to_owned(), policy.to_owned()), now + length);
    }

    /// Ends every cooldown of `container` (after a release, a new attack must be answered).
    pub fn clear_container(&mut self, container: &str) {
        self.cooldowns.retain(|(c, _), _| c != container);
    }

    /// Takes one response from the breaker at `now`; false when the breaker is open.
    pub fn admit(&mut self, now: Instant) -> bool {
        while self
            .breaker
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.breaker_window)
        {
            self.breaker.pop_front();
        }
        if self.breaker.len() >= self.breaker_max as usize {
            return false;
        }
        self.breaker.push_back(now);
        true
    }

    /// Responses counted in the current window.
    pub fn breaker_count(&self) -> usize {
        self.breaker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_is_per_container_and_policy_and_expires() {
        let mut s = Safeguards::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        s.start_cooldown("c1", "p", t0, Duration::from_secs(30));
        assert!(s.cooling("c1", "p", t0 + Duration::from_secs(29)).is_some());
        assert!(s.cooling("c1", "q", t0).is_none());
        assert!(s.cooling("c2", "p", t0).is_none());
        assert!(s.cooling("c1", "p", t0 + Duration::from_secs(30)).is_none());
        s.start_cooldown("c1", "p", t0, Duration::from_secs(30));
        s.clear_container("c1");
        assert!(s.cooling("c1", "p", t0).is_none());
    }

    #[test]
    fn the_breaker_opens_at_the_limit_and_closes_as_the_window_slides() {
        let mut s = Safeguards::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(s.admit(t0));
        assert!(s.admit(t0 + Duration::from_secs(10)));
        assert!(!s.admit(t0 + Duration::from_secs(20)));
        assert_eq!(s.breaker_count(), 2);
        assert!(s.admit(t0 + Duration::from_secs(60)));
        assert!(!s.admit(t0 + Duration::from_secs(61)));
        let mut closed = Safeguards::new(0, Duration::from_secs(60));
        assert!(!closed.admit(t0));
    }
}
