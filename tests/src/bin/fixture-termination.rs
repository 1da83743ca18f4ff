//! Test fixture: a sync `#[sd_service]` returning a custom `Termination` type, `Outcome(CODE)`
//! (knob `CODE`, default 0), whose `report()` gives `ExitCode::from(CODE)`. A non-zero code
//! is returned before the `#[ready]` marker.

use std::process::{ExitCode, Termination};

use sd_notify_core::sd_service;
use sd_notify_tests::knob;

/// A custom outcome: success for 0, failure with that exit status otherwise.
struct Outcome(u8);

impl Termination for Outcome {
    fn report(self) -> ExitCode {
        ExitCode::from(self.0)
    }
}

#[sd_service]
fn main() -> Outcome {
    let code = knob("CODE").map_or(0, |c| c as u8);
    if code != 0 {
        return Outcome(code);
    }
    #[ready]
    eprintln!("fixture-termination: ready");
    Outcome(0)
}
