// `#[ready]` with no #[sd_service] fn around it (here imported from the macro crate; the
// core crate re-exports it as `sd_notify_core::ready`).
use sd_notify_macros::ready;

fn start() -> u16 {
    #[ready]
    let port = 8080;
    port
}

#[ready]
fn serve(port: u16) {
    assert_eq!(port, 8080);
}

fn main() {
    serve(start());
}
