//! The one table of WhatsApp API error codes as results explain them: each code's name, its usual
//! cause and what to do about it. The codes are those the embedded simulator models and the driver
//! classifies (Meta's error-code reference); the summary, report.html and
//! failures.csv's readers take names and advice from here, nowhere else. Retry behaviour is not here:
//! it belongs to the driver (`drivers::whatsapp::codes`).

/// One error code explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: i64,
    /// Meta's title for the code (short).
    pub name: &'static str,
    /// Why it usually happens.
    pub cause: &'static str,
    /// What to do about it.
    pub action: &'static str,
}

const fn c(code: i64, name: &'static str, cause: &'static str, action: &'static str) -> CodeInfo {
    CodeInfo { code, name, cause, action }
}

/// Every code known, ascending.
pub const CODES: &[CodeInfo] = &[
    c(
        1,
        "API unknown",
        "invalid request or a possible server error",
        "retry with back-off; check the request if it persists",
    ),
    c(
        2,
        "API service",
        "the API is temporarily unavailable (updates, up to 5 minutes)",
        "wait about 5 minutes, then retry",
    ),
    c(
        4,
        "API too many calls",
        "the app's call rate limit was reached",
        "back off and spread the load; ask Meta for a higher limit",
    ),
    c(
        10,
        "Permission denied",
        "the token lacks a permission, or the number is not enabled for the API",
        "grant whatsapp_business_messaging to the token's system user",
    ),
    c(
        100,
        "Invalid parameter",
        "a parameter is missing, misspelled or of the wrong type",
        "fix the request body; it is never retried",
    ),
    c(
        190,
        "Access token expired",
        "the access token is invalid or expired",
        "renew the token (token_env / token_file) and check its permissions",
    ),
    c(
        368,
        "Temporarily blocked for policy violations",
        "the account was restricted for violating policy",
        "review the account's quality and policy status in WhatsApp Manager",
    ),
    c(
        470,
        "Re-engagement message (On-Premises)",
        "more than 24 hours since the user last wrote",
        "send an approved template to start a conversation",
    ),
    c(1000, "Generic user error (On-Premises)", "the request could not be processed", "check the request body"),
    c(1001, "Message too long (On-Premises)", "the text exceeds the API's length limit", "shorten messages.text_body"),
    c(
        1005,
        "Access denied (On-Premises)",
        "the login has no right to this call",
        "log in as a user with the needed role",
    ),
    c(
        1006,
        "Resource not found (On-Premises)",
        "a referenced object (media, template) does not exist",
        "check ids and names in the profile",
    ),
    c(1008, "Required parameter is missing (On-Premises)", "the body lacks a required field", "fix the request body"),
    c(
        1009,
        "Parameter value is not valid (On-Premises)",
        "a field has a value the API rejects",
        "fix the request body",
    ),
    c(
        1013,
        "User is not valid (On-Premises)",
        "the recipient is not a WhatsApp user",
        "remove the number from the recipients",
    ),
    c(1014, "Internal error (On-Premises)", "the CoreApp failed", "retry with back-off; check the CoreApp logs"),
    c(
        1015,
        "Too many requests (On-Premises)",
        "over the /v1/messages request limit (50 rps, burst 150)",
        "lower the rate or add shards",
    ),
    c(
        1016,
        "System overloaded (On-Premises)",
        "the CoreApps' queues are full",
        "lower the rate, or add CoreApp shards",
    ),
    c(
        1026,
        "Receiver incapable (On-Premises)",
        "the recipient's client cannot receive this message",
        "send another kind of message",
    ),
    c(80007, "WABA rate limit", "the business account's rate limit was reached", "back off and spread the load"),
    c(
        130429,
        "Throughput limit reached",
        "above the phone number's messages per second (80 by default)",
        "lower the rate, or qualify the number for higher throughput",
    ),
    c(
        130472,
        "User's number is part of an experiment",
        "Meta held a marketing message back for an experiment",
        "nothing to fix; do not resend",
    ),
    c(131000, "Something went wrong", "a transient server error", "retry with back-off"),
    c(
        131008,
        "Required parameter is missing",
        "the body lacks a required field",
        "fix the request body; it is never retried",
    ),
    c(
        131009,
        "Parameter value is not valid",
        "a field has a value the API rejects",
        "fix the request body; it is never retried",
    ),
    c(131016, "Service unavailable", "a service is temporarily unavailable", "retry with back-off"),
    c(
        131026,
        "Message undeliverable",
        "not a WhatsApp number, terms not accepted, an old client, or the business is blocked",
        "remove the number; do not retry",
    ),
    c(
        131047,
        "Re-engagement message",
        "a free-form message more than 24 hours after the user last wrote",
        "send an approved template to start a conversation (messages.template)",
    ),
    c(
        131048,
        "Spam rate limit hit",
        "too many earlier messages were blocked or flagged, or the messaging limit is spent",
        "improve quality; send templates to fewer new users per 24 hours",
    ),
    c(
        131049,
        "Not sent to maintain a healthy ecosystem",
        "the per-user marketing template limit",
        "send later, not immediately; fewer marketing messages per user",
    ),
    c(
        131050,
        "User stopped marketing messages",
        "the user opted out of the business's marketing",
        "do not send marketing templates to that user",
    ),
    c(
        131053,
        "Media upload error",
        "Meta could not download the media link",
        "make media links reachable, or upload and send by media id",
    ),
    c(
        131056,
        "Pair rate limit hit",
        "too many messages to one recipient (1 per 6 s, bursts borrow from later)",
        "spread messages over more recipients; wait 4^X s for that one",
    ),
    c(
        131057,
        "Account in maintenance",
        "a throughput upgrade is in progress (about 1 minute)",
        "wait a minute, then retry",
    ),
    c(
        131062,
        "Business-scoped user ID not supported",
        "an authentication template sent to a business-scoped user ID",
        "send authentication templates to phone numbers",
    ),
    c(
        132000,
        "Number of parameters does not match",
        "the template's body takes another number of parameters",
        "set messages.template_params (or template_body_params) to the template's count",
    ),
    c(
        132001,
        "Template does not exist",
        "no approved template of that name in that language",
        "check messages.template_name and template_language against the approved templates",
    ),
    c(
        132012,
        "Parameter format does not match",
        "a parameter's type differs from the template's",
        "send parameters of the template's types",
    ),
    c(
        132015,
        "Template is paused",
        "the template was paused for low quality",
        "fix the template's quality or use another template",
    ),
    c(132016, "Template is disabled", "the template was paused too many times", "create a new template"),
];

/// The explanation of `code`, when it is known.
pub fn info(code: i64) -> Option<&'static CodeInfo> {
    CODES.binary_search_by_key(&code, |c| c.code).ok().map(|i| &CODES[i])
}

/// The code's name, or "unknown code" for one not in the table.
pub fn name(code: i64) -> &'static str {
    info(code).map_or("unknown code", |c| c.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_each_code_once() {
        assert!(CODES.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(info(131047).map(|c| c.name), Some("Re-engagement message"));
        assert_eq!(name(424242), "unknown code");
    }

    #[test]
    fn every_code_the_simulator_counts_is_explained() {
        for code in [
            1, 2, 4, 10, 100, 190, 130429, 130472, 131000, 131008, 131009, 131016, 131026, 131047, 131048, 131049,
            131050, 131053, 131056, 131057, 131062, 132000, 132001, 132012, 132015, 132016, 470, 1000, 1001, 1005,
            1006, 1008, 1009, 1013, 1014, 1015, 1016,
        ] {
            assert!(info(code).is_some(), "{code}");
        }
    }
}
