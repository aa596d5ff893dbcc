//! The bot's own settings: its variables are declared, once each, in
//! `gad_service::config::BotVars`, and this is its check of them. The database, Redis and service
//! settings are the server's `Config`, read from the same declarations (`Vars`).

use std::collections::HashMap;

use gad_service::config::{BotVars, Environment, Vars, is_strong, too_weak};
use url::Url;

#[derive(Debug, Clone)]
pub struct BotConfig {
    /// TELEGRAM_TOKEN, from BotFather.
    pub token: String,
    /// TELEGRAM_API_URL (tests point it at a fake Bot API).
    pub api_url: Url,
    /// TELEGRAM_WEBHOOK_URL: public HTTPS URL that reaches this bot's `/telegram/webhook`;
    /// absent = long polling.
    pub webhook_url: Option<Url>,
    /// TELEGRAM_WEBHOOK_SECRET: required with a webhook; Telegram sends it back on every call.
    pub webhook_secret: Option<String>,
    /// BOT_LISTEN_ADDR: `/metrics`, `/health` and the webhook.
    pub listen: String,
    /// TELEGRAM_POLL_TIMEOUT (seconds of one long poll).
    pub poll_timeout_s: u32,
    /// BOT_RATE_LIMIT_PER_MINUTE: actions per chat and minute.
    pub rate_limit_per_minute: u32,
    /// TELEGRAM_ADMIN_CHAT_ID: the operators' chat (a group or a person) that receives the
    /// monitoring alerts forwarded from Alertmanager (issue 19); absent = not forwarded.
    pub admin_chat_id: Option<i64>,
    /// BOT_MENSAJES_POR_SEGUNDO: sends per second of this process, all chats together.
    pub mensajes_por_segundo: u32,
    /// BOT_MENSAJES_INTERVALO_CHAT_MS: least time between two sends to one chat.
    pub mensajes_intervalo_chat_ms: u32,
}

impl BotConfig {
    /// Reads the process environment; `environment` is the server configuration's (the
    /// webhook secret must be strong outside development).
    pub fn from_env(environment: Environment) -> Result<BotConfig, String> {
        Self::from_vars(&BotVars::from_env()?, environment)
    }

    /// Reads a given map (ENVIRONMENT from the same map; unset is development).
    pub fn from_map(env: &HashMap<String, String>) -> Result<BotConfig, String> {
        let environment = Vars::from_map(env)?
            .environment
            .unwrap_or(Environment::Development);
        Self::from_vars(&BotVars::from_map(env)?, environment)
    }

