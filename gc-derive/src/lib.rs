//! `#[derive(Trace)]` and `#[derive(Finalize)]` for tricolor.
//!
//! `Trace` visits every field (in every variant) for `trace`, `root` and `unroot`, computes
//! `is_noscan` (no field can hold a `Gc`) and `needs_sweep_drop` (some field has drop glue that
//! matters for a dead object), and forbids a `Drop` impl on the type by implementing a marker
//! trait that conflicts with the blanket impl for `T: Drop`.
//!
//! Attributes: `#[gc(ignore)]` (alias `#[unsafe_ignore_trace]`) on a field skips it;
//! `#[gc(crate = "path")]` on the type names the tricolor crate when it is renamed;
//! `#[gc(bound = "T: Trace, ...")]` replaces the automatic `T: Trace` bounds.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, parse_quote, Data, DeriveInput, Fields, Path, Token, Type, WherePredicate,
};

struct TypeOpts {
    krate: Path,
    bound: Option<Vec<WherePredicate>>,
}

fn type_opts(input: &DeriveInput) -> syn::Result<TypeOpts> {
    let mut opts = TypeOpts {
        krate: parse_quote!(::tricolor_gc),
        bound: None,
    };
    for attr in &input.attrs {
        if !attr.path().is_ident("gc") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let s: syn::LitStr = meta.value()?.parse()?;
                opts.krate = s.parse()?;
                Ok(())
            } else if meta.path.is_ident("bound") {
                let s: syn::LitStr = meta.value()?.parse()?;
                let preds = s.parse_with(Punctuated::<WherePredicate, Token![,]>::parse_terminated)?;
                opts.bound = Some(preds.into_iter().collect());
                Ok(())
            } else {
                Err(meta.error(
                    "unknown tricolor attribute on a type: expected `crate = \"...\"` or `bound = \"...\"`",
                ))
            }
        })?;
    }
    Ok(opts)
}

fn field_ignored(f: &syn::Field) -> syn::Result<bool> {
    let mut ignored = false;
    for attr in &f.attrs {
        if attr.path().is_ident("unsafe_ignore_trace") {
            ignored = true;
        } else if attr.path().is_ident("gc") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("ignore") {
                    ignored = true;
                    Ok(())
                } else {
                    Err(meta.error("unknown tricolor attribute on a field: expected `ignore`"))
                }
            })?;
        }
    }
    Ok(ignored)
}

/// One variant (or the struct): its pattern and its fields, split into traced and ignored.
struct Shape {
    pattern: TokenStream2,
    traced: Vec<(syn::Ident, Type)>,
    /// Each traced field's member (name or index), in the order of `traced`.
    members: Vec<TokenStream2>,
    ignored: Vec<Type>,
}

