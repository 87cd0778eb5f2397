//! Probe planners: the `planner` export of a probe module's component (world
//! `planner-plugin` or `probe-plugin` of sdk/wit/decoder.wit). The sandbox is the
//! decoders': no imports but the types-only interface, a memory cap, an epoch deadline
//! and optional fuel. Every plan() call gets a fresh Store, so a planner keeps no state
//! between binaries and a fault poisons nothing.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use wasmtime::component::{Component, Linker};
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::engine::{chain, WasmEngine};
use super::instance::InstanceLimits;
use crate::errors::{self, err, Result};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "planner-plugin",
    });
}
use bindings::lightfoot::decoder::types as wit;
use bindings::{PlannerPlugin, PlannerPluginPre};

pub(crate) const PLANNER_EXPORT: &str = "lightfoot:decoder/planner@0.2.0";
const TYPES_IMPORT: &str = "lightfoot:decoder/types@0.2.0";

struct PlanState {
    limits: StoreLimits,
    refused: bool,
}

impl ResourceLimiter for PlanState {
    fn memory_growing(&mut self, cur: usize, want: usize, max: Option<usize>) -> wasmtime::Result<bool> {
        let r = self.limits.memory_growing(cur, want, max);
        if !matches!(r, Ok(true)) {
            self.refused = true;
        }
        r
    }
    fn table_growing(&mut self, cur: usize, want: usize, max: Option<usize>) -> wasmtime::Result<bool> {
        let r = self.limits.table_growing(cur, want, max);
        if !matches!(r, Ok(true)) {
            self.refused = true;
        }
        r
    }
}

#[napi]
pub struct PlannerComponent {
    engine: wasmtime::Engine,
    pre: PlannerPluginPre<PlanState>,
    tick_ms: u32,
    fuel: bool,
    sha256: String,
}

#[napi(object)]
pub struct PlanSymbol {
    pub name: String,
    pub offset: f64,
    pub address: f64,
    pub size: f64,
}

/// The planner's input: `binary-info` of the WIT (the host fills it from readBinaryInfo).
#[napi(object)]
pub struct PlanInput {
    pub path: String,
    #[napi(ts_type = "'executable' | 'shared-library'")]
    pub kind: String,
    pub build_id: Option<String>,
    pub soname: Option<String>,
    pub symbol_count: u32,
    pub go_version: Option<String>,
    pub modules: Vec<Vec<String>>,
    pub symbols: Vec<PlanSymbol>,
    pub member_offsets: Vec<PlanMemberOffset>,
}

#[napi(object)]
pub struct PlanMemberOffset {
    pub key: String,
    pub offset: u32,
}

#[napi(object)]
pub struct PlannedAttach {
    pub program: String,
    pub symbol: String,
    pub offset: f64,
    #[napi(ts_type = "'uprobe' | 'uretprobe'")]
    pub mode: String,
    pub cookie: u32,
}

#[napi(object)]
pub struct PlanOutcome {
    /// `ok`: `plan` is set; `refused`: the planner said the module does not apply
    /// (`message` says why); `fault`: it trapped, ran out of time or memory (`faultKind`).
    #[napi(ts_type = "'ok' | 'refused' | 'fault'")]
    pub status: String,
    #[napi(ts_type = "'trap' | 'timeout' | 'oom'")]
    pub fault_kind: Option<String>,
    pub message: Option<String>,
    pub attach: Option<Vec<PlannedAttach>>,
    pub config: Option<Buffer>,
    pub notes: Option<Vec<String>>,
}

fn fault(kind: &str, msg: String) -> PlanOutcome {
    PlanOutcome {
        status: "fault".into(),
        fault_kind: Some(kind.into()),
        message: Some(msg),
        attach: None,
        config: None,
        notes: None,
    }
}

fn to_wit(i: &PlanInput) -> std::result::Result<wit::BinaryInfo, String> {
    let kind = match i.kind.as_str() {
        "executable" => wit::BinaryKind::Executable,
        "shared-library" => wit::BinaryKind::SharedLibrary,
        k => return Err(format!("unknown binary kind {k}")),
    };
    let mut modules = Vec::new();
    for m in &i.modules {
        match m.as_slice() {
            [a, b] => modules.push((a.clone(), b.clone())),
            _ => return Err("modules must be [path, version] pairs".into()),
        }
    }
    Ok(wit::BinaryInfo {
        path: i.path.clone(),
        kind,
        build_id: i.build_id.clone(),
        soname: i.soname.clone(),
        symbol_count: i.symbol_count,
        go_version: i.go_version.clone(),
        modules,
        symbols: i
            .symbols
            .iter()
            .map(|s| wit::Symbol {
                name: s.name.clone(),
                offset: s.offset as u64,
                address: s.address as u64,
                size: s.size as u64,
            })
            .collect(),
        member_offsets: i.member_offsets.iter().map(|m| (m.key.clone(), m.offset)).collect(),
    })
}

