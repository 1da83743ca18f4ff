//! Placeholder: `#[sd_service]` lands here.
