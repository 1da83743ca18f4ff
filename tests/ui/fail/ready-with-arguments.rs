use sd_notify_core::sd_service;

#[sd_service(running = "up")]
fn main() {
    #[ready(status = "up")]
    let listener = 1;
    let _ = listener;
}
