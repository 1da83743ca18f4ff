//! The attribute's options: `#[sd_service(starting = "…", running = "…", stopping = "…",
//! reload, crate = "…")]`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Error, Expr, ExprLit, Lit, LitStr, Path, Token};

/// Every option, as listed in the "unknown option" error.
const OPTIONS: &str = "`starting`, `running`, `stopping`, `reload`, `crate`";

/// The parsed options. Each is `None` until given; giving one twice is an error.
#[derive(Default)]
pub(crate) struct Args {
    /// `STATUS=` text while starting.
    pub(crate) starting: Option<LitStr>,
    /// `STATUS=` text sent with `READY=1`.
    pub(crate) running: Option<LitStr>,
    /// `STATUS=` text sent with `STOPPING=1`.
    pub(crate) stopping: Option<LitStr>,
    /// `reload` / `reload = bool`, with the span of the key for later errors.
    pub(crate) reload: Option<(bool, Span)>,
    /// `crate = "path"`: where sd-notify-core is, for users who renamed it.
    pub(crate) krate: Option<Path>,
}

impl Args {
    /// Parses the attribute's arguments; the first problem found is the error.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Args::default();
        syn::meta::parser(|meta| args.option(&meta)).parse2(tokens)?;
        Ok(args)
    }

    /// `reload` was given and is `true`.
    pub(crate) fn reload(&self) -> bool {
        self.reload.is_some_and(|(on, _)| on)
    }

    /// The path of the core crate: `crate = "…"`, or `::sd_notify_core`.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::sd_notify_core),
        }
    }

    fn option(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        let Some(key) = path.get_ident() else {
            return Err(unknown(path));
        };
        match key.to_string().as_str() {
            "starting" => {
                once(&self.starting, path)?;
                self.starting = Some(status_text(meta, "starting")?);
            }
            "running" => {
                once(&self.running, path)?;
                self.running = Some(status_text(meta, "running")?);
            }
            "stopping" => {
                once(&self.stopping, path)?;
                self.stopping = Some(status_text(meta, "stopping")?);
            }
            "reload" => {
                once(&self.reload, path)?;
                self.reload = Some((flag(meta, "reload")?, key.span()));
            }
            "crate" => {
                once(&self.krate, path)?;
                self.krate = Some(crate_path(meta)?);
            }
            _ => return Err(unknown(path)),
        }
        Ok(())
    }
}

fn unknown(path: &Path) -> Error {
    let name = path.to_token_stream().to_string().replace(' ', "");
    Error::new_spanned(path, format!("unknown option `{name}` of #[sd_service]; expected one of {OPTIONS}"))
}

fn once<T>(slot: &Option<T>, path: &Path) -> syn::Result<()> {
    match slot {
        None => Ok(()),
        Some(_) => {
            let name = path.get_ident().map(ToString::to_string).unwrap_or_default();
            Err(Error::new_spanned(path, format!("`{name}` set multiple times")))
        }
    }
}

/// The value after `key =`, which must be a string literal.
fn string(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    let usage = format!("`{key}` takes a string literal: `{key} = \"{example}\"`");
    match value(meta, &usage)? {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) if lit.suffix().is_empty() => Ok(lit),
        other => Err(Error::new_spanned(other, usage)),
    }
}

/// The expression after `key =`; `usage` is the error when `=` or the value is missing.
fn value(meta: &ParseNestedMeta<'_>, usage: &str) -> syn::Result<Expr> {
    let Some(eq) = equals(meta)? else {
        return Err(Error::new_spanned(&meta.path, usage));
    };
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        let path = &meta.path;
        return Err(Error::new_spanned(quote!(#path #eq), usage));
    }
    meta.input.parse()
}

/// The `=` after a key, if there is one.
fn equals(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Token![=]>> {
    if meta.input.peek(Token![=]) { meta.input.parse().map(Some) } else { Ok(None) }
}

/// Longest status literal accepted (the run time reports error texts cut to the same length).
const MAX_STATUS_LEN: usize = 1024;

/// A `STATUS=` text: checked here because systemd would misread these characters.
fn status_text(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<LitStr> {
    let example = match key {
        "starting" => "loading config",
        "running" => "serving",
        _ => "draining",
    };
    let lit = string(meta, key, example)?;
    let value = lit.value();
    let why = if value.contains(['\n', '\r']) {
        "a line break: systemd would read the rest as another assignment, such as `READY=1`"
    } else if value.contains('\0') {
        "a NUL character: systemd drops a message that contains one"
    } else if value.contains('\\') {
        "a backslash: systemd reads it as an escape character and drops a message that ends with one"
    } else if value.len() > MAX_STATUS_LEN {
        "more than 1024 bytes: a status is one short line, and the datagram it travels in is limited to 4096"
    } else {
        return Ok(LitStr::new(&value, lit.span()));
    };
    Err(Error::new_spanned(&lit, format!("`{key}` is sent as `STATUS=` and cannot contain {why}")))
}

/// `key` alone means `true`; `key = true` and `key = false` are accepted too.
fn flag(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<bool> {
    let usage = format!("`{key}` is a flag: write `{key}`, or `{key} = true` / `{key} = false`");
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(true);
    }
    match value(meta, &usage)? {
        Expr::Lit(ExprLit { lit: Lit::Bool(lit), .. }) => Ok(lit.value),
        other => Err(Error::new_spanned(other, usage)),
    }
}

/// `crate = "path"`: the path, parsed from the string, spanned on the string.
fn crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let lit = string(meta, "crate", "sd_notify_core")?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        Error::new_spanned(
            &lit,
            format!("`crate` must be the path of sd-notify-core, such as \"my_sd\", not {:?}", lit.value()),
        )
    })
}
