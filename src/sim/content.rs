//! Content rules of Cloud sends: the business's templates (`[[simulator.templates]]`) and media sent
//! by link (`[simulator.media]`). Sources and Meta's texts are in `spec::sim::content`.
//!
//! Template errors are answered at send (a Graph API error with Meta's HTTP status); a media link
//! that cannot be downloaded is accepted and fails later, 131053 in a `failed` status webhook.

use http::StatusCode;
use serde_json::{Map, Value};

use super::config::{MediaConfig, TemplateCategory, TemplateConfig, TemplateStatus};
use super::model::mix64;

/// A template error answered at send: HTTP status, code, title and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub status: StatusCode,
    pub code: i64,
    pub title: &'static str,
    pub details: String,
}

fn error(status: StatusCode, code: i64, title: &'static str, details: String) -> TemplateError {
    TemplateError { status, code, title, details }
}

/// The body parameters of a (validated) `template` object: those of its `body` components.
fn body_params(t: &Map<String, Value>) -> Vec<&Value> {
    let comps = t.get("components").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    comps
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str).is_some_and(|ty| ty.eq_ignore_ascii_case("body")))
        .flat_map(|c| c.get("parameters").and_then(Value::as_array).into_iter().flatten())
        .collect()
}

/// Check a template send against the business's templates. `templates` empty: nothing is known, the
/// send goes through (`Ok(None)`). Otherwise `Ok(Some(category))` of the template sent, or Meta's
/// error: 132001 (no such name in that language, or not approved), 132015 (paused), 132016
/// (disabled), 132000 (body parameter count), 132012 (a parameter's type), 131062 (an
/// authentication template to a business-scoped user ID).
pub fn check_template(
    templates: &[TemplateConfig],
    template: &Value,
    to_bsuid: bool,
) -> Result<Option<TemplateCategory>, TemplateError> {
    if templates.is_empty() {
        return Ok(None);
    }
    let Some(t) = template.as_object() else { return Ok(None) };
    let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
    let lang = t.get("language").and_then(|l| l.get("code")).and_then(Value::as_str).unwrap_or_default();
    // Names and language codes are echoed escaped by serde_json when the error is serialized.
    let known = templates.iter().find(|k| k.name == name && k.language == lang);
    let Some(k) = known.filter(|k| !matches!(k.status, TemplateStatus::Pending | TemplateStatus::Rejected)) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            132001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {lang}"),
        ));
    };
    match k.status {
        TemplateStatus::Paused => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                132015,
                "Template is Paused",
                format!("Template {name} is paused due to low quality and cannot be sent."),
            ));
        }
        TemplateStatus::Disabled => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                132016,
                "Template is Disabled",
                format!("Template {name} was paused too many times due to low quality and is disabled."),
            ));
        }
        _ => {}
    }
    let params = body_params(t);
    if params.len() != k.params as usize {
        return Err(error(
            StatusCode::BAD_REQUEST,
            132000,
            "Number of parameters does not match the expected number of params",
            format!(
                "body: number of localizable_params ({}) does not match the expected number of params ({})",
                params.len(),
                k.params
            ),
        ));
    }
    for (i, p) in params.iter().enumerate() {
        let ty = p.get("type").and_then(Value::as_str).unwrap_or_default();
        let want = k.param_type(i);
        if !ty.eq_ignore_ascii_case(want) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                132012,
                "Parameter format does not match format in the created template",
                format!("body: parameter {} is of type {ty}, the template expects {want}", i + 1),
            ));
        }
    }
    if to_bsuid && k.category == TemplateCategory::Authentication {
        return Err(error(
            StatusCode::BAD_REQUEST,
            131062,
            "Business-scoped User ID recipients are not supported for this message",
            "Authentication templates need the user's phone number in `to`.".into(),
        ));
    }
    Ok(Some(k.category))
}

/// Salt of the media-link draws.
const MEDIA_SALT: u64 = 0x3ED1_A000_0000_0131;

