//! `STATUS=` from `format!`-style arguments, without a heap allocation.

use std::fmt;

use crate::error::Error;
use crate::message::Message;

/// What [`status!`](crate::status!) expands to; reached through the private module, not a
/// public API (it may change in any release).
#[doc(hidden)]
pub fn send_status_fmt(args: fmt::Arguments<'_>) -> Result<(), Error> {
    let mut msg = Message::new();
    msg.push_status_fmt(args)?;
    match crate::default_notifier()? {
        Some(n) => n.send(&msg),
        None => Ok(()),
    }
}

/// Sets the service's status line (`STATUS=`), `format!`-style, from anywhere in the program;
/// a no-op (after validation) without `NOTIFY_SOCKET`.
///
/// The text is formatted straight into the datagram's stack buffer and checked as it is
/// written, so no heap allocation happens and no formatted argument can inject a line. It
/// evaluates to a `Result<(), Error>` you may ignore or handle. For a message of your own
/// (to add other states, or send through a [`Notifier`](crate::Notifier)), use
/// [`Message::push_status_fmt`](crate::Message::push_status_fmt).
///
/// # Errors
/// [`Error::InvalidValue`] when the text contains `\n`, `\r`, NUL or `\`;
/// [`Error::MessageTooLong`] beyond 4096 bytes; sending errors as [`notify`](crate::notify).
///
/// ```
/// let queue = ["a", "b"];
/// sd_notify_core::status!("{} jobs queued", queue.len())?;
///
/// let user_input = "x\nREADY=1";
/// assert!(sd_notify_core::status!("got {user_input}").is_err()); // nothing is sent
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[macro_export]
macro_rules! status {
    ($($arg:tt)*) => {
        $crate::__private_0_1::send_status_fmt(::core::format_args!($($arg)*))
    };
}
