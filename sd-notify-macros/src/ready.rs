//! The `#[ready]` marker: found, checked and stripped.
//!
//! The marker is an outer attribute on one statement at the top level of the body. The
//! top-level statements come from syn; everything below them, and the signature, is scanned
//! at the token level, which also reaches markers inside macro invocations such as
//! `tokio::select! { … }` that syn leaves unparsed. Every marker is stripped wherever it is,
//! so an error never comes with a follow-up "cannot find attribute `ready`".

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Error, FnArg, ItemFn, Stmt};

const NESTED: &str = "`#[ready]` must mark a statement directly in the body of the #[sd_service] fn, \
     not one inside a block, closure, async block, loop, branch, macro call or nested item";

const RUNTIME_ABOVE: &str = "`#[ready]` is in an async block of a sync fn: if a runtime attribute \
     such as #[tokio::main] is above #[sd_service], put it below, so that #[sd_service] sees \
     the async fn; else mark a statement directly in the fn's body";

/// The error of the `#[ready]` attribute itself, which only runs outside a `#[sd_service]` fn.
pub(crate) const OUTSIDE: &str = "`#[ready]` marks a statement directly in the body of a #[sd_service] fn \
     (which removes it and sends READY=1 after it); this one is outside any #[sd_service] fn: \
     move the statement into that fn's body, or put #[sd_service] on this fn";

/// The body's top-level statements with their markers removed.
pub(crate) struct Body {
    /// Each statement, as tokens.
    pub(crate) stmts: Vec<TokenStream>,
    /// The marked statement (READY=1 goes after it) and the marker's span.
    pub(crate) ready_after: Option<(usize, Span)>,
}

/// Strips every `#[ready]` from the fn (its attributes, parameters and body), returning the
/// body's statements and where READY goes. Misplaced markers are reported in `errors`, but
/// for those in an async block of a sync fn when `runtime_above` was already reported: that
/// error says what to do about them.
pub(crate) fn take_markers(item: &mut ItemFn, runtime_above: bool, errors: &mut Vec<Error>) -> Body {
    strip_attrs(
        &mut item.attrs,
        errors,
        "`#[ready]` marks a statement in the body of the fn, not the fn itself",
    );
    for input in &mut item.sig.inputs {
        let attrs = match input {
            FnArg::Receiver(receiver) => &mut receiver.attrs,
            FnArg::Typed(typed) => &mut typed.attrs,
        };
        strip_attrs(attrs, errors, "`#[ready]` marks a statement in the body of the fn, not a parameter");
    }

    let count = item.block.stmts.len();
    let mut body = Body { stmts: Vec::with_capacity(count), ready_after: None };
    for (index, stmt) in item.block.stmts.iter().enumerate() {
        let (markers, rest) = leading_markers(stmt.to_token_stream());
        let within = Within::Fn { is_async: item.sig.asyncness.is_some() };
        let stmt_tokens = strip_nested(rest, errors, within, runtime_above);
        for marker in markers {
            if marker.has_arguments {
                errors.push(marker.error("`#[ready]` takes no arguments: write `#[ready]`"));
            } else if let Some(problem) = misplaced(stmt, index + 1 == count) {
                errors.push(marker.error(problem));
            } else if body.ready_after.is_some() {
                errors.push(marker.error(
                    "`#[ready]` is already on an earlier statement: READY=1 is sent once, after one statement",
                ));
            } else {
                body.ready_after = Some((index, marker.span));
            }
        }
        body.stmts.push(stmt_tokens);
    }
    body
}

/// Why a top-level statement cannot carry the marker, if it cannot.
fn misplaced(stmt: &Stmt, last: bool) -> Option<&'static str> {
    match stmt {
        Stmt::Item(_) => {
            Some("`#[ready]` marks a statement (a `let` or an expression statement), not an item")
        }
        Stmt::Expr(_, None) | Stmt::Macro(syn::StmtMacro { semi_token: None, .. }) if last => Some(
            "`#[ready]` cannot mark the fn's final expression, after which nothing runs; \
             mark the statement that completes start-up, or end this one with `;`",
        ),
        _ => None,
    }
}

/// One `#[ready…]` attribute, as tokens.
struct Marker {
    tokens: TokenStream,
    span: Span,
    has_arguments: bool,
}

