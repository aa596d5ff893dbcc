//! The bot's own settings (the database, Redis and service settings are the API's `Config`).

use std::collections::HashMap;

use url::Url;

pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9102";

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
}

impl BotConfig {
    pub fn from_env() -> Result<BotConfig, String> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<BotConfig, String> {
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let token = get("TELEGRAM_TOKEN").ok_or("TELEGRAM_TOKEN is required (from BotFather)")?;
        let parse_url =
            |k: &str, v: String| Url::parse(&v).map_err(|e| format!("{k} is not a valid URL: {e}"));
        let api_url = parse_url(
            "TELEGRAM_API_URL",
            get("TELEGRAM_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
        )?;
        let webhook_url = get("TELEGRAM_WEBHOOK_URL")
            .map(|v| parse_url("TELEGRAM_WEBHOOK_URL", v))
            .transpose()?;
        let webhook_secret = get("TELEGRAM_WEBHOOK_SECRET");
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
        let num = |k: &str, default: u32, min: u32, max: u32| -> Result<u32, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or(format!(
                        "{k} must be a whole number between {min} and {max}"
                    )),
            }
        };
        Ok(BotConfig {
            token,
            api_url,
            webhook_url,
            webhook_secret,
            listen: get("BOT_LISTEN_ADDR").unwrap_or_else(|| DEFAULT_LISTEN.into()),
            poll_timeout_s: num("TELEGRAM_POLL_TIMEOUT", 25, 0, 50)?,
            rate_limit_per_minute: num("BOT_RATE_LIMIT_PER_MINUTE", 30, 1, 10_000)?,
            admin_chat_id: match get("TELEGRAM_ADMIN_CHAT_ID") {
                None => None,
                Some(v) => Some(v.parse::<i64>().map_err(|_| {
                    "TELEGRAM_ADMIN_CHAT_ID must be a Telegram chat id (an integer)".to_string()
                })?),
            },
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
}
