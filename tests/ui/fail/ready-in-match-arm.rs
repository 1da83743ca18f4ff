use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    match std::env::args().count() {
        0 => {}
        _ => {
            #[ready]
            println!("ready");
        }
    }
}
