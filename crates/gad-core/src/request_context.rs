//! Where a request came from, for audit rows (filled by the HTTP extractor, the bot and the CLI).

/// Who/where of a request, for audit rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}
