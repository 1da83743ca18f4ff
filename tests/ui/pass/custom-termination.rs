// Any std::process::Termination return type is accepted, not only (), Result and ExitCode.
#![deny(warnings, unused_qualifications)]

use std::process::{ExitCode, Termination};

use sd_notify_core::sd_service;

struct Outcome {
    code: u8,
}

impl Termination for Outcome {
    fn report(self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

#[sd_service]
fn sync_service() -> Outcome {
    Outcome { code: 0 }
}

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn async_service() -> Outcome {
    Outcome { code: 0 }
}

fn main() -> ExitCode {
    if std::env::args().count() > 1 { sync_service() } else { async_service() }
}
