//! What a `#[sd_service]` fn may look like. Every problem is collected, each spanned on the
//! token at fault, so that one build shows them all.

use proc_macro2::TokenStream;
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

/// The type is written `Service` or `path::to::Service`.
fn is_service(ty: &Type) -> bool {
    match ty {
        Type::Path(ty) if ty.qself.is_none() => {
            ty.path.segments.last().is_some_and(|s| s.ident == "Service" && s.arguments.is_none())
        }
        Type::Group(ty) => is_service(&ty.elem),
        Type::Paren(ty) => is_service(&ty.elem),
        _ => false,
    }
}

/// Checks the signature (and, with the options, `reload`), pushing what is wrong.
pub(crate) fn check(item: &ItemFn, args: Option<&Args>, errors: &mut Vec<Error>) {
    let sig = &item.sig;

    if let Some(args) = args {
        if let (Some((true, span)), true) = (args.reload, sig.inputs.is_empty()) {
            errors.push(Error::new(
                span,
                "`reload` needs the fn to take the handle, `service: sd_notify_core::Service`: \
                 reloads arrive through `service.reload_requested()`",
            ));
        }
    }

    let mut fail = |tokens: &dyn ToTokens, message: &str| errors.push(Error::new_spanned(tokens, message));

    if let Some(token) = &sig.constness {
        fail(token, "a #[sd_service] fn cannot be `const`");
    }
    if let Some(token) = &sig.unsafety {
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

    let mut params = sig.inputs.iter();
    match params.next() {
        Some(FnArg::Receiver(receiver)) => {
            fail(receiver, "a #[sd_service] fn cannot take `self`: it must be a free fn, like `main`")
        }
        Some(FnArg::Typed(param)) => match &*param.ty {
            Type::Reference(reference) if is_service(&reference.elem) => fail(
                &param.ty,
                "the handle is taken by value (it is `Copy`): `service: sd_notify_core::Service`",
            ),
            ty if !is_service(ty) => {
                fail(ty, "the parameter of a #[sd_service] fn must be `sd_notify_core::Service`")
            }
            _ => {}
        },
        _ => {}
    }
    let extra: Vec<&FnArg> = params.collect();
    if !extra.is_empty() {
        fail(
            &quote!(#(#extra),*),
            "a #[sd_service] fn takes at most one parameter, the handle: `service: sd_notify_core::Service`",
        );
    }

    if let Some(token) = &sig.asyncness {
        if !item.attrs.iter().any(is_runtime) {
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
