//! The `#[sd_service]` attribute. Use it through `sd-notify-core`, which re-exports it (its
//! default `macros` feature) and provides the run time the generated code calls:
//! `use sd_notify_core::sd_service;`.
//!
//! The work is split by phase: `args` parses the options, `ready` finds and strips the
//! `#[ready]` marker, `valid` checks the fn, `expand` writes the code (or, on error, the fn
//! as written plus the errors).

#![deny(missing_docs)]

mod args;
mod expand;
mod manifest;
mod ready;
mod valid;

use proc_macro::TokenStream;

/// Makes a daemon's `main` a correct systemd `Type=notify` service.
///
/// The attribute goes on the fn that runs the service (usually `main`). The generated
/// `main` tells the service manager where the service stands:
///
/// - `READY=1` when start-up is done: after the statement marked `#[ready]`, or, with no
///   marker, as soon as `main` starts;
/// - `STOPPING=1` once: at once when SIGTERM or SIGINT arrives (from the signal handler),
///   or when the fn returns;
/// - with `reload`, `RELOADING=1` with its `MONOTONIC_USEC=` when SIGHUP arrives, and
///   `READY=1` when the fn reports the reload done;
/// - watchdog pings, when the unit has `WatchdogSec=`. An async fn pings when it is polled,
///   so a stuck fn stops the pings and systemd restarts it; a sync fn's pings come from the
///   service thread until the fn first calls `service.heartbeat()`, then only from those
///   calls (a line on stderr at start says so);
/// - how it ended: an `Err` (its text and its sources'), a failing exit code or a panic
///   becomes `STATUS=`, with `ERRNO=` and `EXIT_STATUS=`, and the process exits with the
///   code `main` would have given;
/// - before exiting, it waits (bounded) until the manager has read all of this.
///
/// None of this ever waits for the manager: a message its queue has no room for is sent
/// later, in order, by the service thread, and everything sent at exit shares one deadline
/// (`EXIT_BARRIER_TIMEOUT`). A repeated SIGTERM is ignored (the stop is under way; the
/// manager escalates with SIGKILL by itself), so `ExecStop=kill $MAINPID` stays a clean stop.
///
/// Without `NOTIFY_SOCKET` (not started by systemd) nothing is sent; SIGTERM and SIGINT
/// still stop the fn the same way (so it behaves alike in a terminal), and there a second
/// SIGINT (Ctrl-C twice) exits at once with status 130.
///
/// ```ignore
/// use sd_notify_core::{sd_service, ServiceHandle};
///
/// #[sd_service(starting = "loading config", running = "serving", stopping = "draining", reload)]
/// #[tokio::main]
/// async fn main(service: ServiceHandle) -> Result<(), std::io::Error> {
///     let mut config = Config::load().await?;
///     #[ready]
///     let listener = tokio::net::TcpListener::bind(&config.address).await?;
///     loop {
///         tokio::select! {
///             () = service.shutdown() => break,
///             () = service.reload_requested() => {
///                 config = Config::load().await?;
///                 service.reload_done(); // READY=1
///             }
///             accepted = listener.accept() => spawn_connection(accepted?, &config),
///         }
///     }
///     Ok(())
/// }
/// ```
///
/// # The fn
/// - **Sync or async.** An `async fn` needs its runtime's attribute *below* `#[sd_service]`
///   (any attribute whose path ends in `main`: `#[tokio::main]` in either flavour,
///   `#[async_std::main]`, `#[smol_potat::main]`, `#[actix_rt::main]`,
///   `#[pollster::main]`, …). The order matters: `#[sd_service]` must see the async fn and
///   leave the runtime attribute on it, so that the signal handlers are installed before the
///   runtime starts its threads. The other order is a compile error where the attribute can
///   tell (the runtime attribute's output shows it: tokio, async-std, smol-potat, actix-rt,
///   pollster).
///
///   ```ignore
///   #[sd_service]      // first
///   #[tokio::main]     // then the runtime
///   async fn main() { /* … */ }
///   ```
/// - **No parameter, or one: the handle**, `service: ServiceHandle` (by value; any name or alias
///   of `sd_notify_core::ServiceHandle` works, rustc checks the type). A fn that takes the handle
///   is in charge of its own shutdown: it waits for `service.shutdown()` (async) or checks
///   `service.is_stopping()` (sync), then returns. A fn without it is stopped for it: on
///   SIGTERM or SIGINT an async body is dropped (at the `.await` it is waiting on) and a
///   sync one abandoned, and the process exits with status 0 once `STOPPING=1` has been
///   sent and read.
/// - **The return type** is anything `main` may return: `()`, `Result<(), E>`,
///   `std::process::ExitCode`, any `Termination` type, but not `impl Trait` or `!`.
/// - **Not** `const`, `unsafe`, `extern`, generic, variadic, or a method.
/// - The fn may have any name and visibility: the generated fn keeps both and returns
///   `std::process::ExitCode`, so a service fn can also be called from a `main` or a test.
/// - Attributes below `#[sd_service]`: `#[cfg]` and doc comments stay on the fn with the
///   user's name (everything generated is inside it), lint levels (`#[allow]`, `#[expect]`,
///   …) go on the fn holding the user's code, and the others go on the fn the runtime
///   attribute makes sync (async fn; the runtime's own attribute among them) or on the fn
///   holding the user's code (sync fn).
///
/// # `#[ready]`: where start-up ends
/// Mark the statement after which the service can do its job (typically the `let` that binds
/// the listener) with `#[ready]`. `READY=1` (with the `running` status) is sent right after
/// that statement completes; if the statement returns early (`?`) or panics, it is never
/// sent, and systemd sees the start fail.
///
/// ```ignore
/// #[sd_service]
/// fn main() -> std::io::Result<()> {
///     let config = load_config()?;
///     #[ready]
///     let listener = std::net::TcpListener::bind(&config.address)?;
///     serve(listener)
/// }
/// // is, for the body:
/// fn main() -> std::io::Result<()> {
///     let config = load_config()?;
///     let listener = std::net::TcpListener::bind(&config.address)?;
///     sd_notify_core::__private_0_1::ready(); // READY=1 + STATUS=<running>
///     serve(listener)
/// }
/// ```
///
/// The marker goes on one `let` or expression statement directly in the fn's body. It is an
/// error to put it on the final expression (nothing would run after it: end it with `;`),
/// inside a block, closure, async block, loop, `if`/`match` arm, macro call or nested item,
/// to use it twice, or to give it arguments.
///
/// **Without a marker, `READY=1` is sent as soon as the fn starts**: a service that declares
/// no initialisation is ready when it runs. Never sending it would be worse: a
/// `Type=notify` unit would hang in "activating" until `TimeoutStartSec=` and then fail.
///
/// # Options
/// Each option may be given once; the generated fn carries them in a `static` the run time
/// reads.
///
/// ## `starting = "…"`
/// `STATUS=` shown while starting, sent when the fn starts.
///
/// ```ignore
/// #[sd_service(starting = "loading config")]
/// fn main() { /* … */ }
/// // sends, when main starts:
/// sd_notify_core::notify(&[NotifyState::Status("loading config")])?;
/// ```
///
/// ## `running = "…"`
/// `STATUS=` sent together with `READY=1`, in one datagram. Without it, `READY=1` clears
/// the `starting` text, if there was one.
///
/// ```ignore
/// #[sd_service(running = "serving")]
/// fn main() { /* … */ }
/// // sends, after the #[ready] statement:
/// sd_notify_core::notify(&[NotifyState::Ready, NotifyState::Status("serving")])?;
/// ```
///
/// ## `stopping = "…"`
/// `STATUS=` sent together with `STOPPING=1`, when SIGTERM/SIGINT arrives or the fn
/// returns successfully (a failure puts its own message in `STATUS=` instead). Without it
/// the text is `Stopping`.
///
/// ```ignore
/// #[sd_service(stopping = "draining")]
/// fn main() { /* … */ }
/// // sends, on SIGTERM or at the end:
/// sd_notify_core::notify(&[NotifyState::Stopping, NotifyState::Status("draining")])?;
/// ```
///
/// The three texts are checked at compile time: `STATUS=` is one line, so a line break
/// (which would let the text inject another assignment, like `READY=1`), a NUL character or
/// a backslash (an escape character for systemd) is a compile error, and so is a text longer
/// than 1024 bytes.
///
/// ## `reload`
/// Also `reload = true` / `reload = false`. SIGHUP becomes a reload request (for
/// `Type=notify-reload` units, or `ExecReload=kill -HUP $MAINPID`): the run time sends
/// `RELOADING=1` with `MONOTONIC_USEC=` at once and wakes `service.reload_requested()`;
/// the fn reloads, then calls `service.reload_done()` (`READY=1`) or
/// `service.reload_failed(error)`. The fn must therefore take the handle; `reload` without
/// it is a compile error.
///
/// ```ignore
/// #[sd_service(reload)]
/// fn main(service: ServiceHandle) { /* … */ }
/// // is, on SIGHUP (in the signal handler, then in the fn):
/// sd_notify_core::notify(&NotifyState::reloading_now())?; // RELOADING=1 + MONOTONIC_USEC=
/// service.reload_requested().await; // the fn reloads, then:
/// service.reload_done();            // READY=1 (`false`, and nothing sent, if none was pending)
/// ```
///
/// Without `reload`, SIGHUP keeps its default action.
///
/// ## `crate = "…"`
/// The path to `sd-notify-core`, for a crate that renamed the dependency
/// (`sd = { package = "sd-notify-core", … }` in `Cargo.toml`): `crate = "sd"`. The default
/// is `::sd_notify_core`.
///
/// # What it generates
/// For the example at the top (the names are private; shown to be read, not called).
/// Everything is nested inside the fn with the user's name: nothing else appears in the
/// module. `examples/hand-expanded` is such an expansion written out, and runs.
///
/// ```ignore
/// fn main() -> ::std::process::ExitCode {
///     // The user's fn under another name. The one lint it would not draw as a runtime's
///     // `main` (an async fn without `.await`) is allowed, and only that one.
///     #[allow(clippy::unused_async)]
///     async fn __sd_service_body(service: ServiceHandle) -> Result<(), std::io::Error> {
///         // the fn's body as written, with `sd_notify_core::__private_0_1::ready();` after the
///         // #[ready] statement
///     }
///
///     // The rest in a block of its own, which the user's code cannot see.
///     {
///         static __SD_SERVICE_CONFIG: sd_notify_core::__private_0_1::Config = sd_notify_core::__private_0_1::Config {
///             name: "main",
///             starting: Some("loading config"),
///             running: Some("serving"),
///             stopping: Some("draining"),
///             reload: true,
///             takes_handle: true,
///             ready_marker: true,
///         };
///         // The runtime's attribute on a fn named `main`, which every runtime accepts.
///         #[tokio::main]
///         async fn main() -> sd_notify_core::__private_0_1::Supervised<Result<(), std::io::Error>> {
///             sd_notify_core::__private_0_1::supervise(__sd_service_body(sd_notify_core::__private_0_1::handle())).await
///         }
///         // Signal handlers and the service thread are set up before the runtime starts.
///         sd_notify_core::__private_0_1::run_async(&__SD_SERVICE_CONFIG, main, |result: &Result<(), std::io::Error>| {
///             sd_notify_core::__private_0_1::failure_of!(result) // Err -> STATUS=, ERRNO=, EXIT_STATUS=
///         })
///     }
/// }
/// ```
///
/// A sync fn has no runtime fn: `run_sync(&__SD_SERVICE_CONFIG, |service|
/// __sd_service_body(service), …)`, or `|_| __sd_service_body()` without the handle; its
/// body fn allows `clippy::unnecessary_wraps` when it is `main` (which clippy spares it),
/// and nothing otherwise.
///
/// # Errors
/// Every misuse is a compile error on the token at fault: an unknown (with "did you mean")
/// or repeated option, a `STATUS=` text systemd would misread, a misplaced `#[ready]`, a
/// signature the run time cannot call, an `async fn` without a runtime attribute below, a
/// runtime attribute above. All of them are reported at once, in source order. The fn is
/// still emitted as written (under the body fn's name, inside a stand-in with its own name
/// and the generated signature), so no "`main` function not found" or "`main` has wrong
/// type" follows and the IDE keeps working in it.
///
/// Without `crate = "…"`, the attribute reads the crate's `Cargo.toml`: if sd-notify-core is
/// there only under another name, the error says which `crate = "…"` to write.
#[proc_macro_attribute]
pub fn sd_service(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::sd_service(args.into(), item.into()).into()
}

/// The `#[ready]` marker, outside a `#[sd_service]` fn: an error that says where it belongs.
///
/// Inside a `#[sd_service]` fn the marker is never expanded: `#[sd_service]` removes it and
/// sends `READY=1` after the statement it marks. This attribute exists so that a marker
/// anywhere else (on a statement or an item, with `ready` in scope) is an error naming
/// `#[sd_service]`. On a statement, stable rustc also says "custom attributes cannot be
/// applied to statements".
#[proc_macro_attribute]
pub fn ready(_args: TokenStream, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(proc_macro2::Span::call_site(), ready::OUTSIDE).to_compile_error();
    let mut out = TokenStream::from(error);
    out.extend(item);
    out
}
