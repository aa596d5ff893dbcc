//! Per-chat limit on what an officer can make the bot do: a fixed one-minute window per chat.
//! Past the limit the chat is told once, then ignored until the window ends. Live-location
//! edits are not counted (Telegram sends them on its own, every few seconds).

use std::time::{Duration, Instant};

use dashmap::DashMap;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// First refusal in this window: tell the officer.
    Warn,
    Drop,
}

struct Window {
    started: Instant,
    count: u32,
}

pub struct ChatLimiter {
    per_minute: u32,
    chats: DashMap<i64, Window>,
}

impl ChatLimiter {
    pub fn new(per_minute: u32) -> ChatLimiter {
        ChatLimiter {
            per_minute: per_minute.max(1),
            chats: DashMap::new(),
        }
    }

    pub fn check(&self, chat: i64) -> Verdict {
        let now = Instant::now();
        if self.chats.len() > 100_000 {
            self.chats
                .retain(|_, w| now.duration_since(w.started) < WINDOW);
        }
        let mut w = self.chats.entry(chat).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(w.started) >= WINDOW {
            w.started = now;
            w.count = 0;
        }
        w.count += 1;
        if w.count <= self.per_minute {
            Verdict::Allow
        } else if w.count == self.per_minute + 1 {
            Verdict::Warn
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chat_has_its_own_window_and_is_warned_once() {
        let l = ChatLimiter::new(3);
        let seen: Vec<Verdict> = (0..6).map(|_| l.check(1)).collect();
        assert_eq!(
            seen,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Warn,
                Verdict::Drop,
                Verdict::Drop
            ]
        );
        assert_eq!(l.check(2), Verdict::Allow);
    }
}
