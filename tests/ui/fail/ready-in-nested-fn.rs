use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    fn start() {
        #[ready]
        println!("ready");
    }
    start();
}
