//! What a `#[sd_service]` fn may look like. Every problem is collected, each spanned on the
//! token at fault, so that one build shows them all.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{Attribute, Error, FnArg, GenericArgument, Item, ItemFn, PathArguments, ReturnType, Type};

use crate::args::Args;

/// The error for an item that is not a fn, spanned on its keyword and name.
pub(crate) fn not_a_fn(item: &Item) -> Error {
    let head = match item {
        Item::Const(i) => head(&[&i.const_token, &i.ident]),
        Item::Enum(i) => head(&[&i.enum_token, &i.ident]),
        Item::ExternCrate(i) => head(&[&i.extern_token, &i.crate_token, &i.ident]),
        Item::ForeignMod(i) => i.abi.to_token_stream(),
        Item::Impl(i) => i.impl_token.to_token_stream(),
        Item::Macro(i) => i.mac.path.to_token_stream(),
        Item::Mod(i) => head(&[&i.mod_token, &i.ident]),
        Item::Static(i) => head(&[&i.static_token, &i.ident]),
        Item::Struct(i) => head(&[&i.struct_token, &i.ident]),
        Item::Trait(i) => head(&[&i.trait_token, &i.ident]),
        Item::TraitAlias(i) => head(&[&i.trait_token, &i.ident]),
        Item::Type(i) => head(&[&i.type_token, &i.ident]),
        Item::Union(i) => head(&[&i.union_token, &i.ident]),
        Item::Use(i) => i.use_token.to_token_stream(),
        other => other.to_token_stream(),
    };
    Error::new_spanned(head, NOT_A_FN)
}

fn head(parts: &[&dyn ToTokens]) -> TokenStream {
    let mut tokens = TokenStream::new();
    for part in parts {
        part.to_tokens(&mut tokens);
    }
    tokens
}

pub(crate) const NOT_A_FN: &str =
    "#[sd_service] goes on the fn that runs the service (usually `main`), and only on a fn with a body";

/// An attribute that makes an async fn sync by running it on a runtime: its path ends in
/// `main`, like `#[tokio::main]`, `#[async_std::main]` or `#[pollster::main]`.
pub(crate) fn is_runtime(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "main")
}