/// True when the media message numbered `seq` sends its media by `link` and that link is one the
/// seeded `link_failure_fraction` makes fail (131053 in a webhook).
pub fn link_fails(media: &MediaConfig, seed: u64, seq: u64, obj: &Map<String, Value>, kind: &str) -> bool {
    if media.link_failure_fraction <= 0.0 || !matches!(kind, "image" | "document" | "audio" | "video" | "sticker") {
        return false;
    }
    let by_link = obj.get(kind).and_then(|m| m.get("link")).is_some_and(Value::is_string);
    let u = (mix64(seed ^ MEDIA_SALT ^ mix64(seq)) >> 11) as f64 / (1u64 << 53) as f64;
    by_link && u < media.link_failure_fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> Vec<TemplateConfig> {
        let t = |name: &str, params, status, category| TemplateConfig {
            name: name.into(),
            language: "en_US".into(),
            params,
            param_types: Vec::new(),
            status,
            category,
            pacing: None,
        };
        let mut sale = t("sale", 1, TemplateStatus::Approved, TemplateCategory::Marketing);
        sale.param_types = vec!["currency".into()];
        vec![
            t("order_update", 2, TemplateStatus::Approved, TemplateCategory::Utility),
            t("otp", 1, TemplateStatus::Approved, TemplateCategory::Authentication),
            t("paused", 0, TemplateStatus::Paused, TemplateCategory::Marketing),
            t("gone", 0, TemplateStatus::Disabled, TemplateCategory::Marketing),
            t("draft", 0, TemplateStatus::Pending, TemplateCategory::Marketing),
            sale,
        ]
    }

    fn tpl(name: &str, lang: &str, params: Value) -> Value {
        json!({"name": name, "language": {"code": lang}, "components": [{"type": "body", "parameters": params}]})
    }

    fn code(r: Result<Option<TemplateCategory>, TemplateError>) -> i64 {
        r.map_or_else(|e| e.code, |_| 0)
    }

    #[test]
    fn each_template_error_has_its_code_and_status() {
        let r = registry();
        let two = json!([{"type":"text","text":"a"},{"type":"text","text":"b"}]);
        assert_eq!(
            check_template(&r, &tpl("order_update", "en_US", two.clone()), false),
            Ok(Some(TemplateCategory::Utility))
        );
        let e = check_template(&r, &tpl("order_update", "pt_BR", two.clone()), false).unwrap_err();
        assert_eq!((e.code, e.status), (132001, StatusCode::NOT_FOUND));
        assert_eq!(e.details, "template name (order_update) does not exist in pt_BR");
        assert_eq!(code(check_template(&r, &tpl("nope", "en_US", two.clone()), false)), 132001);
        assert_eq!(code(check_template(&r, &tpl("draft", "en_US", json!([])), false)), 132001);
        assert_eq!(code(check_template(&r, &tpl("paused", "en_US", json!([])), false)), 132015);
        assert_eq!(code(check_template(&r, &tpl("gone", "en_US", json!([])), false)), 132016);
        let e =
            check_template(&r, &tpl("order_update", "en_US", json!([{"type":"text","text":"a"}])), false).unwrap_err();
        assert_eq!((e.code, e.status), (132000, StatusCode::BAD_REQUEST));
        assert!(e.details.contains("(1) does not match the expected number of params (2)"), "{}", e.details);
        let no_body = json!({"name": "order_update", "language": {"code": "en_US"}});
        assert_eq!(code(check_template(&r, &no_body, false)), 132000);
        let text_for_currency = tpl("sale", "en_US", json!([{"type":"text","text":"9.99"}]));
        assert_eq!(code(check_template(&r, &text_for_currency, false)), 132012);
        let currency = tpl("sale", "en_US", json!([{"type":"currency","currency":{}}]));
        assert_eq!(code(check_template(&r, &currency, false)), 0);
        let otp = tpl("otp", "en_US", json!([{"type":"text","text":"123456"}]));
        assert_eq!(code(check_template(&r, &otp, false)), 0);
        assert_eq!(code(check_template(&r, &otp, true)), 131062);
        assert_eq!(check_template(&[], &tpl("anything", "xx", json!([])), true), Ok(None), "nothing known");
    }

    #[test]
    fn link_failures_follow_the_fraction_and_only_links() {
        let media = MediaConfig { link_failure_fraction: 0.25 };
        let link = json!({"image": {"link": "https://x/y.png"}});
        let id = json!({"image": {"id": "123"}});
        let (link, id) = (link.as_object().unwrap(), id.as_object().unwrap());
        let n = (0..4000).filter(|&s| link_fails(&media, 7, s, link, "image")).count();
        assert!((800..1200).contains(&n), "{n}");
        assert!((0..4000).all(|s| !link_fails(&media, 7, s, id, "image")), "media by id downloads");
        assert!((0..100).all(|s| !link_fails(&MediaConfig::default(), 7, s, link, "image")));
        let same: Vec<bool> = (0..100).map(|s| link_fails(&media, 7, s, link, "image")).collect();
        assert_eq!(same, (0..100).map(|s| link_fails(&media, 7, s, link, "image")).collect::<Vec<_>>());
    }
}
