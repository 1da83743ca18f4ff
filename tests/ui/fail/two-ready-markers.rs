use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    #[ready]
    let config = 1;
    #[ready]
    let listener = config + 1;
    let _ = listener;
}
