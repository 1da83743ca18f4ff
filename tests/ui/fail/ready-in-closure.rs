use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    let start = || {
        #[ready]
        let listener = 1;
        listener
    };
    let _ = start();
}
