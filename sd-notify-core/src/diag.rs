//! Where the crate's own warnings go (`#[sd_service]`'s run time: a message that could not be
//! sent, a watchdog it cannot serve, a misuse it refused).
//!
//! By default: one line on stderr, which the journal keeps for a service. With the `tracing`
//! feature: a `tracing` event at WARN level, target `sd_notify_core`; else with the `log`
//! feature: a `log` record at WARN level, same target. A service that logs through one of
//! them gets our lines in its own logs, with its own format and filters. With both features,
//! `tracing` gets them (its `log` compatibility layer can forward them).

use std::fmt;

/// The target our records carry (`RUST_LOG=sd_notify_core=warn`, a tracing filter).
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
const TARGET: &str = "sd_notify_core";

/// Emits one warning; see the module docs for where it goes.
pub(crate) fn emit(args: fmt::Arguments<'_>) {
    #[cfg(feature = "tracing")]
    {
        tracing::warn!(target: TARGET, "{args}");
    }
    #[cfg(all(feature = "log", not(feature = "tracing")))]
    {
        log::warn!(target: TARGET, "{args}");
    }
    #[cfg(not(any(feature = "log", feature = "tracing")))]
    {
        eprintln!("sd_service: {args}");
    }
}

/// `warning!("...", args)`: a warning of the crate (see [`emit`]).
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::diag::emit(::std::format_args!($($arg)*))
    };
}
pub(crate) use warning;

/// An error and its sources, joined by `: ` (the crate's errors keep an inner error in
/// `source()`, not in their own text, so printing only the outer one would lose the reason).
///
/// Generic over the outer error, so that it is not made a `dyn Error` (whose vtable would
/// link its `Debug`, unused); the sources are walked out of line, once for all.
pub(crate) struct Chain<'a, E: ?Sized>(pub(crate) &'a E);

impl<E: std::error::Error + ?Sized> fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        write_sources(f, self.0.source())
    }
}

/// `: <source>` for each source of the chain from `source` on.
fn write_sources(
    f: &mut fmt::Formatter<'_>,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) -> fmt::Result {
    // Bounded: a chain that loops must not hang a warning.
    for _ in 0..16 {
        let Some(e) = source else { break };
        f.write_str(": ")?;
        fmt::Display::fmt(e, f)?;
        source = e.source();
    }
    Ok(())
}

#[cfg(all(test, feature = "log", not(feature = "tracing")))]
mod log_tests {
    use std::sync::Mutex;

    /// Every record logged, as (level, target, text).
    static RECORDS: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let entry = (record.level(), record.target().to_owned(), record.args().to_string());
            RECORDS.lock().unwrap().push(entry);
        }
        fn flush(&self) {}
    }

    #[test]
    fn warnings_are_log_records_at_warn_level_with_the_crate_as_target() {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        super::warning!("queued message could not be sent: {}", 42);
        let records = RECORDS.lock().unwrap();
        assert_eq!(
            *records,
            [(
                log::Level::Warn,
                "sd_notify_core".to_owned(),
                "queued message could not be sent: 42".to_owned()
            )]
        );
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tracing_tests {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    /// Collects events as (level, target, message).
    #[derive(Default, Clone)]
    struct Capture(Arc<Mutex<Vec<(Level, String, String)>>>);

    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            let meta = event.metadata();
            self.0.lock().unwrap().push((*meta.level(), meta.target().to_owned(), message.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn warnings_are_tracing_events_at_warn_level_with_the_crate_as_target() {
        let capture = Capture::default();
        tracing::subscriber::with_default(capture.clone(), || {
            super::warning!("watchdog disabled: {}", "WATCHDOG_USEC is set to an invalid value");
        });
        assert_eq!(
            *capture.0.lock().unwrap(),
            [(
                Level::WARN,
                "sd_notify_core".to_owned(),
                "watchdog disabled: WATCHDOG_USEC is set to an invalid value".to_owned()
            )]
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_chain_joins_an_error_and_its_sources() {
        let inner = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let outer = crate::Error::Io(inner);
        assert_eq!(
            super::Chain(&outer).to_string(),
            format!("{outer}: {}", std::io::Error::from_raw_os_error(libc::ECONNREFUSED))
        );
    }
}
