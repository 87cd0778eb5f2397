//! WebAssembly decoder engine: wasmtime hosting the components of sdk/wit/decoder.wit.
//! One Engine per WasmEngine (shared by its components), one Store per DecoderInstance.
//! The JS contract is the "WebAssembly decoder engine" section of docs/native-api.md.

mod budget;
mod compact;
mod component;
mod convert;
mod engine;
mod instance;
mod lift;
mod planner;

// Typed host bindings generated from the WIT at build time. Only the decoder-plugin
// world is bound: a probe-plugin component exports the same decoder interface (its
// extra planner export is not called by this addon).
mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "decoder-plugin",
    });
}

pub(crate) use bindings::lightfoot::decoder::types as wit;
