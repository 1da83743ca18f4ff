//! Code generation: the options and the checked fn become a fn of the same name that runs
//! the body as a service, or, on any error, the original fn plus the errors.
//!
//! Everything generated is nested inside the fn with the user's name, so nothing new appears
//! in the user's module.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Attribute, Error, FnArg, Ident, Item, ItemFn, LitStr, ReturnType};

use crate::args::Args;
use crate::ready::{self, Body};
use crate::{manifest, valid};

/// The whole attribute: parse, check, generate.
pub(crate) fn sd_service(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item)) => item,
        Ok(other) => return with_errors(item, vec![valid::not_a_fn(&other)]),
        Err(_) => return with_errors(item, vec![Error::new(Span::call_site(), valid::NOT_A_FN)]),
    };
    // In source order: a runtime attribute above, the options, the signature, the body.
    let mut errors = Vec::new();
    let runtime_above = valid::runtime_above(&item);
    let has_runtime_above = runtime_above.is_some();
    errors.extend(runtime_above);
    let mut option_errors = Vec::new();
    let args = Args::parse(args, &mut option_errors);
    if !args.crate_given {
        // At the attribute itself, so before the errors in its options.
        if let Some(name) = manifest::renamed_core() {
            errors.push(Error::new(
                Span::call_site(),
                format!(
                    "sd-notify-core is renamed to `{name}` in Cargo.toml, so `::sd_notify_core` does not \
                     exist here: write #[sd_service(crate = \"{name}\")]"
                ),
            ));
        }
    }
    errors.append(&mut option_errors);
    let mut marker_errors = Vec::new();
    let body = ready::take_markers(&mut item, has_runtime_above, &mut marker_errors);
    valid::check(&item, &args, has_runtime_above, &mut errors);
    errors.append(&mut marker_errors);
    if has_runtime_above && item.sig.asyncness.is_some() {
        // `#[async_std::main]` or `#[smol_potat::main]` calls this async fn from its own
        // `main`: as it came, it compiles as it would without us.
        with_errors(as_written(item, body), errors)
    } else if errors.is_empty() {
        generate(&args, item, body)
    } else {
        with_errors(fallback(item, body), errors)
    }
}

