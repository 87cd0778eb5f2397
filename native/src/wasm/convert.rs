//! WIT values → JS objects, shaped as docs/native-api.md says. Built by hand (not
//! #[napi(object)]) because of the number|bigint field values and [key, value] tuples.

use napi::{Env, JsObject, JsUnknown, Result};

use super::{lift, wit};

/// Largest integer a JS number holds exactly; beyond it field values become bigint.
const MAX_SAFE: u64 = 1 << 53;

fn str_(env: &Env, s: &str) -> Result<JsUnknown> {
    Ok(env.create_string(s)?.into_unknown())
}

fn big_u64(env: &Env, v: u64) -> Result<JsUnknown> {
    env.create_bigint_from_u64(v)?.into_unknown()
}

fn array<T>(env: &Env, items: &[T], f: impl Fn(&T) -> Result<JsUnknown>) -> Result<JsObject> {
    let mut a = env.create_array_with_length(items.len())?;
    for (i, it) in items.iter().enumerate() {
        a.set_element(i as u32, f(it)?)?;
    }
    Ok(a)
}

fn strings(env: &Env, items: &[String]) -> Result<JsObject> {
    array(env, items, |s| str_(env, s))
}

pub fn info_to_js(env: &Env, info: &wit::DecoderInfo) -> Result<JsObject> {
    let mut o = env.create_object()?;
    o.set_named_property("name", env.create_string(&info.name)?)?;
    o.set_named_property("version", env.create_string(&info.version)?)?;
    let subs = array(env, &info.subscriptions, |s| {
        let mut so = env.create_object()?;
        so.set_named_property("probe", env.create_string(&s.probe)?)?;
        so.set_named_property(
            "kinds",
            array(env, &s.kinds, |k| {
                Ok(env.create_uint32((*k).into())?.into_unknown())
            })?,
        )?;
        so.set_named_property("streams", env.get_boolean(s.streams)?)?;
        Ok(so.into_unknown())
    })?;
    o.set_named_property("subscriptions", subs)?;
    let metrics = array(env, &info.metrics, |m| {
        let mut mo = env.create_object()?;
        mo.set_named_property("name", env.create_string(&m.name)?)?;
        let kind = match m.kind {
            wit::MetricKind::Counter => "counter",
            wit::MetricKind::Gauge => "gauge",
            wit::MetricKind::Histogram => "histogram",
        };
        mo.set_named_property("kind", env.create_string(kind)?)?;
        mo.set_named_property("help", env.create_string(&m.help)?)?;
        mo.set_named_property("labels", strings(env, &m.labels)?)?;
        mo.set_named_property(
            "buckets",
            array(env, &m.buckets, |b| {
                Ok(env.create_double(*b)?.into_unknown())
            })?,
        )?;
        Ok(mo.into_unknown())
    })?;
    o.set_named_property("metrics", metrics)?;
    Ok(o)
}

fn field_value(env: &Env, arena: &[u8], v: &lift::FieldValue) -> Result<JsUnknown> {
    Ok(match v {
        lift::FieldValue::Str(s) => env.create_string(s.get(arena))?.into_unknown(),
        lift::FieldValue::Int(i) if i.unsigned_abs() <= MAX_SAFE => {
            env.create_double(*i as f64)?.into_unknown()
        }
        lift::FieldValue::Int(i) => env.create_bigint_from_i64(*i)?.into_unknown()?,
        lift::FieldValue::Uint(u) if *u <= MAX_SAFE => env.create_double(*u as f64)?.into_unknown(),
        lift::FieldValue::Uint(u) => big_u64(env, *u)?,
        lift::FieldValue::Float(f) => env.create_double(*f)?.into_unknown(),
        lift::FieldValue::Boolean(b) => env.get_boolean(*b)?.into_unknown(),
    })
}

/// The object form of a decode-output lifted by lift.rs (`ObjOutput`, strings in `arena`).
pub fn output_to_js(env: &Env, out: &lift::ObjOutput, arena: &[u8]) -> Result<JsObject> {
    let s = |a: &lift::AStr| -> Result<JsUnknown> { str_(env, a.get(arena)) };
    let mut o = env.create_object()?;
    let metrics = array(env, &out.metrics.0, |m| {
        let mut mo = env.create_object()?;
        mo.set_named_property("metric", env.create_uint32(m.metric)?)?;
        mo.set_named_property("labels", array(env, &m.labels.0, s)?)?;
        let op = match m.op {
            lift::UpdateOp::Add => "add",
            lift::UpdateOp::Set => "set",
            lift::UpdateOp::Observe => "observe",
        };
        mo.set_named_property("op", env.create_string(op)?)?;
        mo.set_named_property("value", env.create_double(m.value)?)?;
        Ok(mo.into_unknown())
    })?;
    o.set_named_property("metrics", metrics)?;
    let logs = array(env, &out.logs.0, |l| {
        let mut lo = env.create_object()?;
        let level = match l.level {
            lift::LogLevel::Debug => "debug",
            lift::LogLevel::Info => "info",
            lift::LogLevel::Warn => "warn",
            lift::LogLevel::Error => "error",
        };
        lo.set_named_property("level", env.create_string(level)?)?;
        lo.set_named_property("message", s(&l.message)?)?;
        lo.set_named_property("connection", big_u64(env, l.connection)?)?;
        let fields = array(env, &l.fields.0, |f| {
            let mut pair = env.create_array_with_length(2)?;
            pair.set_element(0, s(&f.key)?)?;
            pair.set_element(1, field_value(env, arena, &f.value)?)?;
            Ok(pair.into_unknown())
        })?;
        lo.set_named_property("fields", fields)?;
        Ok(lo.into_unknown())
    })?;
    o.set_named_property("logs", logs)?;
    let annotations = array(env, &out.annotations.0, |a| {
        let mut ao = env.create_object()?;
        ao.set_named_property("connection", big_u64(env, a.connection)?)?;
        ao.set_named_property("key", s(&a.key)?)?;
        ao.set_named_property("value", s(&a.value)?)?;
        Ok(ao.into_unknown())
    })?;
    o.set_named_property("annotations", annotations)?;
    let streams = array(env, &out.streams.0, |st| {
        let mut so = env.create_object()?;
        so.set_named_property("connection", big_u64(env, st.connection)?)?;
        let dir = match st.direction {
            lift::Direction::Egress => "egress",
            lift::Direction::Ingress => "ingress",
        };
        so.set_named_property("direction", env.create_string(dir)?)?;
        so.set_named_property("consumed", env.create_uint32(st.consumed)?)?;
        Ok(so.into_unknown())
    })?;
    o.set_named_property("streams", streams)?;
    Ok(o)
}
