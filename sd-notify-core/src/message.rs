//! One datagram: validated assignments joined by `\n`, encoded on the stack.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::mem::MaybeUninit;

use crate::error::{Error, Rule};
use crate::state::{MAX_NUMBER_LEN, NotifyState, check_text, copy_checked_text};

/// The largest datagram the manager accepts; a longer one is dropped whole.
///
/// ```
/// use sd_notify_core::{Error, Message, NotifyState, MAX_MESSAGE_LEN};
/// let long = "x".repeat(MAX_MESSAGE_LEN);
/// assert!(matches!(Message::from_states(&[NotifyState::Status(&long)]), Err(Error::MessageTooLong)));
/// ```
pub const MAX_MESSAGE_LEN: usize = 4096;

/// One notification datagram, encoded and validated, ready to send.
///
/// The bytes are exactly the assignments joined by `\n`: no trailing newline, no NUL, as
/// libsystemd sends them. The buffer lives inline (4 KiB, left uninitialised until written:
/// a new message costs nothing to make), so building a message never touches the heap. Every [`push`](Message::push) validates the state, rejects a key that
/// is already present (the manager would silently keep the first) and keeps the total within
/// [`MAX_MESSAGE_LEN`]; a failed push leaves the message unchanged.
///
/// Two messages are equal (and hash alike) when their datagrams are, byte for byte;
/// `AsRef<[u8]>` gives the datagram, as [`as_bytes`](Message::as_bytes).
///
/// # Examples
/// ```
/// use sd_notify_core::{Message, NotifyState};
///
/// let mut msg = Message::new();
/// msg.push(NotifyState::Stopping)?;
/// msg.push_status_fmt(format_args!("draining {} connections", 12))?;
/// assert_eq!(msg.as_bytes(), b"STOPPING=1\nSTATUS=draining 12 connections");
/// assert_eq!(msg, Message::from_states(&[NotifyState::Stopping, NotifyState::Status("draining 12 connections")])?);
/// let datagram: &[u8] = msg.as_ref();
/// assert!(datagram.starts_with(b"STOPPING=1"));
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Message {
    /// Invariant: `buf[..len]` is initialised (every byte up to `len` was written).
    buf: [MaybeUninit<u8>; MAX_MESSAGE_LEN],
    len: usize,
    /// Has `FDSTORE=1` or `MAINPIDFD=1`, the states that travel with descriptors (kept here
    /// so that sending does not scan the message for them).
    wants_fds: bool,
}