    pub fn from_vars(v: &BotVars, environment: Environment) -> Result<BotConfig, String> {
        let token = v
            .telegram_token
            .clone()
            .ok_or("TELEGRAM_TOKEN is required (from BotFather)")?;
        let parse_url =
            |k: &str, v: &str| Url::parse(v).map_err(|e| format!("{k} is not a valid URL: {e}"));
        let api_url = parse_url("TELEGRAM_API_URL", &v.telegram_api_url)?;
        let webhook_url = v
            .telegram_webhook_url
            .as_deref()
            .map(|u| parse_url("TELEGRAM_WEBHOOK_URL", u))
            .transpose()?;
        let webhook_secret = v.telegram_webhook_secret.clone();
        if let Some(u) = &webhook_url {
            if u.scheme() != "https" {
                return Err("TELEGRAM_WEBHOOK_URL must be https (Telegram requires it)".into());
            }
            let ok = webhook_secret.as_deref().is_some_and(|s| {
                (16..=256).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !ok {
                return Err("TELEGRAM_WEBHOOK_SECRET is required with a webhook: 16-256 characters A-Z a-z 0-9 _ -".into());
            }
        }
        // Telegram proves each webhook call with this secret alone: outside development it must
        // not be guessable (nor the .env.example placeholder).
        if !environment.is_development() && webhook_secret.as_deref().is_some_and(|s| !is_strong(s))
        {
            return Err(too_weak("TELEGRAM_WEBHOOK_SECRET"));
        }
        Ok(BotConfig {
            token,
            api_url,
            webhook_url,
            webhook_secret,
            listen: v.bot_listen_addr.clone(),
            poll_timeout_s: v.telegram_poll_timeout,
            rate_limit_per_minute: v.bot_rate_limit_per_minute,
            admin_chat_id: v.telegram_admin_chat_id,
            mensajes_por_segundo: v.bot_mensajes_por_segundo,
            mensajes_intervalo_chat_ms: v.bot_mensajes_intervalo_chat_ms,
        })
    }

    /// A summary without secrets.
    pub fn describe(&self) -> String {
        format!(
            "api_url={} mode={} listen={} poll_timeout_s={} rate_limit_per_minute={}",
            self.api_url,
            if self.webhook_url.is_some() {
                "webhook"
            } else {
                "polling"
            },
            self.listen,
            self.poll_timeout_s,
            self.rate_limit_per_minute
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn token_is_required_and_webhook_needs_a_strong_secret() {
        assert!(BotConfig::from_map(&map(&[])).is_err());
        let c = BotConfig::from_map(&map(&[("TELEGRAM_TOKEN", "1:a")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.api_url.as_str(), "https://api.telegram.org/");
        assert!(c.webhook_url.is_none());
        let weak = map(&[
            ("TELEGRAM_TOKEN", "1:a"),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://gad.example/telegram/webhook",
            ),
            ("TELEGRAM_WEBHOOK_SECRET", "short"),
        ]);
        assert!(BotConfig::from_map(&weak).is_err());
        let ok = map(&[
            ("TELEGRAM_TOKEN", "1:a"),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://gad.example/telegram/webhook",
            ),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret-token_of-enough-length"),
        ]);
        assert!(BotConfig::from_map(&ok).is_ok());
    }

    #[test]
    fn webhook_secret_placeholder_or_low_entropy_is_refused_outside_development() {
        let with = |environment: &str, secret: &str| {
            BotConfig::from_map(&map(&[
                ("ENVIRONMENT", environment),
                ("TELEGRAM_TOKEN", "1:a"),
                (
                    "TELEGRAM_WEBHOOK_URL",
                    "https://gad.example/telegram/webhook",
                ),
                ("TELEGRAM_WEBHOOK_SECRET", secret),
            ]))
        };
        for weak in [
            "replace-with-32-random-letters-digits-dashes",
            "abcdefgh-abcdefgh-abcdefgh-abcdefgh",
            "s3cret-token_of-enough-length",
        ] {
            let e = with("production", weak).err().unwrap_or_default();
            assert!(e.starts_with("TELEGRAM_WEBHOOK_SECRET"), "{weak}: {e}");
            assert!(with("development", weak).is_ok(), "{weak}");
        }
        assert!(with("staging", "Zq4-mT9_vK2xW7pL1nR6yB3cH8jF5dG0sA").is_ok());
    }

    #[test]
    fn defaults_and_one_line_refusals_naming_the_variable() {
        let c = BotConfig::from_map(&map(&[
            ("TELEGRAM_TOKEN", "1:a"),
            ("TELEGRAM_ADMIN_CHAT_ID", " -1001234567890 "),
            ("TELEGRAM_POLL_TIMEOUT", ""),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen, "0.0.0.0:9102");
        assert_eq!((c.poll_timeout_s, c.rate_limit_per_minute), (25, 30));
        assert_eq!(c.admin_chat_id, Some(-1_001_234_567_890));
        for (var, value) in [
            ("TELEGRAM_ADMIN_CHAT_ID", "ops"),
            ("TELEGRAM_POLL_TIMEOUT", "51"),
            ("BOT_RATE_LIMIT_PER_MINUTE", "0"),
            ("TELEGRAM_API_URL", "not a url"),
            (
                "TELEGRAM_WEBHOOK_URL",
                "http://gad.example/telegram/webhook",
            ),
        ] {
            let e = BotConfig::from_map(&map(&[("TELEGRAM_TOKEN", "1:a"), (var, value)]))
                .err()
                .unwrap_or_default();
            assert!(e.starts_with(var), "{var}={value}: {e}");
            assert_eq!(e.lines().count(), 1, "{var}={value}: {e}");
        }
    }
}
