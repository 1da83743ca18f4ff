//! The attribute's options: `#[sd_service(starting = "…", running = "…", stopping = "…",
//! reload, crate = "…")]`. Every bad option is reported, not only the first.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Error, Expr, ExprLit, Lit, LitStr, Path, Token};

/// Every option, as listed in the "unknown option" error.
const OPTIONS: &str = "`starting`, `running`, `stopping`, `reload`, `crate`";

/// The option names, for "did you mean".
const NAMES: [&str; 5] = ["starting", "running", "stopping", "reload", "crate"];

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
    /// `crate` was given, right or wrong: the manifest is not scanned for a rename.
    pub(crate) crate_given: bool,
}

impl Args {
    /// Parses the attribute's arguments. Every problem goes to `errors`, in source order:
    /// after a bad option the parser skips to the next `,` and goes on.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Vec<Error>) -> Self {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            if let Err(error) = args.option(&meta) {
                errors.push(error);
                skip_to_comma(&meta);
            }
            Ok(())
        });
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
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
                self.crate_given = true;
                once(&self.krate, path)?;
                self.krate = Some(crate_path(meta)?);
            }
            _ => return Err(unknown(path)),
        }
        Ok(())
    }
}

/// After an error in one option: its remaining tokens, up to the `,` before the next one.
fn skip_to_comma(meta: &ParseNestedMeta<'_>) {
    let skipped = meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
    debug_assert!(skipped.is_ok(), "skipping tokens cannot fail");
}

fn unknown(path: &Path) -> Error {
    let name = path.to_token_stream().to_string().replace(' ', "");
    let message = match closest(&name) {
        Some(option) => {
            format!(
                "unknown option `{name}` of #[sd_service]: did you mean `{option}`? (expected one of {OPTIONS})"
            )
        }
        None => format!("unknown option `{name}` of #[sd_service]; expected one of {OPTIONS}"),
    };
    Error::new_spanned(path, message)
}

/// The option a misspelt `name` most likely meant: the nearest by edit distance, if it is
/// within a third of the name's length (rustc's rule for "did you mean").
fn closest(name: &str) -> Option<&'static str> {
    let name = name.to_lowercase();
    let limit = name.chars().count().max(3) / 3;
    NAMES
        .into_iter()
        .map(|option| (distance(&name, option), option))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, o)| o)
}

/// Levenshtein distance (insertions, deletions, substitutions), over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
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

#[cfg(test)]
mod tests {
    use super::{closest, distance};

    #[test]
    fn distances() {
        assert_eq!(distance("reload", "reload"), 0);
        assert_eq!(distance("reloads", "reload"), 1);
        assert_eq!(distance("runing", "running"), 1);
        assert_eq!(distance("", "crate"), 5);
        assert_eq!(distance("stoping", "starting"), 3);
    }

    #[test]
    fn did_you_mean() {
        assert_eq!(closest("reloads"), Some("reload"));
        assert_eq!(closest("runing"), Some("running"));
        assert_eq!(closest("Stopping"), Some("stopping"));
        assert_eq!(closest("stoping"), Some("stopping"));
        assert_eq!(closest("krate"), Some("crate"));
        assert_eq!(closest("watchdog"), None);
        assert_eq!(closest("ready"), None);
    }
}
