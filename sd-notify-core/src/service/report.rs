//! What `main` returned, turned into `STATUS=`/`ERRNO=` (used by `#[sd_service]`).
//!
//! `main` may return any `Termination` type. Only a `Result`'s error has words to report,
//! and the best words depend on what its type offers, which only the caller's concrete type
//! can tell: `failure_of!` picks, by autoref specialisation, first whether the value is a
//! `Result` at all ([`ViaResult`], else [`ViaNoError`]), then for the error:
//! `std::error::Error` (its text and its sources' joined by `: `, and the OS error number
//! of any of them), then `Deref<Target = dyn Error …>` (`Box<dyn Error>`, `anyhow::Error`)
//! walked the same way, then `Display`, and `Debug` as the last resort.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt::{Debug, Display};
use std::io;
use std::ops::Deref;

/// How a failed `main` is reported to the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error's message (the caller keeps its first line).
    pub message: String,
    /// The OS error number found in the error or its sources.
    pub errno: Option<i32>,
}

/// Sources followed at most (a chain that loops must not hang the exit).
const MAX_SOURCES: usize = 32;

impl Failure {
    fn from_error(e: &(dyn StdError + 'static)) -> Self {
        let mut message = first_line(&e.to_string());
        let mut errno = None;
        let mut cur = Some(e);
        for depth in 0..MAX_SOURCES {
            let Some(err) = cur else { break };
            if errno.is_none() {
                errno = err.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error);
            }
            if depth > 0 {
                // Many errors already print their source in their own text: say it once.
                let text = first_line(&err.to_string());
                if !text.is_empty() && !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
            }
            cur = err.source();
        }
        Failure { message, errno }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

/// The value `main` returned, the receiver of the autoref-specialised `main_error()`.
pub struct Probe<'a, R>(pub &'a R);

/// First: a `Result`, whose error is reported.
pub trait ViaResult<'a> {
    /// The error type.
    type Error;
    /// The error, when `main` failed with one.
    fn main_error(&self) -> Option<&'a Self::Error>;
}
impl<'a, T, E> ViaResult<'a> for &Probe<'a, Result<T, E>> {
    type Error = E;
    fn main_error(&self) -> Option<&'a E> {
        self.0.as_ref().err()
    }
}

/// Otherwise (`()`, `ExitCode`, any other `Termination`): no error with words; a failing
/// exit code is reported from the code itself.
pub trait ViaNoError<'a> {
    /// Never an error.
    fn main_error(&self) -> Option<&'a Infallible>;
}
impl<'a, R> ViaNoError<'a> for Probe<'a, R> {
    fn main_error(&self) -> Option<&'a Infallible> {
        None
    }
}

/// A borrowed error, the receiver of the autoref-specialised `failure()` methods.
pub struct Wrap<'a, E>(pub &'a E);

/// Best: a real `std::error::Error`.
pub trait ViaError {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: StdError + 'static> ViaError for &&&&&Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure::from_error(self.0)
    }
}

/// Next: a pointer to a thread-safe error object (`Box<dyn Error + Send + Sync>`, `anyhow::Error`).
pub trait ViaDynErrorSendSync {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Deref<Target = dyn StdError + Send + Sync + 'static>> ViaDynErrorSendSync for &&&&Wrap<'_, E> {
    fn failure(&self) -> Failure {
        let e: &(dyn StdError + 'static) = &**self.0;
        Failure::from_error(e)
    }
}

/// Next: a pointer to a sendable error object (`Box<dyn Error + Send>`).
pub trait ViaDynErrorSend {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Deref<Target = dyn StdError + Send + 'static>> ViaDynErrorSend for &&&Wrap<'_, E> {
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
impl<E: Deref<Target = dyn StdError + 'static>> ViaDynError for &&Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure::from_error(&**self.0)
    }
}

/// Next: text as a person wrote it (`String`, `&str`, any `Display`).
pub trait ViaDisplay {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Display> ViaDisplay for &Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure { message: first_line(&self.0.to_string()), errno: None }
    }
}

/// Last: anything `Debug` (what `main` requires of an error anyway).
pub trait ViaDebug {
    /// The report.
    fn failure(&self) -> Failure;
}
impl<E: Debug> ViaDebug for Wrap<'_, E> {
    fn failure(&self) -> Failure {
        Failure { message: first_line(&format!("{:?}", self.0)), errno: None }
    }
}

/// `Option<Failure>` for a `&R`, any `R`; see the module docs.
#[doc(hidden)]
#[macro_export]
macro_rules! __sd_failure_of {
    ($result:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private_0_1::{
            ViaDebug as _, ViaDisplay as _, ViaDynError as _, ViaDynErrorSend as _, ViaDynErrorSendSync as _,
            ViaError as _, ViaNoError as _, ViaResult as _,
        };
        match (&&$crate::__private_0_1::Probe($result)).main_error() {
            ::core::option::Option::Some(error) => {
                ::core::option::Option::Some((&&&&&&$crate::__private_0_1::Wrap(error)).failure())
            }
            ::core::option::Option::None => ::core::option::Option::None,
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::Failure;
    use std::{fmt, io};

    #[test]
    fn io_error_gives_message_and_errno() {
        let r: Result<(), io::Error> = Err(io::Error::from_raw_os_error(2));
        let f = crate::__sd_failure_of!(&r).unwrap();
        assert_eq!(f.errno, Some(2));
        assert_eq!(f.message, "No such file or directory (os error 2)");
    }

    #[test]
    fn boxed_errors_are_walked_too() {
        let r: Result<(), Box<dyn std::error::Error + Send + Sync>> =
            Err(Box::new(io::Error::from_raw_os_error(13)));
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().errno, Some(13));
        let r: Result<(), Box<dyn std::error::Error + Send>> = Err(Box::new(io::Error::from_raw_os_error(2)));
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().errno, Some(2));
        let r: Result<(), Box<dyn std::error::Error>> = Err("plain\nsecond line".into());
        assert_eq!(crate::__sd_failure_of!(&r), Some(Failure { message: "plain".into(), errno: None }));
    }

    #[derive(Debug)]
    struct Context(&'static str, io::Error);
    impl fmt::Display for Context {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Context {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn sources_are_joined_and_their_errno_found() {
        let r: Result<(), Context> = Err(Context("opening config", io::Error::from_raw_os_error(13)));
        let f = crate::__sd_failure_of!(&r).unwrap();
        assert_eq!(f.message, "opening config: Permission denied (os error 13)");
        assert_eq!(f.errno, Some(13));
        // A source whose text the outer error already includes is not repeated.
        let r: Result<(), Context> =
            Err(Context("failed: Permission denied (os error 13)", io::Error::from_raw_os_error(13)));
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().message, "failed: Permission denied (os error 13)");
    }

    #[test]
    fn text_errors_use_display_and_debug_is_the_last_resort() {
        let r: Result<(), String> = Err("config is \"bad\"".to_owned());
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().message, "config is \"bad\"");
        #[derive(Debug)]
        struct Opaque;
        let r: Result<(), Opaque> = Err(Opaque);
        assert_eq!(crate::__sd_failure_of!(&r).unwrap().message, "Opaque");
        assert_eq!(crate::__sd_failure_of!(&Ok::<(), Opaque>(())), None);
    }

    #[test]
    fn values_that_are_not_results_have_no_error() {
        assert_eq!(crate::__sd_failure_of!(&()), None);
        assert_eq!(crate::__sd_failure_of!(&std::process::ExitCode::from(3)), None);
    }
}
