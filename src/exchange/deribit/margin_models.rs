//! Deribit's account margin settings (`margin_model` of an account
//! summary) and the margin model of ours that reproduces each.

/// The margin model for a Deribit `margin_model` value (standard margin
/// until the exchange says; an unknown value also falls back to it, and
/// `known_model` says it was unknown).
pub fn model_for(margin_model: Option<&str>) -> &'static str {
    margin_model.and_then(known_model).unwrap_or("deribit_sm")
}

/// The model for a `margin_model` value Deribit documents, None otherwise.
pub fn known_model(margin_model: &str) -> Option<&'static str> {
    match margin_model {
        "segregated_pm" | "cross_pm" => Some("deribit_pm"),
        "segregated_sm" | "cross_sm" => Some("deribit_sm"),
        _ => None,
    }
}
