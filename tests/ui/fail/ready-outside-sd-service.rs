// `#[ready]` with no #[sd_service] fn around it, imported from the core crate (which
// re-exports the macro crate's `ready`, a macro that only reports where it belongs).
use sd_notify_core::ready;

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
