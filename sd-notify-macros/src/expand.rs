//! Code generation: the options and the checked fn become a `main` that runs the body as a
//! service, or, on any error, the original fn plus the errors.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::{Attribute, Error, Item, ItemFn, LitStr, ReturnType};

use crate::args::Args;
use crate::ready::{self, Body};
use crate::valid;

/// The whole attribute: parse, check, generate.
pub(crate) fn sd_service(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item)) => item,
        Ok(other) => return with_errors(item, vec![valid::not_a_fn(&other)]),
        Err(_) => return with_errors(item, vec![Error::new(Span::call_site(), valid::NOT_A_FN)]),
    };
    let mut errors = Vec::new();
    let args = Args::parse(args).map_err(|e| errors.push(e)).ok();
    let mut marker_errors = Vec::new();
    let body = ready::take_markers(&mut item, &mut marker_errors);
    valid::check(&item, args.as_ref(), &mut errors);
    errors.append(&mut marker_errors); // in source order: options, signature, body
    match args {
        Some(args) if errors.is_empty() => generate(&args, item, body),
        _ => with_errors(fallback(item, body), errors),
    }
}

/// Never only the errors: the item stays, so there is no "`main` function not found" on top
/// of the real error.
fn with_errors(item: TokenStream, errors: Vec<Error>) -> TokenStream {
    let errors = errors.into_iter().map(|e| e.to_compile_error());
    quote!(#item #(#errors)*)
}

/// What stands in for the expansion when there are errors: a fn with the user's name and
/// visibility that a `main` or a caller can still use, and the user's fn as written (less
/// its markers) under the body fn's name, where it is type-checked and the IDE keeps
/// working. Renamed, it draws no "`main` function has wrong type" or "`main` cannot be
/// `async`" on top of the real error.
fn fallback(item: ItemFn, body: Body) -> TokenStream {
    let (outer, inner) = split_inner(item.attrs);
    let Placed { cfg, doc, lint, rest } = place(outer);
    let ItemFn { vis, mut sig, block, .. } = item;
    let name = sig.ident.clone();
    sig.ident =
        format_ident!("__sd_service_{}_body", name, span = Span::mixed_site().located_at(name.span()));
    // Only an `extern "C"` fn may be variadic: kept, it would bring its own errors.
    sig.variadic = None;
    let stmts = body.stmts;
    let block = brace(block.brace_token.span.join(), quote!(#(#inner)* #(#stmts)*));
    quote! {
        #(#cfg)*
        #(#doc)*
        #vis fn #name() -> ::std::process::ExitCode {
            ::core::unreachable!()
        }

        #(#cfg)*
        #[allow(dead_code)]
        #(#lint)*
        #(#rest)*
        #sig #block
    }
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
    /// `#[cfg]`: on every generated fn, so they come and go together.
    cfg: Vec<Attribute>,
    /// Doc comments: on the fn that keeps the user's name.
    doc: Vec<Attribute>,
    /// Lint levels: on the fn that holds the user's code.
    lint: Vec<Attribute>,
    /// The rest, runtime attributes included: on the fn that the runtime makes sync.
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
    let private = quote!(#krate::__private);
    let (outer, inner) = split_inner(item.attrs);
    let Placed { cfg, doc, lint, rest } = place(outer);
    let ItemFn { vis, sig, block, .. } = item;

    let name = &sig.ident;
    let site = Span::mixed_site();
    let main_name = format_ident!("__sd_service_{}", name, span = site);
    // Located at the user's name: diagnostics about the body fn point at the user's fn.
    let body_name = format_ident!("__sd_service_{}_body", name, span = site.located_at(name.span()));
    let config = format_ident!("__SD_SERVICE_CONFIG", span = site);
    let handle = format_ident!("service", span = site);
    let result = format_ident!("result", span = site);

    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let takes_handle = !sig.inputs.is_empty();
    let is_async = sig.asyncness.is_some();

    let (starting, running, stopping) =
        (status(args.starting.as_ref()), status(args.running.as_ref()), status(args.stopping.as_ref()));
    let reload = args.reload();
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
    let body_attrs = if is_async { quote!(#(#lint)*) } else { quote!(#(#lint)* #(#rest)*) };
    let body_fn = quote! {
        #(#cfg)*
        #body_attrs
        #asyncness #fn_token #body_name(#params) #output #block
    };

    // Annotated with the concrete type: failure_of! picks its report by autoref on it.
    let describe = quote!(|#result: &#ret| #private::failure_of!(#result));
    let (run, middle_fn) = if is_async {
        let (param, call) = if takes_handle {
            (quote!(#handle: #krate::Service), quote!(#body_name(#handle)))
        } else {
            (quote!(_: #krate::Service), quote!(#body_name()))
        };
        let middle_fn = quote! {
            #(#cfg)*
            #(#rest)*
            async fn #main_name(#param) -> #private::Supervised<#ret> {
                #private::supervise(#call).await
            }
        };
        (quote!(#private::run_async(&#config, #main_name, #describe)), middle_fn)
    } else {
        let call = if takes_handle { quote!(#body_name) } else { quote!(|_| #body_name()) };
        (quote!(#private::run_sync(&#config, #call, #describe)), quote!())
    };

    quote! {
        #(#cfg)*
        #(#doc)*
        #vis fn #name() -> ::std::process::ExitCode {
            static #config: #private::Config = #private::Config {
                starting: #starting,
                running: #running,
                stopping: #stopping,
                reload: #reload,
                takes_handle: #takes_handle,
                ready_marker: #ready_marker,
            };
            #run
        }

        #middle_fn

        #body_fn
    }
}