impl Message {
    /// An empty message.
    ///
    /// ```
    /// # use sd_notify_core::Message;
    /// assert!(Message::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Message { buf: [MaybeUninit::uninit(); MAX_MESSAGE_LEN], len: 0, wants_fds: false }
    }

    /// A message holding `states`, in order.
    ///
    /// # Errors
    /// As [`Message::push`] for each state, and [`Error::EmptyMessage`] for no states.
    ///
    /// ```
    /// # use sd_notify_core::{Message, NotifyState};
    /// let msg = Message::from_states(&NotifyState::reloading_now())?;
    /// assert!(msg.contains_key("MONOTONIC_USEC"));
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn from_states(states: &[NotifyState<'_>]) -> Result<Self, Error> {
        if states.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let mut msg = Message::uninit();
        msg.push_all_fresh(states)?;
        Ok(msg)
    }

    /// [`Message::new`] for run time: `Message::new()` is a constant, which the compiler may
    /// materialise with a 4 KiB `memset` (it fills the uninitialised bytes of a partly
    /// initialised constant with zeros); this builds the empty message field by field.
    #[inline(always)]
    pub(crate) fn uninit() -> Self {
        Message { buf: uninit_buf(), len: 0, wants_fds: false }
    }

    /// Appends `states` to a message that is still empty, in one pass: each state is
    /// validated, checked against the keys of the states before it (the message holds exactly
    /// those, so its bytes need no scan) and copied in. On error the message may hold the
    /// states before the failing one: callers drop it.
    pub(crate) fn push_all_fresh(&mut self, states: &[NotifyState<'_>]) -> Result<(), Error> {
        debug_assert!(self.is_empty());
        // One loop, so that the inlined line is in the code once (the first state's check is
        // over an empty slice).
        for (i, state) in states.iter().enumerate() {
            if states[..i].iter().any(|earlier| earlier.key() == state.key()) {
                return Err(Error::DuplicateKey { key: state.error_key() });
            }
            self.push_checked_line(state)?;
        }
        Ok(())
    }

    /// Validates `state` and appends its line (duplicates are the caller's to check).
    #[inline(always)]
    fn push_checked_line(&mut self, state: &NotifyState<'_>) -> Result<(), Error> {
        let mut scratch = [0; MAX_NUMBER_LEN];
        let pieces = state.checked_line(&mut scratch)?;
        self.put_pieces(pieces)?;
        self.wants_fds |= state.takes_fds();
        Ok(())
    }

    /// Appends one assignment.
    ///
    /// # Errors
    /// - [`Error::InvalidValue`] / [`Error::InvalidKey`]: the state breaks a [`Rule`];
    /// - [`Error::DuplicateKey`]: the key is already in the message;
    /// - [`Error::MessageTooLong`]: it would not fit [`MAX_MESSAGE_LEN`].
    ///
    /// ```
    /// # use sd_notify_core::{Message, NotifyState, Error};
    /// let mut msg = Message::new();
    /// msg.push(NotifyState::Status("a"))?;
    /// assert!(matches!(msg.push(NotifyState::Status("b")), Err(Error::DuplicateKey { .. })));
    /// assert_eq!(msg.as_bytes(), b"STATUS=a");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn push(&mut self, state: NotifyState<'_>) -> Result<&mut Self, Error> {
        state.validate()?;
        self.check_new_key(state.key(), || state.error_key())?;
        self.put_pieces([state.key().as_bytes(), b"=", state.value_bytes(&mut [0; MAX_NUMBER_LEN])])?;
        self.wants_fds |= matches!(state, NotifyState::FdStore | NotifyState::MainPidFd);
        Ok(self)
    }

    /// Appends `STATUS=` formatted from `args` (as by [`format_args!`]), validating the
    /// formatted text as it is written: no heap allocation, whatever the arguments.
    ///
    /// # Errors
    /// As [`Message::push`]; the formatted text follows the rules of [`NotifyState::Status`].
    ///
    /// ```
    /// # use sd_notify_core::{Message, Error, Rule};
    /// let user_input = "x\nREADY=1";
    /// let err = Message::new().push_status_fmt(format_args!("got {user_input}")).unwrap_err();
    /// assert!(matches!(&err, Error::InvalidValue { key, rule: Rule::Newline } if key == "STATUS"));
    /// ```
    pub fn push_status_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<&mut Self, Error> {
        self.check_new_key("STATUS", || Cow::Borrowed("STATUS"))?;
        let mut w = self.line_writer().map_err(|_| Error::MessageTooLong)?;
        let written = w.write_str("STATUS=").and_then(|()| {
            w.check_text = true;
            w.write_fmt(args)
        });
        match (written, w.rule) {
            (Ok(()), _) => {
                self.len = w.len;
                Ok(self)
            }
            (Err(_), Some(rule)) => Err(Error::InvalidValue { key: Cow::Borrowed("STATUS"), rule }),
            (Err(_), None) => Err(Error::MessageTooLong),
        }
    }

    /// The encoded datagram.
    ///
    /// ```
    /// # use sd_notify_core::{Message, NotifyState};
    /// assert_eq!(Message::from_states(&[NotifyState::Watchdog])?.as_bytes(), b"WATCHDOG=1");
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        debug_assert!(self.len <= MAX_MESSAGE_LEN);
        // SAFETY: `buf[..len]` is initialised (the invariant every writer keeps: `len` only
        // grows past bytes just written), `len <= MAX_MESSAGE_LEN` (every writer checks the
        // end against it), and `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len) }
    }

    /// `true` when no assignment was pushed.
    ///
    /// ```
    /// # use sd_notify_core::Message;
    /// assert!(Message::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when the message has an assignment with this key.
    ///
    /// ```
    /// # use sd_notify_core::{Message, NotifyState};
    /// assert!(Message::from_states(&[NotifyState::Ready])?.contains_key("READY"));
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        self.as_bytes()
            .split(|&b| b == b'\n')
            .any(|line| line.len() > key.len() && line.starts_with(key.as_bytes()) && line[key.len()] == b'=')
    }

    /// `true` when the message says `FDSTORE=1` or `MAINPIDFD=1`, the two that carry fds.
    pub(crate) fn wants_fds(&self) -> bool {
        self.wants_fds
    }

    /// Refuses a key that is already in the message (`error_key`: the key for the error).
    fn check_new_key(&self, key: &str, error_key: impl FnOnce() -> Cow<'static, str>) -> Result<(), Error> {
        if self.contains_key(key) {
            return Err(Error::DuplicateKey { key: error_key() });
        }
        Ok(())
    }

    /// Appends a line given in pieces (after a `\n` if there is a line already), or fails
    /// with [`Error::MessageTooLong`] leaving the message unchanged. Validation is the caller's.
    #[inline]
    pub(crate) fn put_pieces(&mut self, pieces: [&[u8]; 3]) -> Result<(), Error> {
        let mut at = self.len;
        // Each piece is a slice, so the sum cannot overflow: the lengths are at most isize::MAX.
        let end = at + usize::from(at > 0) + pieces[0].len() + pieces[1].len() + pieces[2].len();
        if end > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLong);
        }
        let buf = &mut self.buf[..end];
        if at > 0 {
            buf[at].write(b'\n');
            at += 1;
        }
        for piece in pieces {
            if !piece.is_empty() {
                copy_into(&mut buf[at..at + piece.len()], piece);
                at += piece.len();
            }
        }
        self.len = end;
        Ok(())
    }

    /// Appends `head` and then free `text` checked as it is copied (one pass over the text),
    /// as the line of a free-text state whose key is `key` (`head` is `KEY=`). The errors and
    /// their order are [`Message::push`]'s: the text's rule first, then the length.
    #[inline]
    pub(crate) fn put_text_line(&mut self, key: &'static str, head: &[u8], text: &str) -> Result<(), Error> {
        let invalid = |text: &str| {
            check_text(text).err().map(|rule| Error::InvalidValue { key: Cow::Borrowed(key), rule })
        };
        let mut at = self.len;
        let end = at + usize::from(at > 0) + head.len() + text.len();
        if end > MAX_MESSAGE_LEN {
            return Err(invalid(text).unwrap_or(Error::MessageTooLong));
        }
        let buf = &mut self.buf[..end];
        if at > 0 {
            buf[at].write(b'\n');
            at += 1;
        }
        copy_into(&mut buf[at..at + head.len()], head);
        at += head.len();
        if !copy_checked_text(&mut buf[at..], text.as_bytes()) {
            // The message's length is unchanged: the bytes written past it do not count.
            return Err(invalid(text).unwrap_or(Error::MessageTooLong));
        }
        self.len = end;
        Ok(())
    }

    /// A writer positioned for a new line: after the `\n` separator if there is a line already.
    fn line_writer(&mut self) -> Result<Writer<'_>, fmt::Error> {
        let mut w = Writer { len: self.len, buf: &mut self.buf, check_text: false, rule: None };
        if w.len > 0 {
            w.write_str("\n")?;
        }
        Ok(w)
    }
}

