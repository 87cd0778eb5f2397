//! Compiling a component: validation, the import policy (nothing but the types-only
//! lightfoot:decoder/types) and world detection from the exports.

use napi::Env;
use napi_derive::napi;
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;

use super::bindings::DecoderPluginPre;
use super::engine::{chain, EngineCtx};
use super::instance::{self, DecoderInstance, HostState, InstanceLimits};
use crate::errors::{self, err, Result};

pub(crate) const DECODER_EXPORT: &str = "lightfoot:decoder/decoder@0.2.0";
pub(crate) const PLANNER_EXPORT: &str = "lightfoot:decoder/planner@0.2.0";
/// The interface the exported ones `use`; WIT turns that into an implicit import. It
/// declares types only, so importing it gives the guest nothing.
const TYPES_IMPORT: &str = "lightfoot:decoder/types@0.2.0";

#[napi]
pub struct WasmComponent {
    ctx: EngineCtx,
    pre: DecoderPluginPre<HostState>,
    sha256: String,
    imports: Vec<String>,
    exports: Vec<String>,
    world: &'static str,
}

/// Gives the linker an (empty) types instance so the implicit import links.
pub(crate) fn define_allowed_imports(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.instance(TYPES_IMPORT)?;
    Ok(())
}

/// True when an import item carries nothing callable: only type definitions.
pub(crate) fn types_only(engine: &Engine, item: &ComponentItem) -> bool {
    match item {
        ComponentItem::Type(_) => true,
        ComponentItem::ComponentInstance(i) => {
            i.exports(engine).all(|(_, it)| types_only(engine, &it.ty))
        }
        _ => false,
    }
}

pub(crate) fn compile(ctx: &EngineCtx, bytes: &[u8]) -> Result<WasmComponent> {
    let sha256 = hex(&Sha256::digest(bytes));
    let engine = &ctx.engine;
    let component = Component::new(engine, bytes).map_err(|e| {
        err(
            errors::WASM_INVALID,
            format!("compiling component {}: {}", &sha256[..12], chain(&e)),
        )
    })?;
    let ty = component.component_type();

    let mut imports = Vec::new();
    let mut refused = Vec::new();
    for (name, item) in ty.imports(engine) {
        imports.push(name.to_string());
        if !(name == TYPES_IMPORT && types_only(engine, &item.ty)) {
            refused.push(name.to_string());
        }
    }
    if !refused.is_empty() {
        return Err(err(
            errors::WASM_IMPORT,
            format!("imports {}: decoders get no imports", refused.join(", ")),
        ));
    }

    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let world = if !exports.iter().any(|e| e == DECODER_EXPORT) {
        return Err(err(
            errors::WASM_WORLD,
            format!(
                "does not export {DECODER_EXPORT} (exports: {})",
                list_or_none(&exports)
            ),
        ));
    } else if exports.iter().any(|e| e == PLANNER_EXPORT) {
        "probe-plugin"
    } else {
        "decoder-plugin"
    };

    // Type-checks the decoder export against the WIT once, here, not per instance.
    let pre = ctx
        .linker
        .instantiate_pre(&component)
        .and_then(DecoderPluginPre::new)
        .map_err(|e| {
            err(
                errors::WASM_WORLD,
                format!("{DECODER_EXPORT} does not match the WIT: {}", chain(&e)),
            )
        })?;

    Ok(WasmComponent {
        ctx: ctx.clone(),
        pre,
        sha256,
        imports,
        exports,
        world,
    })
}

#[napi]
impl WasmComponent {
    /// sha256 of the bytes given to compile(), lower-case hex.
    #[napi(getter)]
    pub fn sha256(&self) -> String {
        self.sha256.clone()
    }

    /// Every import, including the types-only lightfoot:decoder/types@0.2.0.
    #[napi]
    pub fn imports(&self) -> Vec<String> {
        self.imports.clone()
    }

    #[napi]
    pub fn exports(&self) -> Vec<String> {
        self.exports.clone()
    }

    #[napi(ts_return_type = "'decoder-plugin' | 'probe-plugin'")]
    pub fn world(&self) -> String {
        self.world.to_string()
    }

    /// A new Store and instance; runs the component's start function (wasi-libc
    /// constructors) under the same limits as a call.
    #[napi]
    pub fn instantiate(&self, env: Env, limits: InstanceLimits) -> Result<DecoderInstance> {
        instance::instantiate(env, &self.ctx, &self.pre, limits)
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
