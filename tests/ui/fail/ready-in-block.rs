use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    {
        #[ready]
        let listener = 1;
        let _ = listener;
    }
}
