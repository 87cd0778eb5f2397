//! The shared wasmtime Engine: component model, epoch interruption driven by a
//! background ticker, optional fuel, persistent compilation cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use wasmtime::component::Linker;
use wasmtime::{Cache, CacheConfig, Config, Engine};

use super::component::{self, WasmComponent};
use super::instance::HostState;
use crate::errors::{self, err, Result};

const DEFAULT_CACHE_DIR: &str = "/var/cache/lightfoot/wasmtime";
const DEFAULT_TICK_MS: u32 = 5;

#[napi(object)]
pub struct WasmEngineOptions {
    /// Persistent compilation cache directory; '' disables the cache.
    pub cache_dir: Option<String>,
    /// How often the background thread bumps the engine epoch.
    pub epoch_tick_ms: Option<u32>,
    /// Enables fuel metering (needed for InstanceLimits.fuel; costs some speed).
    pub consume_fuel: Option<bool>,
}

/// What components and instances need from their engine.
#[derive(Clone)]
pub(crate) struct EngineCtx {
    pub engine: Engine,
    pub linker: Arc<Linker<HostState>>,
    pub tick_ms: u32,
    pub fuel: bool,
}

#[napi]
pub struct WasmEngine {
    pub(crate) ctx: EngineCtx,
}

#[napi]
impl WasmEngine {
    #[napi(constructor)]
    pub fn new(opts: Option<WasmEngineOptions>) -> Result<Self> {
        let (cache_dir, tick_ms, fuel) = match opts {
            Some(o) => (
                o.cache_dir,
                o.epoch_tick_ms,
                o.consume_fuel.unwrap_or(false),
            ),
            None => (None, None, false),
        };
        let tick_ms = tick_ms.unwrap_or(DEFAULT_TICK_MS);
        if tick_ms == 0 {
            return Err(err(
                errors::CONFIG,
                "creating wasm engine: epochTickMs must be at least 1",
            ));
        }
        let cache_dir = cache_dir.unwrap_or_else(|| DEFAULT_CACHE_DIR.to_string());

        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(fuel)
            // No backtrace context on traps: fault messages stay one line (`wasm trap:
            // interrupt`) and a trapping guest costs no stack walk.
            .wasm_backtrace_max_frames(None);
        if !cache_dir.is_empty() {
            // wasmtime wants an absolute directory; it creates it when missing.
            let dir = std::path::absolute(PathBuf::from(&cache_dir)).map_err(|e| {
                err(
                    errors::CONFIG,
                    format!("creating wasm engine: cache dir {cache_dir}: {e}"),
                )
            })?;
            let mut cc = CacheConfig::new();
            cc.with_directory(dir);
            let cache = Cache::new(cc).map_err(|e| {
                err(
                    errors::CONFIG,
                    format!("creating wasm engine: cache dir {cache_dir}: {}", chain(&e)),
                )
            })?;
            cfg.cache(Some(cache));
        }
        let engine = Engine::new(&cfg).map_err(|e| {
            err(
                errors::CONFIG,
                format!("creating wasm engine: {}", chain(&e)),
            )
        })?;

        let mut linker = Linker::new(&engine);
        component::define_allowed_imports(&mut linker).map_err(|e| {
            err(
                errors::CONFIG,
                format!("creating wasm engine: {}", chain(&e)),
            )
        })?;

        spawn_ticker(&engine, Duration::from_millis(tick_ms.into()))?;
        Ok(Self {
            ctx: EngineCtx {
                engine,
                linker: Arc::new(linker),
                tick_ms,
                fuel,
            },
        })
    }

    /// Compiles (or loads from the cache) a component and checks its imports and world.
    #[napi]
    pub fn compile(&self, bytes: Buffer) -> Result<WasmComponent> {
        component::compile(&self.ctx, &bytes)
    }
}

/// Bumps the epoch every `tick` for as long as the engine lives anywhere (WasmEngine,
/// components, stores all hold clones): it only keeps a weak handle, so it ends within
/// one tick of the last drop. A plain OS thread: it does not keep Node's loop alive.
fn spawn_ticker(engine: &Engine, tick: Duration) -> Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("lf-wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(tick);
            match weak.upgrade() {
                Some(e) => e.increment_epoch(),
                None => return,
            }
        })
        .map(|_| ())
        .map_err(|e| {
            err(
                errors::CONFIG,
                format!("creating wasm engine: spawning epoch thread: {e}"),
            )
        })
}

/// An error and its causes, outermost first, as one `a: b: c` line.
pub(crate) fn chain(e: &wasmtime::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.join(": ")
}
