//! Array functions whose Rhai versions discard their callback's errors, replaced by ones
//! that pass them on.
//!
//! Rhai's `sort(comparer)` and `dedup(comparer)` turn a failing comparer into an ordering
//! (or "not equal") and go on. A runbook's error inside a comparer is then lost, and so would
//! be a refusal, a cancellation or the end of the budget, if stops were not also sticky (see
//! [`super::state::Stop`]). These versions stop at the first error and return it. The other
//! callback-taking functions (`map`, `filter`, `reduce`, `for_each`, `some`, `all`, `find`,
//! `drain`, `retain`, ...) already return their callback's error.

use std::cmp::Ordering;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub fn register(engine: &mut Engine) {
    engine.register_fn("sort", sort_by);
    engine.register_fn("sort_by", sort_by);
    engine.register_fn("dedup", dedup_by);
    engine.register_fn("dedup", dedup);
}

/// `array.sort(|a, b| ...)`: the comparer returns a negative, zero or positive integer (or
/// `true` for "a comes first"), as in Rhai. A stable merge sort: unlike `slice::sort_by`, it
/// cannot panic when the comparer is not a total order.
fn sort_by(ctx: NativeCallContext, array: &mut Array, comparer: FnPtr) -> Result<()> {
    if array.len() <= 1 {
        return Ok(());
    }
    let mut compare = |a: &Dynamic, b: &Dynamic| -> Result<Ordering> {
        let v = comparer.call_raw(&ctx, None, [a.clone(), b.clone()])?;
        if let Ok(n) = v.as_int() {
            return Ok(n.cmp(&0));
        }
        match v.as_bool() {
            Ok(true) => Ok(Ordering::Less),
            Ok(false) => Ok(Ordering::Greater),
            Err(got) => Err(EvalAltResult::ErrorRuntime(
                format!(
                    "sort: the comparer returned {got}; it must return an integer or a boolean"
                )
                .into(),
                Position::NONE,
            )
            .into()),
        }
    };
    let items = std::mem::take(array);
    *array = merge_sort(items, &mut compare)?;
    Ok(())
}

fn merge_sort(
    mut items: Vec<Dynamic>,
    compare: &mut impl FnMut(&Dynamic, &Dynamic) -> Result<Ordering>,
) -> Result<Vec<Dynamic>> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(items, compare)?;
    let right = merge_sort(right, compare)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (left.peek(), right.peek()) {
        // Stable: take from the left unless the right one is strictly smaller.
        let next = if compare(a, b)? == Ordering::Greater {
            right.next()
        } else {
            left.next()
        };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

/// `array.dedup(|a, b| ...)`: drop each element for which the comparer, given the element
/// kept before it and the element, returns `true` (Rhai's argument order).
fn dedup_by(ctx: NativeCallContext, array: &mut Array, comparer: FnPtr) -> Result<()> {
    dedup_with(array, |kept, item| {
        let v = comparer.call_raw(&ctx, None, [kept.clone(), item.clone()])?;
        Ok(v.as_bool().unwrap_or(false))
    })
}

/// `array.dedup()`: drop consecutive elements equal by `==` (elements `==` cannot compare
/// count as different, as in Rhai).
fn dedup(ctx: NativeCallContext, array: &mut Array) -> Result<()> {
    dedup_with(array, |kept, item| {
        let (mut a, mut b) = (kept.clone(), item.clone());
        match ctx.call_native_fn_raw("==", true, &mut [&mut a, &mut b]) {
            Ok(v) => Ok(v.as_bool().unwrap_or(false)),
            Err(e) if matches!(*e, EvalAltResult::ErrorFunctionNotFound(..)) => Ok(false),
            Err(e) => Err(e),
        }
    })
}

fn dedup_with(
    array: &mut Array,
    mut same: impl FnMut(&Dynamic, &Dynamic) -> Result<bool>,
) -> Result<()> {
    let mut kept: Array = Vec::with_capacity(array.len());
    for item in std::mem::take(array) {
        match kept.last() {
            Some(last) if same(last, &item)? => {}
            _ => kept.push(item),
        }
    }
    *array = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut e = Engine::new();
        register(&mut e);
        e
    }

    #[test]
    fn sort_and_dedup_behave_as_before() {
        let e = engine();
        let sorted: Array = e
            .eval("let a = [3, 1, 2, 5, 4]; a.sort(|x, y| x - y); a")
            .unwrap();
        let ints: Vec<i64> = sorted.iter().map(|v| v.as_int().unwrap()).collect();
        assert_eq!(ints, [1, 2, 3, 4, 5]);
        let desc: Array = e
            .eval("let a = [1, 3, 2]; a.sort(|x, y| x > y); a")
            .unwrap();
        let ints: Vec<i64> = desc.iter().map(|v| v.as_int().unwrap()).collect();
        assert_eq!(ints, [3, 2, 1]);
        let d: Array = e
            .eval(r#"let a = [1, 1, 2, "x", "x", 2]; a.dedup(); a"#)
            .unwrap();
        assert_eq!(d.len(), 4);
        let d: Array = e
            .eval("let a = [1, 2, 2, 3, 1]; a.dedup(|p, x| x <= p); a")
            .unwrap();
        let ints: Vec<i64> = d.iter().map(|v| v.as_int().unwrap()).collect();
        assert_eq!(ints, [1, 2, 3]);
    }

    #[test]
    fn comparer_errors_reach_the_script() {
        let e = engine();
        for script in [
            r#"let a = [3, 1, 2]; a.sort(|x, y| { throw "boom"; })"#,
            r#"let a = [3, 1, 2]; a.sort_by(|x, y| { throw "boom"; })"#,
            r#"let a = [1, 1, 2]; a.dedup(|x, y| { throw "boom"; })"#,
        ] {
            let err = e.run(script).unwrap_err();
            assert!(err.to_string().contains("boom"), "{script}: {err}");
        }
        // A comparer that is no total order sorts somehow, without a panic.
        e.run("let a = []; for i in 0..50 { a.push(i % 7); } a.sort(|x, y| 1);")
            .unwrap();
    }
}