/// Never only the errors: the item stays, so there is no "`main` function not found" on top
/// of the real error.
fn with_errors(item: TokenStream, errors: Vec<Error>) -> TokenStream {
    let errors = errors.into_iter().map(|e| e.to_compile_error());
    quote!(#item #(#errors)*)
}

/// What stands in for the expansion when there are errors: the generated fn's signature
/// (user's name and visibility), so a `main` or a caller still type-checks, holding the
/// user's fn as written (less its markers) under the body fn's name, where it is
/// type-checked and the IDE keeps working. Renamed, it draws no "`main` function has wrong
/// type" or "`main` cannot be `async`" on top of the real error; its runtime attribute is
/// left out (`#[async_std::main]` would refuse the name).
fn fallback(item: ItemFn, body: Body) -> TokenStream {
    let (outer, inner) = split_inner(item.attrs);
    let Placed { cfg, doc, lint, rest } = place(outer);
    let rest = rest.iter().filter(|attr| !valid::is_runtime(attr));
    let ItemFn { vis, mut sig, block, .. } = item;
    let name = sig.ident.clone();
    sig.ident = body_name(&name);
    // Only an `extern "C"` fn may be variadic: kept, it would bring its own errors.
    sig.variadic = None;
    let stmts = body.stmts;
    let block = brace(block.brace_token.span.join(), quote!(#(#inner)* #(#stmts)*));
    let user_fn = quote! {
        #[allow(dead_code)]
        #(#lint)*
        #(#rest)*
        #sig #block
    };
    // A method (an error already) stays a method, beside the stand-in: nested, `self`
    // would bring errors of its own.
    let (inside, beside) = match sig.receiver() {
        None => (user_fn, quote!()),
        Some(_) => (quote!(), quote!(#(#cfg)* #user_fn)),
    };
    quote! {
        #(#cfg)*
        #(#doc)*
        #vis fn #name() -> ::std::process::ExitCode {
            #inside
            ::core::unreachable!()
        }
        #beside
    }
}

/// The fn as it came, less its markers: what a runtime attribute above `#[sd_service]` made.
fn as_written(item: ItemFn, body: Body) -> TokenStream {
    let (outer, inner) = split_inner(item.attrs);
    let ItemFn { vis, sig, block, .. } = item;
    let stmts = body.stmts;
    let block = brace(block.brace_token.span.join(), quote!(#(#inner)* #(#stmts)*));
    quote!(#(#outer)* #vis #sig #block)
}

/// The private name of the fn that holds the user's code, located at the user's name so
/// that diagnostics about it point there.
fn body_name(name: &Ident) -> Ident {
    format_ident!("__sd_service_body", span = Span::mixed_site().located_at(name.span()))
}

/// `tokens` as macro output at the same place: for copies of the user's tokens (the return
/// type), so that lints about them (`clippy::absolute_paths`, …) are reported once, on the
/// tokens as written, and not again on each copy. (`$crate`, from a `macro_rules!` that
/// wrote the fn, keeps its span: it resolves by it.)
fn generated(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            let span = Span::call_site().located_at(tree.span());
            match &tree {
                TokenTree::Group(group) => {
                    let mut copy = Group::new(group.delimiter(), generated(group.stream()));
                    copy.set_span(span);
                    return TokenTree::Group(copy);
                }
                TokenTree::Ident(ident) if ident == "$crate" => return tree,
                _ => {}
            }
            tree.set_span(span);
            tree
        })
        .collect()
}

fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs.into_iter().partition(|attr| matches!(attr.style, syn::AttrStyle::Outer))
}

fn brace(span: Span, stream: TokenStream) -> TokenTree {
    let mut group = Group::new(Delimiter::Brace, stream);
    group.set_span(span);
    TokenTree::Group(group)
}

/// Where each of the user's outer attributes goes.
#[derive(Default)]
struct Placed {
    /// `#[cfg]`: on the fn that keeps the user's name (everything else is inside it).
    cfg: Vec<Attribute>,
    /// Doc comments: on the fn that keeps the user's name.
    doc: Vec<Attribute>,
    /// Lint levels: on the fn that holds the user's code.
    lint: Vec<Attribute>,
    /// The rest, runtime attributes included: on the fn that the runtime makes sync (async
    /// fn), or on the fn that holds the user's code (sync fn).
    rest: Vec<Attribute>,
}

fn place(attrs: Vec<Attribute>) -> Placed {
    let mut placed = Placed::default();
    for attr in attrs {
        let path = attr.path();
        let slot = if path.is_ident("cfg") {
            &mut placed.cfg
        } else if path.is_ident("doc") {
            &mut placed.doc
        } else if ["allow", "warn", "deny", "forbid", "expect"].iter().any(|lint| path.is_ident(lint)) {
            &mut placed.lint
        } else {
            &mut placed.rest
        };
        slot.push(attr);
    }
    placed
}

fn status(text: Option<&LitStr>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

fn generate(args: &Args, item: ItemFn, body: Body) -> TokenStream {
    let krate = args.krate();
    let private = quote!(#krate::__private_0_1);
    let (outer, inner) = split_inner(item.attrs);
    let Placed { cfg, doc, lint, rest } = place(outer);
    let ItemFn { vis, sig, block, .. } = item;

    let name = &sig.ident;
    let site = Span::mixed_site();
    let body_fn = body_name(name);
    let config = format_ident!("__SD_SERVICE_CONFIG", span = site);
    let result = format_ident!("result", span = site);
    let runtime_main = format_ident!("main", span = site);

    // Copies of the return type, for the generated signatures.
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => generated(ty.to_token_stream()),
    };
    // The handle goes to the user's parameter, whose type rustc checks: errors point at it.
    let handle_param = sig.inputs.first().map(|param| match param {
        FnArg::Typed(typed) => site.located_at(syn::spanned::Spanned::span(&typed.ty)),
        FnArg::Receiver(receiver) => site.located_at(syn::spanned::Spanned::span(receiver)),
    });
    let is_async = sig.asyncness.is_some();

    let fn_name = LitStr::new(&name.unraw().to_string(), name.span());
    let (starting, running, stopping) =
        (status(args.starting.as_ref()), status(args.running.as_ref()), status(args.stopping.as_ref()));
    let reload = args.reload();
    let takes_handle = handle_param.is_some();
    let ready_marker = body.ready_after.is_some();

    // The body fn: the user's signature under a private name, the user's statements, and
    // READY=1 after the marked one.
    let mut stmts = TokenStream::new();
    for (index, stmt) in body.stmts.into_iter().enumerate() {
        stmts.extend(stmt);
        if let Some((_, span)) = body.ready_after.filter(|(after, _)| *after == index) {
            let span = site.located_at(span);
            stmts.extend(quote_spanned!(span=> #private::ready();));
        }
    }
    let block = brace(block.brace_token.span.join(), quote!(#(#inner)* #stmts));
    let params = &sig.inputs;
    let asyncness = &sig.asyncness;
    let output = &sig.output;
    let fn_token = &sig.fn_token;
    // The one lint each kind of fn would draw only because the user's code moved into a fn
    // of another kind; nothing else is allowed. An async fn that never awaits is fine as a
    // runtime's `main` (the runtime attribute makes it sync): no `clippy::unused_async`. A
    // sync `main` that always returns `Ok` is spared `clippy::unnecessary_wraps` as the
    // entry point (that lint never looks at async fns, nor at other names' sync fns here).
    let allow = if is_async {
        quote!(#[allow(clippy::unused_async)])
    } else if name == "main" {
        quote!(#[allow(clippy::unnecessary_wraps)])
    } else {
        quote!()
    };
    let body_attrs = if is_async { quote!(#(#lint)*) } else { quote!(#(#lint)* #(#rest)*) };

    // Annotated with the concrete type: failure_of! picks its report by autoref on it.
    let describe = quote!(|#result: &#ret| #private::failure_of!(#result));
    let run = if is_async {
        let call = match handle_param {
            Some(span) => {
                let handle = quote_spanned!(span=> #private::handle());
                quote!(#body_fn(#handle))
            }
            None => quote!(#body_fn()),
        };
        quote! {
            #(#rest)*
            async fn #runtime_main() -> #private::Supervised<#ret> {
                #private::supervise(#call).await
            }
            #private::run_async(&#config, #runtime_main, #describe)
        }
    } else {
        let call = match handle_param {
            Some(span) => {
                let handle = format_ident!("service", span = span);
                quote!(|#handle| #body_fn(#handle))
            }
            None => quote!(|_| #body_fn()),
        };
        quote!(#private::run_sync(&#config, #call, #describe))
    };

    // The user's fn first; the rest in a block of its own, whose items the user's code
    // cannot see (items of a block are visible in the fns nested in it): a `main` or a
    // `__SD_SERVICE_CONFIG` of the user's module stays what it was in the body.
    quote! {
        #(#cfg)*
        #(#doc)*
        #vis fn #name() -> ::std::process::ExitCode {
            #allow
            #body_attrs
            #asyncness #fn_token #body_fn(#params) #output #block

            {
                static #config: #private::Config = #private::Config {
                    name: #fn_name,
                    starting: #starting,
                    running: #running,
                    stopping: #stopping,
                    reload: #reload,
                    takes_handle: #takes_handle,
                    ready_marker: #ready_marker,
                };
                #run
            }
        }
    }
}
