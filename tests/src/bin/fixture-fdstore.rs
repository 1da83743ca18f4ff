//! Test fixture for the file descriptor store (`FileDescriptorStoreMax=`): a sync
//! `#[sd_service]` that, at start, takes what the manager passed with
//! [`listen_fds_with_names`]:
//! - fds named `state` (a memfd holding `created by pid P, start N`) and `listener` (a TCP
//!   listener on 127.0.0.1, random port) came back: it counts this start in the memfd (the
//!   same open file, so the count goes on) and reports `STATUS=fd store: state from the
//!   store: created by pid P, start N; listener from the store: 127.0.0.1:PORT`;
//! - otherwise it creates both, stores them (`FDSTORE=1` + `FDNAME=`, one datagram per fd)
//!   and reports `... state new: created by pid P, start 1; listener new: ...`.
//!
//! Then `READY=1`. Knob `CRASH_MS`: on the first start only (start 1 in the memfd), exit 3
//! that long after READY (for `Restart=`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use sd_notify_core::{
    Message, Notifier, NotifyState, SendOptions, ServiceHandle, listen_fds_with_names, sd_service,
};
use sd_notify_tests::knob;

#[sd_service]
fn main(service: ServiceHandle) -> io::Result<()> {
    #[ready]
    let (start, _state, _listener) = take_or_store()?;
    if let (Some(ms), 1) = (knob("CRASH_MS"), start) {
        std::thread::sleep(Duration::from_millis(ms));
        eprintln!("fixture-fdstore: crashing on purpose (exit 3) after the first start");
        std::process::exit(3);
    }
    while !service.is_stopping() {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The start number, the state memfd and the listener, taken from the store or new.
fn take_or_store() -> io::Result<(u64, File, TcpListener)> {
    let mut state = None;
    let mut listener = None;
    for passed in listen_fds_with_names().map_err(io::Error::other)? {
        let (fd, name) = passed.into_parts();
        eprintln!("fixture-fdstore: got fd {fd:?} named {name:?}");
        match name.as_str() {
            "state" => state = Some(File::from(fd)),
            "listener" => listener = Some(TcpListener::from(fd)),
            _ => {}
        }
    }
    let (state_origin, mut state) = match state {
        Some(file) => ("state from the store", file),
        None => {
            let file = new_memfd()?;
            store(&file, "state")?;
            ("state new", file)
        }
    };
    let (listener_origin, listener) = match listener {
        Some(l) => ("listener from the store", l),
        None => {
            let l = TcpListener::bind("127.0.0.1:0")?;
            store(&l, "listener")?;
            ("listener new", l)
        }
    };
    // The memfd's content: "created by pid P, start N" (empty when new).
    let mut content = String::new();
    state.seek(SeekFrom::Start(0))?;
    state.read_to_string(&mut content)?;
    let (creator, start) =
        match content.trim().strip_prefix("created by pid ").and_then(|r| r.split_once(", start ")) {
            Some((pid, n)) => (pid.to_owned(), n.parse::<u64>().unwrap_or(0) + 1),
            None => (std::process::id().to_string(), 1),
        };
    let line = format!("created by pid {creator}, start {start}");
    state.set_len(0)?;
    state.seek(SeekFrom::Start(0))?;
    state.write_all(line.as_bytes())?;
    let status = format!("fd store: {state_origin}: {line}; {listener_origin}: {}", listener.local_addr()?);
    println!("fixture-fdstore: pid {}: {status}", std::process::id());
    ServiceHandle::current().expect("called by the service").set_status(&status).map_err(io::Error::other)?;
    Ok((start, state, listener))
}

fn store(fd: &impl AsFd, name: &str) -> io::Result<()> {
    let msg =
        Message::from_states(&[NotifyState::FdStore, NotifyState::FdName(name)]).map_err(io::Error::other)?;
    match Notifier::from_env().map_err(io::Error::other)? {
        Some(notifier) => {
            notifier.send_with(&msg, SendOptions::new().fds(&[fd.as_fd()])).map_err(io::Error::other)
        }
        None => Ok(()),
    }
}

fn new_memfd() -> io::Result<File> {
    // SAFETY: memfd_create takes a NUL-terminated name (a C string literal) and flags.
    let fd = unsafe { libc::memfd_create(c"sd-notify-state".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}
