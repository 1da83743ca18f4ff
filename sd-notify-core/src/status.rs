//! `STATUS=` from `format!`-style arguments, without a heap allocation.

use std::fmt;

use crate::error::Error;
use crate::message::Message;

/// Sends `STATUS=` formatted from `args` to the service manager; a no-op (after validation)
/// without `NOTIFY_SOCKET`. The text is formatted straight into the datagram's stack buffer
/// and checked as it is written, so no heap allocation happens and no formatted argument can
/// inject a line. Usually called through [`status!`](crate::status!).
///
/// # Errors
/// [`Error::InvalidValue`] when the text contains `\n`, `\r`, NUL or `\`;
/// [`Error::MessageTooLong`] beyond 4096 bytes; sending errors as [`notify`](crate::notify).
///
/// ```
/// sd_notify_core::send_status_fmt(format_args!("{} requests served", 42))?;
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
pub fn send_status_fmt(args: fmt::Arguments<'_>) -> Result<(), Error> {
    let mut msg = Message::new();
    msg.push_status_fmt(args)?;
    match crate::default_notifier()? {
        Some(n) => n.send(&msg),
        None => Ok(()),
    }
}

/// Sets the service's status line (`STATUS=`), `format!`-style, from anywhere in the program.
///
/// Expands to [`send_status_fmt`]`(format_args!(...))`: no heap allocation, the formatted
/// text validated like every value, and a `Result` you may ignore or handle.
///
/// ```
/// let queue = ["a", "b"];
/// sd_notify_core::status!("{} jobs queued", queue.len())?;
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[macro_export]
macro_rules! status {
    ($($arg:tt)*) => {
        $crate::send_status_fmt(::core::format_args!($($arg)*))
    };
}