fn shape(path: TokenStream2, fields: &Fields) -> syn::Result<Shape> {
    let mut traced = Vec::new();
    let mut members = Vec::new();
    let mut ignored = Vec::new();
    let mut pats = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let bind = syn::Ident::new(&format!("__f{i}"), Span::call_site());
        let skip = field_ignored(f)?;
        let member: TokenStream2 = match &f.ident {
            Some(id) => id.to_token_stream(),
            None => syn::Index::from(i).to_token_stream(),
        };
        if skip {
            ignored.push(f.ty.clone());
            pats.push(quote!(#member: _));
        } else {
            traced.push((bind.clone(), f.ty.clone()));
            members.push(member.clone());
            pats.push(quote!(#member: #bind));
        }
    }
    let pattern = match fields {
        Fields::Unit => quote!(#path),
        _ => quote!(#path { #(#pats,)* .. }),
    };
    Ok(Shape {
        pattern,
        traced,
        members,
        ignored,
    })
}

fn shapes(input: &DeriveInput) -> syn::Result<Vec<Shape>> {
    match &input.data {
        Data::Struct(s) => Ok(vec![shape(quote!(Self), &s.fields)?]),
        Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let id = &v.ident;
                shape(quote!(Self::#id), &v.fields)
            })
            .collect(),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "tricolor cannot trace a union: it cannot know which field holds handles",
        )),
    }
}

/// Whether a field's type may be unsized (only a struct's last field can be), by its syntax:
/// `is_noscan` and `needs_sweep_drop` are only callable on sized types, so an unsized field
/// answers for its elements (`[T]`), as a leaf (`str`), or conservatively (`dyn Trait`, a
/// `?Sized` parameter: scanned, dropped).
enum Unsized<'a> {
    No,
    Slice(&'a Type),
    Str,
    Unknown,
}

fn unsized_kind<'a>(t: &'a Type, unsized_params: &[&syn::Ident]) -> Unsized<'a> {
    match t {
        Type::Slice(s) => Unsized::Slice(&s.elem),
        Type::TraitObject(_) => Unsized::Unknown,
        Type::Paren(p) => unsized_kind(&p.elem, unsized_params),
        Type::Group(g) => unsized_kind(&g.elem, unsized_params),
        Type::Path(p) if p.qself.is_none() => {
            if p.path.is_ident("str") {
                Unsized::Str
            } else if unsized_params.iter().any(|id| p.path.is_ident(*id)) {
                Unsized::Unknown
            } else {
                Unsized::No
            }
        }
        _ => Unsized::No,
    }
}

/// Derives `Trace`.
#[proc_macro_derive(Trace, attributes(gc, unsafe_ignore_trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match trace_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn trace_impl(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let opts = type_opts(input)?;
    let krate = &opts.krate;
    let shapes = shapes(input)?;
    let name = &input.ident;

    let mut generics = input.generics.clone();
    {
        let wc = generics.make_where_clause();
        match &opts.bound {
            Some(preds) => wc.predicates.extend(preds.iter().cloned()),
            None => {
                for p in input.generics.type_params() {
                    let id = &p.ident;
                    wc.predicates.push(parse_quote!(#id: #krate::Trace));
                }
            }
        }
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let (plain_impl_g, _, plain_where) = input.generics.split_for_impl();

    let arms = |call: &dyn Fn(&syn::Ident, &Type) -> TokenStream2| -> Vec<TokenStream2> {
        shapes
            .iter()
            .map(|s| {
                let pat = &s.pattern;
                let calls = s.traced.iter().map(|(b, ty)| call(b, ty));
                quote!(#pat => { #(#calls)* })
            })
            .collect()
    };
    // Each use of a field's type carries the field's span, so that a field type that is not
    // `Trace` gets one error, at the field, instead of one per generated method (rustc merges
    // identical errors at one span).
    // The tracer argument's name keeps the call site's hygiene (a span from the field's type
    // would not resolve inside a `macro_rules!` that declares the type).
    let tracer = syn::Ident::new("__tracer", Span::call_site());
    let trace_arms =
        arms(&|b, ty| quote_spanned!(ty.span()=> <#ty as #krate::Trace>::trace(#b, #tracer);));
    // SAFETY (of the generated blocks): `root`/`unroot` are forwarded from the collector's own
    // call to each field the type owns.
    // The `unsafe` block itself keeps the macro's span: a span from the user's code would make
    // `unsafe_code` lints fire on a derive in a crate that forbids unsafe code.
    let root_arms = arms(&|b, ty| {
        let call = quote_spanned!(ty.span()=> <#ty as #krate::Trace>::root(#b));
        quote!(unsafe { #call };)
    });
    let unroot_arms = arms(&|b, ty| {
        let call = quote_spanned!(ty.span()=> <#ty as #krate::Trace>::unroot(#b));
        quote!(unsafe { #call };)
    });
    let unsized_params: Vec<&syn::Ident> = input
        .generics
        .type_params()
        .filter(|p| {
            p.bounds.iter().any(|b| {
                matches!(b, syn::TypeParamBound::Trait(t)
                    if matches!(t.modifier, syn::TraitBoundModifier::Maybe(_)))
            })
        })
        .map(|p| &p.ident)
        .collect();
    // Each traced field's `is_noscan` and `needs_sweep_drop` terms, by what its type may be.
    let (noscan_terms, drop_terms): (Vec<TokenStream2>, Vec<TokenStream2>) = shapes
        .iter()
        .flat_map(|s| s.traced.iter().map(|(_, t)| t))
        .map(|t| match unsized_kind(t, &unsized_params) {
            Unsized::No => (
                quote_spanned!(t.span()=> <#t as #krate::Trace>::is_noscan()),
                quote_spanned!(t.span()=> <#t as #krate::Trace>::needs_sweep_drop()),
            ),
            Unsized::Slice(e) => (
                quote_spanned!(t.span()=> <#e as #krate::Trace>::is_noscan()),
                quote_spanned!(t.span()=> <#e as #krate::Trace>::needs_sweep_drop()),
            ),
            Unsized::Str => (quote!(true), quote!(false)),
            Unsized::Unknown => (quote!(false), quote!(true)),
        })
        .unzip();
    let ignored_tys: Vec<&Type> = shapes.iter().flat_map(|s| s.ignored.iter()).collect();
    // An empty enum has no arms; `match *self {}` keeps it well-formed.
    let empty = shapes.is_empty();
    let body = |arms: &Vec<TokenStream2>| {
        if empty {
            quote!(match *self {})
        } else {
            quote!(match self { #(#arms)* })
        }
    };
    // A struct whose traced fields are all sized has a pointer map if each field has one: the
    // fields' maps shifted to their offsets (ignored fields hold no handle). Enums and structs
    // with an unsized field keep the default (`None`).
    let ptr_map = match (&input.data, shapes.first()) {
        (Data::Struct(_), Some(s))
            if s.traced
                .iter()
                .all(|(_, t)| matches!(unsized_kind(t, &unsized_params), Unsized::No)) =>
        {
            let fields = s.traced.iter().zip(&s.members).map(|((_, t), m)| {
                let map = quote_spanned!(t.span()=> <#t as #krate::Trace>::ptr_map());
                quote! {
                    let map = #krate::__private::ptr_map_with_field(
                        map,
                        #map,
                        ::core::mem::offset_of!(Self, #m),
                    )?;
                }
            });
            quote! {
                #[inline]
                fn ptr_map() -> ::core::option::Option<u64> {
                    if ::core::mem::size_of::<Self>() > 512 {
                        return ::core::option::Option::None;
                    }
                    let map = 0u64;
                    #(#fields)*
                    ::core::option::Option::Some(map)
                }
            }
        }
        _ => quote!(),
    };
    let trace_body = body(&trace_arms);
    let root_body = body(&root_arms);
    let unroot_body = body(&unroot_arms);

    Ok(quote! {
        #[automatically_derived]
        #[allow(unused_variables, unused_unsafe, unused_mut, clippy::all)]
        // SAFETY: generated to visit every field that is not explicitly ignored.
        unsafe impl #impl_g #krate::Trace for #name #ty_g #where_c {
            #[inline]
            fn trace(&self, __tracer: &mut #krate::Tracer) {
                #trace_body
            }
            #[inline]
            unsafe fn root(&mut self) {
                #root_body
            }
            #[inline]
            unsafe fn unroot(&mut self) {
                #unroot_body
            }
            #[inline]
            fn is_noscan() -> bool {
                true #(&& #noscan_terms)*
            }
            #[inline]
            fn needs_sweep_drop() -> bool {
                false
                    #(|| #drop_terms)*
                    #(|| ::core::mem::needs_drop::<#ignored_tys>())*
            }
            #ptr_map
        }
        #[automatically_derived]
        impl #plain_impl_g #krate::TracedTypesMustNotImplementDrop for #name #ty_g #plain_where {}
    })
}

/// Derives the no-op `Finalize`.
#[proc_macro_derive(Finalize, attributes(gc))]
pub fn derive_finalize(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let opts = match type_opts(&input) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let krate = &opts.krate;
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_g #krate::Finalize for #name #ty_g #where_c {
            #[inline]
            fn has_finalizer() -> bool {
                false
            }
        }
    }
    .into()
}
