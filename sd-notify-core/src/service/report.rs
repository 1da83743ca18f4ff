//! What `main` returned, turned into `STATUS=`/`ERRNO=` (used by `#[sd_service]`).
//!
//! `main` may return any error type that is `Debug`. The best report depends on what else the
//! type offers, which only the caller's concrete type can tell: `failure_of!` picks, by
//! autoref specialisation, `std::error::Error` (walks the source chain for an OS error),
//! then `Deref<Target = dyn Error>` (`Box<dyn Error>`, `anyhow::Error`), then `Debug`.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt::Debug;
use std::io;
use std::ops::Deref;
use std::process::ExitCode;

/// How a failed `main` is reported to the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The first line of the error's message.
    pub message: String,
    /// The OS error number found in the error or its sources.
    pub errno: Option<i32>,
}

impl Failure {
    fn from_error(e: &(dyn StdError + 'static)) -> Self {
        let mut errno = None;
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(n) = err.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error) {
                errno = Some(n);
                break;
            }
            cur = err.source();
        }
        Failure { message: first_line(&e.to_string()), errno }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

/// The return types `#[sd_service]` accepts: `()`, `ExitCode`, `Result<T, E>`.
pub trait MainOutput {
    /// The error type (`Infallible` where there is none).
    type Error;
    /// The error, when `main` failed with one.
    fn main_error(&self) -> Option<&Self::Error>;
}

impl MainOutput for () {
    type Error = Infallible;
    fn main_error(&self) -> Option<&Infallible> {
        None
    }
}

impl MainOutput for ExitCode {
    type Error = Infallible;
    fn main_error(&self) -> Option<&Infallible> {
        None
    }
}

impl<T, E> MainOutput for Result<T, E> {
    type Error = E;
    fn main_error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// A borrowed error, the receiver of the autoref-specialised `failure()` methods.
pub struct Wrap<'a, E>(pub &'a E);

/// Best: a real `std::error::Error`.
pub trait ViaError {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: StdError + 'static> ViaError for &&&Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure::from_error(self.0)
    }
}

/// Next: a pointer to a thread-safe error object (`Box<dyn Error + Send + Sync>`, `anyhow::Error`).
pub trait ViaDynErrorSendSync {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Deref<Target = dyn StdError + Send + Sync + 'static>> ViaDynErrorSendSync for &&Wrap<'_, E> {
    fn failure(&self) -> Failure {
        let e: &(dyn StdError + 'static) = &**self.0;
        Failure::from_error(e)
    }
}

/// Next: a pointer to an error object (`Box<dyn Error>`).
pub trait ViaDynError {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Deref<Target = dyn StdError + 'static>> ViaDynError for &Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure::from_error(&**self.0)
    }
}

/// Last: anything `Debug` (what `main` requires anyway).
pub trait ViaDebug {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Debug> ViaDebug for Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure { message: first_line(&format!("{:?}", self.0)), errno: None }
    }
}

/// `Option<Failure>` for a `&R` where `R: MainOutput`; see the module docs.
#[doc(hidden)]
#[macro_export]
macro_rules! __sd_failure_of {
    ($result:expr) => {
        match $crate::__private::MainOutput::main_error($result) {
            ::core::option::Option::Some(error) => {
                #[allow(unused_imports)]
                use $crate::__private::{
                    ViaDebug as _, ViaDynError as _, ViaDynErrorSendSync as _, ViaError as _,
                };
                ::core::option::Option::Some((&&&&$crate::__private::Wrap(error)).failure())
            }
            ::core::option::Option::None => ::core::option::Option::None,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Failure;
    use std::io;

    #[test]
    fn io_error_gives_message_and_errno() {
        let r: Result<(), io::Error> = Err(io::Error::from_raw_os_error(2));
        let f = crate::__sd_failure_of!(&r).unwrap();
        assert_eq!(f.errno, Some(2));
        assert!(f.message.starts_with("No such file or directory"), "{}", f.message);
    }

    #[test]
    fn boxed_errors_are_walked_too() {
        let r: Result<(), Box<dyn std::error::Error + Send + Sync>> =
            Err(Box::new(io::Error::from_raw_os_error(13)));
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().errno, Some(13));
        let r: Result<(), Box<dyn std::error::Error>> = Err("plain\nsecond line".into());
        assert_eq!(crate::__sd_failure_of!(&r), Some(Failure { message: "plain".into(), errno: None }));
    }

    #[test]
    fn debug_only_errors_use_debug() {
        #[derive(Debug)]
        struct Opaque;
        let r: Result<(), Opaque> = Err(Opaque);
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().message, "Opaque");
        assert_eq!(crate::__sd_failure_of!(&Ok::<(), Opaque>(())), None);
        assert_eq!(crate::__sd_failure_of!(&()), None);
    }
}
