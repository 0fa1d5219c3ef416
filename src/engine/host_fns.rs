//! Registers every host function of the registry as a Rhai static module (`systemd::status`,
//! `files::replace`, ...), each call routed through the effect door.
//!
//! Functions are registered once per accepted arity (optional parameters are trailing), with
//! `Dynamic` parameters checked here against the declared types, so a runbook passing a
//! number where a unit name belongs gets an error naming the function and the parameter.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{
    Dynamic, Engine, EvalAltResult, FuncRegistration, Module, NativeCallContext, Position,
    RhaiFunc, Shared,
};
use serde_json::Value;

use super::state::{RunState, Stop};
use crate::effect::DoorError;
use crate::host::{registry, Args, HostError, HostFn, ParamType};

/// With no run state (for `check`), the modules exist so runbooks compile under strict
/// variables, but calling a function is an error.
pub fn register(engine: &mut Engine, state: Option<&Arc<RunState>>) {
    let mut modules: BTreeMap<&'static str, Module> = BTreeMap::new();
    for f in registry::all() {
        let module = modules.entry(f.module).or_default();
        let required = f.params.iter().filter(|p| !p.optional).count();
        for arity in required..=f.params.len() {
            let state = state.cloned();
            let func = move |ctx: Option<NativeCallContext>, args: &mut [&mut Dynamic]| {
                let pos = ctx.map(|c| c.call_position()).unwrap_or(Position::NONE);
                match &state {
                    Some(state) => call(state, f, args, pos),
                    None => Err(runtime(
                        format!("{} is not available outside a run", f.qualified_name()),
                        pos,
                    )),
                }
            };
            let names: Vec<String> = f.params[..arity]
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty.name()))
                .chain(std::iter::once("Dynamic".to_string()))
                .collect();
            FuncRegistration::new(f.name)
                .with_namespace(rhai::FnNamespace::Internal)
                .with_params_info(names)
                .with_comments([format!("/// {}", f.doc)])
                .set_into_module_raw(
                    module,
                    vec![TypeId::of::<Dynamic>(); arity],
                    // Pure: host functions never change their arguments in place (and Rhai
                    // indexes the first argument of impure calls, which zero-arity ones lack).
                    // Volatile: never cache or fold a host call.
                    RhaiFunc::Pure {
                        func: Shared::new(func),
                        has_context: true,
                        is_pure: true,
                        is_volatile: true,
                    },
                );
        }
    }
    for (name, module) in modules {
        engine.register_static_module(name, module.into());
    }
}

/// The arguments of a call, positional as in Rhai, checked against the declared parameters.
fn named_args(
    f: &'static HostFn,
    raw: &[&mut Dynamic],
    pos: Position,
) -> Result<Args, Box<EvalAltResult>> {
    let mut args = Args::new();
    for (param, value) in f.params.iter().zip(raw.iter()) {
        let json = to_json(param.ty, value).map_err(|expected| {
            runtime(
                format!(
                    "{}: parameter `{}` expects {expected}, got {}",
                    f.qualified_name(),
                    param.name,
                    value.type_name()
                ),
                pos,
            )
        })?;
        args.insert(param.name.to_string(), json);
    }
    Ok(args)
}

/// `prefetch([["systemd::failed", []], ["host::disk", ["/"]], ...])`: start read-only calls
/// at once; the runbook's later calls with the same arguments take their results.
pub fn register_prefetch(engine: &mut Engine, state: &Arc<RunState>) {
    let st = state.clone();
    engine.register_fn(
        "prefetch",
        move |ctx: NativeCallContext, calls: rhai::Array| -> Result<(), Box<EvalAltResult>> {
            let pos = ctx.call_position();
            for call in calls {
                st.admit(pos)?;
                let bad = || {
                    runtime(
                        "prefetch: each entry is [\"module::function\", [arguments...]]".into(),
                        pos,
                    )
                };
                let pair = call.try_cast::<rhai::Array>().ok_or_else(bad)?;
                let (Some(name), Some(list)) = (pair.first(), pair.get(1)) else {
                    return Err(bad());
                };
                let name = name.clone().into_string().map_err(|_| bad())?;
                let mut list = list.clone().try_cast::<rhai::Array>().ok_or_else(bad)?;
                let (module, fname) = name.split_once("::").ok_or_else(bad)?;
                let f = registry::find(module, fname)
                    .ok_or_else(|| runtime(format!("prefetch: no host function {name}"), pos))?;
                let required = f.params.iter().filter(|p| !p.optional).count();
                if list.len() < required || list.len() > f.params.len() {
                    return Err(runtime(
                        format!(
                            "prefetch: {name} takes {required} to {} arguments",
                            f.params.len()
                        ),
                        pos,
                    ));
                }
                let refs: Vec<&mut Dynamic> = list.iter_mut().collect();
                let args = named_args(f, &refs, pos)?;
                st.door
                    .prefetch(f, args)
                    .map_err(|e| runtime(e.to_string(), pos))?;
            }
            Ok(())
        },
    );
}

fn call(
    state: &RunState,
    f: &'static HostFn,
    raw: &mut [&mut Dynamic],
    pos: Position,
) -> Result<Dynamic, Box<EvalAltResult>> {
    state.admit(pos)?;
    let args = named_args(f, raw, pos)?;
    if f.module == "files" {
        for value in crate::host::files::secret_writes(&state.door.host, f.name, &args) {
            state.door.audit.redactor().add_secret(&value);
        }
    }
    match state.door.call(f, args) {
        Ok(value) => rhai::serde::to_dynamic(value).map_err(|e| runtime(e.to_string(), pos)),
        Err(DoorError::Host(HostError::Refused(msg))) => Err(state.stop(Stop::Refused(msg), pos)),
        Err(DoorError::Host(err)) => Err(runtime(err.to_string(), pos)),
        Err(DoorError::Audit(err)) => Err(state.stop(Stop::Audit(err.to_string()), pos)),
        Err(DoorError::Canceled) => Err(state.stop(Stop::Canceled, pos)),
    }
}

fn to_json(ty: ParamType, value: &Dynamic) -> Result<Value, &'static str> {
    let ok = match ty {
        ParamType::String => value.is_string(),
        ParamType::Int => value.is_int(),
        ParamType::Bool => value.is_bool(),
        ParamType::Array => value.is_array(),
        ParamType::Map => value.is_map(),
        ParamType::Any => true,
    };
    if !ok {
        return Err(match ty {
            ParamType::String => "a string",
            ParamType::Int => "an integer",
            ParamType::Bool => "true or false",
            ParamType::Array => "an array",
            ParamType::Map => "an object map",
            ParamType::Any => "a value",
        });
    }
    rhai::serde::from_dynamic::<Value>(value).map_err(|_| "a JSON-representable value")
}

pub fn runtime(msg: String, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(msg.into(), pos).into()
}