/// Checks the signature (and, with the options, `reload`), pushing what is wrong.
///
/// `runtime_above`: a runtime attribute above `#[sd_service]` was found (and reported); the
/// async fn it left behind has no runtime attribute of its own, which is not a second error.
pub(crate) fn check(item: &ItemFn, args: &Args, runtime_above: bool, errors: &mut Vec<Error>) {
    let sig = &item.sig;

    if let (Some((true, span)), true) = (args.reload, sig.inputs.is_empty()) {
        errors.push(Error::new(
            span,
            "`reload` needs the fn to take the handle, `service: sd_notify_core::ServiceHandle`: \
             reloads arrive through `service.reload_requested()`",
        ));
    }

    let mut fail = |tokens: &dyn ToTokens, message: &str| errors.push(Error::new_spanned(tokens, message));

    if let Some(token) = &sig.constness {
        fail(token, "a #[sd_service] fn cannot be `const`");
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        fail(token, "a #[sd_service] fn cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        fail(abi, "a #[sd_service] fn cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() {
        fail(&sig.generics, "a #[sd_service] fn cannot be generic");
    }
    if let Some(clause) = &sig.generics.where_clause {
        fail(clause, "a #[sd_service] fn cannot have a `where` clause");
    }
    if let Some(variadic) = &sig.variadic {
        fail(variadic, "a #[sd_service] fn cannot be variadic");
    }

    // The handle's type is checked by rustc (the generated code passes it a `ServiceHandle`), so
    // any name for it works: `use sd_notify_core::ServiceHandle as Handle;`.
    let mut params = sig.inputs.iter();
    match params.next() {
        Some(FnArg::Receiver(receiver)) => {
            fail(receiver, "a #[sd_service] fn cannot take `self`: it must be a free fn, like `main`")
        }
        Some(FnArg::Typed(param)) if matches!(&*param.ty, Type::Reference(_)) => fail(
            &param.ty,
            "the handle is taken by value (it is `Copy`): `service: sd_notify_core::ServiceHandle`",
        ),
        _ => {}
    }
    let extra: Vec<&FnArg> = params.collect();
    if !extra.is_empty() {
        fail(
            &quote!(#(#extra),*),
            "a #[sd_service] fn takes at most one parameter, the handle: `service: sd_notify_core::ServiceHandle`",
        );
    }

    if let Some(token) = &sig.asyncness {
        if !item.attrs.iter().any(is_runtime) && !runtime_above {
            errors.push(Error::new_spanned(
                token,
                "async fn needs a runtime attribute below #[sd_service], e.g. #[tokio::main]",
            ));
        }
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::Never(never) = &**ty {
            errors.push(Error::new_spanned(
                never,
                "a #[sd_service] fn cannot return `!`: return `()`, a `Result` or an `ExitCode`",
            ));
        }
        find_impl_trait(ty, errors);
    }
}

/// `impl Trait` cannot be named in the generated code, which annotates the return type.
fn find_impl_trait(ty: &Type, errors: &mut Vec<Error>) {
    match ty {
        Type::ImplTrait(found) => errors.push(Error::new_spanned(
            found,
            "the return type of a #[sd_service] fn cannot contain `impl Trait`: write the concrete type",
        )),
        Type::Array(ty) => find_impl_trait(&ty.elem, errors),
        Type::Group(ty) => find_impl_trait(&ty.elem, errors),
        Type::Paren(ty) => find_impl_trait(&ty.elem, errors),
        Type::Ptr(ty) => find_impl_trait(&ty.elem, errors),
        Type::Reference(ty) => find_impl_trait(&ty.elem, errors),
        Type::Slice(ty) => find_impl_trait(&ty.elem, errors),
        Type::Tuple(ty) => ty.elems.iter().for_each(|elem| find_impl_trait(elem, errors)),
        Type::Path(ty) => {
            for segment in &ty.path.segments {
                if let PathArguments::AngleBracketed(generic) = &segment.arguments {
                    for arg in &generic.args {
                        if let GenericArgument::Type(ty) = arg {
                            find_impl_trait(ty, errors);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// A runtime attribute written *above* `#[sd_service]` has already rewritten the fn when
/// `#[sd_service]` sees it: `#[tokio::main]`, `#[pollster::main]` and `#[actix_rt::main]`
/// make it a sync fn that calls `block_on(async { … })`; `#[async_std::main]` and
/// `#[smol_potat::main]` move the async fn, attributes and all, into a sync one of their
/// own. Tokens a macro generated carry its call site: their source text is the attribute
/// (`#[tokio::main]`), not the token. So the sign is an `async` the user did not write (in
/// the body of a sync fn, or as the async fn's own keyword) next to a token whose source is
/// an attribute ending in `main`. A hand-written `block_on(async { … })` is not one.
pub(crate) fn runtime_above(item: &ItemFn) -> Option<Error> {
    let generated_async = match &item.sig.asyncness {
        Some(token) => !written_as(token.span, "async"),
        None => has_generated_async(item.block.to_token_stream()),
    };
    if !generated_async {
        return None;
    }
    let mut tokens = item.sig.to_token_stream();
    tokens.extend(item.block.to_token_stream());
    let (span, path) = find_runtime_attribute(tokens)?;
    let what = if item.sig.asyncness.is_some() {
        "it moved the async fn into a sync `main` of its own"
    } else {
        "it turned the async fn into a sync one"
    };
    Some(Error::new(
        span,
        format!(
            "`#[{path}]` is above `#[sd_service]`: {what} before #[sd_service] saw it; \
             put #[sd_service] first, then `#[{path}]`"
        ),
    ))
}

/// The source text at `span` is `text`: the user wrote this token here.
fn written_as(span: Span, text: &str) -> bool {
    span.source_text().is_none_or(|source| source == text)
}

fn has_generated_async(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "async" && !written_as(ident.span(), "async"),
        TokenTree::Group(group) => has_generated_async(group.stream()),
        _ => false,
    })
}

/// The first token whose source text is an attribute whose path ends in `main`: its span
/// (the attribute's) and the path, as written (`tokio::main`).
fn find_runtime_attribute(tokens: TokenStream) -> Option<(Span, String)> {
    tokens.into_iter().find_map(|tree| {
        let found = runtime_path(&tree.span().source_text()?).map(|path| (tree.span(), path));
        match tree {
            TokenTree::Group(group) if found.is_none() => find_runtime_attribute(group.stream()),
            _ => found,
        }
    })
}

/// `#[tokio::main(flavor = "current_thread")]` → `tokio::main`.
fn runtime_path(source: &str) -> Option<String> {
    let inside = source.strip_prefix("#[")?;
    let path: String = inside.split(['(', ']', '=']).next()?.split_whitespace().collect();
    (path.rsplit("::").next() == Some("main")).then_some(path)
}
