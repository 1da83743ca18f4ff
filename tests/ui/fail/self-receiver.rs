use sd_notify_core::sd_service;

struct Daemon;

impl Daemon {
    #[sd_service]
    fn run(self) {}
}

fn main() {}