impl Default for Message {
    fn default() -> Self {
        Message::new()
    }
}

/// Messages are equal when their datagrams are.
impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Message {}

impl Hash for Message {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// The encoded datagram, as [`Message::as_bytes`].
impl AsRef<[u8]> for Message {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Message").field(&String::from_utf8_lossy(self.as_bytes())).finish()
    }
}

/// Appends to the inline buffer; fails (without writing past the end) when it is full, or,
/// with `check_text`, at the first byte that free text may not contain (kept in `rule`).
struct Writer<'a> {
    buf: &'a mut [MaybeUninit<u8>; MAX_MESSAGE_LEN],
    len: usize,
    check_text: bool,
    rule: Option<Rule>,
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.check_text {
            if let Err(rule) = check_text(s) {
                self.rule = Some(rule);
                return Err(fmt::Error);
            }
        }
        let end = self.len + s.len();
        if end > MAX_MESSAGE_LEN {
            return Err(fmt::Error);
        }
        copy_into(&mut self.buf[self.len..end], s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An uninitialised buffer, made at run time (see [`Message::uninit`]).
#[inline(always)]
fn uninit_buf() -> [MaybeUninit<u8>; MAX_MESSAGE_LEN] {
    // SAFETY: an array of `MaybeUninit<u8>` needs no initialisation: every bit pattern,
    // including none, is a valid value of each element.
    unsafe { MaybeUninit::<[MaybeUninit<u8>; MAX_MESSAGE_LEN]>::uninit().assume_init() }
}

/// Initialises `dst` with `src` (same length; the compiler makes this a `memcpy`, or a few
/// moves for a constant length).
#[inline(always)]
fn copy_into(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    debug_assert_eq!(dst.len(), src.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

/// Makes arbitrary text safe for `STATUS=`: line breaks, other control characters and NUL
/// become spaces, a backslash becomes `/`. Text that is already safe is borrowed unchanged.
///
/// Use it for text you do not control (error messages, user data) where "send something
/// readable" beats "refuse"; [`NotifyState::Status`] itself refuses such text instead.
///
/// ```
/// use sd_notify_core::sanitize_status;
/// assert_eq!(sanitize_status("bad\nREADY=1"), "bad READY=1");
/// assert_eq!(sanitize_status(r"C:\dir\"), "C:/dir/");
/// ```
pub fn sanitize_status(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || c == '\\';
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\\' => '/',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect(),
    )
}
