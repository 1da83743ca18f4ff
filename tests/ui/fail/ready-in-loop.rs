use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    for attempt in 0..3 {
        #[ready]
        let connected = attempt == 2;
        let _ = connected;
    }
}