#[napi]
impl WasmEngine {
    /// Compiles a planner component: it must export lightfoot:decoder/planner@0.2.0 and
    /// import nothing but the types-only interface. Throws LF_ERR_WASM_INVALID /
    /// LF_ERR_WASM_IMPORT / LF_ERR_WASM_WORLD.
    #[napi]
    pub fn compile_planner(&self, bytes: Buffer) -> Result<PlannerComponent> {
        use sha2::{Digest, Sha256};
        let sha256: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        let engine = &self.ctx.engine;
        let component = Component::new(engine, &bytes[..]).map_err(|e| {
            err(errors::WASM_INVALID, format!("compiling planner {}: {}", &sha256[..12], chain(&e)))
        })?;
        let ty = component.component_type();
        let refused: Vec<String> = ty
            .imports(engine)
            .filter(|(n, it)| !(*n == TYPES_IMPORT && super::component::types_only(engine, &it.ty)))
            .map(|(n, _)| n.to_string())
            .collect();
        if !refused.is_empty() {
            return Err(err(
                errors::WASM_IMPORT,
                format!("planner imports {}: planners get no imports", refused.join(", ")),
            ));
        }
        if !ty.exports(engine).any(|(n, _)| n == PLANNER_EXPORT) {
            return Err(err(errors::WASM_WORLD, format!("does not export {PLANNER_EXPORT}")));
        }
        let mut linker: Linker<PlanState> = Linker::new(engine);
        linker
            .instance(TYPES_IMPORT)
            .map_err(|e| err(errors::CONFIG, chain(&e)))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PlannerPluginPre::new)
            .map_err(|e| {
                err(errors::WASM_WORLD, format!("{PLANNER_EXPORT} does not match the WIT: {}", chain(&e)))
            })?;
        Ok(PlannerComponent {
            engine: engine.clone(),
            pre,
            tick_ms: self.ctx.tick_ms,
            fuel: self.ctx.fuel,
            sha256,
        })
    }
}

#[napi]
impl PlannerComponent {
    #[napi(getter)]
    pub fn sha256(&self) -> String {
        self.sha256.clone()
    }

    /// Runs plan() in a fresh Store under `limits`. Never throws for what the guest does:
    /// faults and refusals come back as the outcome's status.
    #[napi]
    pub fn plan(&self, info: PlanInput, limits: InstanceLimits) -> Result<PlanOutcome> {
        let input = to_wit(&info).map_err(|m| err(errors::CONFIG, format!("plan input: {m}")))?;
        if !(limits.memory_bytes >= 65536.0 && limits.deadline_ms > 0.0) {
            return Err(err(errors::CONFIG, "plan: memoryBytes >= 65536 and deadlineMs > 0 required"));
        }
        let state = PlanState {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes as usize)
                .trap_on_grow_failure(true)
                .build(),
            refused: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        store.set_epoch_deadline((limits.deadline_ms / f64::from(self.tick_ms)).ceil() as u64 + 1);
        if self.fuel {
            let f = limits.fuel.map_or(u64::MAX, |f| f.max(1.0) as u64);
            store.set_fuel(f).map_err(|e| err(errors::CONFIG, chain(&e)))?;
        }
        let run = (|| {
            let instance = self.pre.instance_pre().instantiate(&mut store)?;
            let plugin = PlannerPlugin::new(&mut store, &instance)?;
            plugin.lightfoot_decoder_planner().call_plan(&mut store, &input)
        })();
        let r = match run {
            Ok(r) => r,
            Err(e) => {
                let kind = if store.data().refused {
                    "oom"
                } else {
                    match e.downcast_ref::<Trap>() {
                        Some(Trap::Interrupt) | Some(Trap::OutOfFuel) => "timeout",
                        _ => "trap",
                    }
                };
                return Ok(fault(kind, format!("planner fault {kind}: {}", chain(&e))));
            }
        };
        Ok(match r {
            Err(why) => PlanOutcome {
                status: "refused".into(),
                fault_kind: None,
                message: Some(why),
                attach: None,
                config: None,
                notes: None,
            },
            Ok(plan) => PlanOutcome {
                status: "ok".into(),
                fault_kind: None,
                message: None,
                attach: Some(
                    plan.attach
                        .into_iter()
                        .map(|a| PlannedAttach {
                            program: a.program,
                            symbol: a.symbol,
                            offset: a.offset as f64,
                            mode: match a.mode {
                                wit::AttachMode::Uprobe => "uprobe",
                                wit::AttachMode::Uretprobe => "uretprobe",
                            }
                            .into(),
                            cookie: a.cookie,
                        })
                        .collect(),
                ),
                config: Some(plan.config.into()),
                notes: Some(plan.notes),
            },
        })
    }
}
