use sd_notify_core::sd_service;

fn serve() -> Result<(), std::io::Error> {
    Ok(())
}

#[sd_service]
fn main() -> Result<(), std::io::Error> {
    #[ready]
    serve()
}