impl Marker {
    fn error(&self, message: &str) -> Error {
        Error::new_spanned(&self.tokens, message)
    }
}

/// If `pound` and `group` form `#[ready…]` (or `#![ready…]` with `bang`), that marker.
fn marker(pound: &TokenTree, bang: Option<&TokenTree>, group: &TokenTree) -> Option<Marker> {
    let TokenTree::Group(group) = group else { return None };
    if group.delimiter() != Delimiter::Bracket {
        return None;
    }
    let mut inside = group.stream().into_iter();
    match inside.next() {
        Some(TokenTree::Ident(ident)) if ident == "ready" => {}
        _ => return None,
    }
    let mut tokens = TokenStream::from(pound.clone());
    tokens.extend(bang.cloned());
    tokens.extend([TokenTree::Group(group.clone())]);
    Some(Marker { tokens, span: pound.span(), has_arguments: inside.next().is_some() })
}

fn is_punct(tree: Option<&TokenTree>, ch: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

/// Splits the outer attributes at the start of a statement into its markers and the rest.
fn leading_markers(stmt: TokenStream) -> (Vec<Marker>, TokenStream) {
    let trees: Vec<TokenTree> = stmt.into_iter().collect();
    let mut markers = Vec::new();
    let mut rest = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i + 1 < trees.len() && is_punct(trees.get(i), '#') && matches!(trees[i + 1], TokenTree::Group(_)) {
        match marker(&trees[i], None, &trees[i + 1]) {
            Some(found) => markers.push(found),
            None => rest.extend_from_slice(&trees[i..i + 2]),
        }
        i += 2;
    }
    rest.extend_from_slice(&trees[i..]);
    (markers, rest.into_iter().collect())
}

/// Where a token stream lies, for the error about a nested marker.
#[derive(Clone, Copy)]
enum Within {
    /// Somewhere in the fn (async or not).
    Fn { is_async: bool },
    /// In an async block of a sync fn: what a runtime attribute put *above* `#[sd_service]`
    /// makes of an async fn (`#[tokio::main]` turns the body into `let body = async { … }`).
    AsyncBlockOfSyncFn,
}

/// Removes every marker anywhere in `tokens`, reporting each one as nested.
fn strip_nested(
    tokens: TokenStream,
    errors: &mut Vec<Error>,
    within: Within,
    runtime_above: bool,
) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if is_punct(trees.get(i), '#') {
            let bang = is_punct(trees.get(i + 1), '!');
            let group_at = if bang { i + 2 } else { i + 1 };
            if let Some(group) = trees.get(group_at) {
                if let Some(found) = marker(&trees[i], bang.then(|| &trees[i + 1]), group) {
                    match within {
                        Within::Fn { .. } => errors.push(found.error(NESTED)),
                        Within::AsyncBlockOfSyncFn if !runtime_above => {
                            errors.push(found.error(RUNTIME_ABOVE))
                        }
                        Within::AsyncBlockOfSyncFn => {}
                    }
                    i = group_at + 1;
                    continue;
                }
            }
        }
        out.push(match &trees[i] {
            TokenTree::Group(group) => {
                let inner = match within {
                    Within::Fn { is_async: false }
                        if group.delimiter() == Delimiter::Brace && after_async(&trees[..i]) =>
                    {
                        Within::AsyncBlockOfSyncFn
                    }
                    other => other,
                };
                let mut stripped =
                    Group::new(group.delimiter(), strip_nested(group.stream(), errors, inner, runtime_above));
                stripped.set_span(group.span());
                TokenTree::Group(stripped)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// The tokens end with `async` or `async move`: a brace group after them is an async block.
fn after_async(before: &[TokenTree]) -> bool {
    let is = |tree: Option<&TokenTree>, word: &str| matches!(tree, Some(TokenTree::Ident(i)) if i == word);
    match before {
        [.., last] if is(Some(last), "async") => true,
        [.., async_kw, last] => is(Some(last), "move") && is(Some(async_kw), "async"),
        _ => false,
    }
}

/// Removes `#[ready]` from an attribute list that cannot carry it.
fn strip_attrs(attrs: &mut Vec<Attribute>, errors: &mut Vec<Error>, message: &str) {
    attrs.retain(|attr| {
        let is_marker = attr.path().is_ident("ready");
        if is_marker {
            errors.push(Error::new_spanned(attr, message));
        }
        !is_marker
    });
}
