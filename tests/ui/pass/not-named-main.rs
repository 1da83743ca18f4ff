// The attribute on a fn that is not `main`, in a module, public and documented: the
// generated fn keeps its name and visibility and returns ExitCode, so main can call it.
#![deny(warnings, unused_qualifications, missing_docs)]
//! A binary whose service fn lives in a module.

mod service {
    use sd_notify_core::{ServiceHandle, sd_service};

    /// Runs the service.
    #[sd_service(running = "running")]
    pub fn run(service: ServiceHandle) -> Result<(), std::io::Error> {
        #[ready]
        let stopping = service.is_stopping();
        assert!(!stopping);
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    service::run()
}
