//! Reading declared arguments out of [`Args`]. The door has already checked each value against
//! the declared [`ParamType`](super::ParamType); these helpers only unwrap (and say clearly what
//! is missing when a backend is called directly, as tests do).

use serde_json::{Map, Value};

use super::{Args, HostError};

fn missing(name: &str) -> HostError {
    HostError::InvalidArgument(format!("missing argument `{name}`"))
}

fn wrong(name: &str, want: &str, got: &Value) -> HostError {
    HostError::InvalidArgument(format!("`{name}` must be {want}, got {got}"))
}

/// `null` (Rhai's `()`) counts as "not given" for optional parameters.
fn get<'a>(args: &'a Args, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
}

pub fn string<'a>(args: &'a Args, name: &str) -> Result<&'a str, HostError> {
    opt_string(args, name)?.ok_or_else(|| missing(name))
}

pub fn opt_string<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, HostError> {
    match get(args, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong(name, "a string", v)),
    }
}

pub fn opt_int(args: &Args, name: &str) -> Result<Option<i64>, HostError> {
    match get(args, name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong(name, "an integer", v)),
    }
}

/// An optional integer that must lie within `min..=max`; `default` when absent.
pub fn int_in(args: &Args, name: &str, default: i64, min: i64, max: i64) -> Result<i64, HostError> {
    let v = opt_int(args, name)?.unwrap_or(default);
    if v < min || v > max {
        return Err(HostError::InvalidArgument(format!(
            "`{name}` must be between {min} and {max}, got {v}"
        )));
    }
    Ok(v)
}

pub fn opt_bool(args: &Args, name: &str) -> Result<Option<bool>, HostError> {
    match get(args, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(wrong(name, "true or false", v)),
    }
}

/// An array of strings (an absent optional array is empty).
pub fn strings(args: &Args, name: &str) -> Result<Vec<String>, HostError> {
    match get(args, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(name, "an array of strings", other)),
            })
            .collect(),
        Some(v) => Err(wrong(name, "an array of strings", v)),
    }
}

pub fn opt_map<'a>(
    args: &'a Args,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, HostError> {
    match get(args, name) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(wrong(name, "a map", v)),
    }
}

/// A map of string values (environment variables).
pub fn string_map(args: &Args, name: &str) -> Result<Vec<(String, String)>, HostError> {
    let Some(m) = opt_map(args, name)? else {
        return Ok(Vec::new());
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            other => Err(wrong(&format!("{name}.{k}"), "a string", other)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helpers() {
        let a = json!({"s": "x", "n": 5, "b": true, "l": ["a", "b"], "z": null, "m": {"K": "v", "N": 1}});
        let a = a.as_object().unwrap();
        assert_eq!(string(a, "s").unwrap(), "x");
        assert!(string(a, "z").is_err());
        assert_eq!(opt_string(a, "z").unwrap(), None);
        assert!(string(a, "n")
            .unwrap_err()
            .to_string()
            .contains("`n` must be a string"));
        assert_eq!(int_in(a, "n", 1, 0, 10).unwrap(), 5);
        assert_eq!(int_in(a, "absent", 7, 0, 10).unwrap(), 7);
        assert!(int_in(a, "n", 1, 0, 4).is_err());
        assert_eq!(opt_bool(a, "b").unwrap(), Some(true));
        assert_eq!(strings(a, "l").unwrap(), vec!["a", "b"]);
        assert!(strings(a, "absent").unwrap().is_empty());
        assert_eq!(
            string_map(a, "m").unwrap(),
            vec![("K".into(), "v".into()), ("N".into(), "1".into())]
        );
    }
}
