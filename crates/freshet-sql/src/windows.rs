//! The window functions of streaming SQL: `tumble(time, size)`, `hop(time, slide, size)` and
//! `session(time, gap)` in a `GROUP BY`, each a `{start, end}` struct of timestamps that Freshet's
//! event-time window operators fill in.

use crate::error::{Result, SqlError};
use datafusion::arrow::array::{ArrayRef, StructArray, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use freshet::event_time::{EventWindow, WindowSpec};
use std::sync::Arc;
use std::time::Duration;

/// Which window function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// `tumble(time, size)`.
    Tumble,
    /// `hop(time, slide, size)` (Flink's order of arguments).
    Hop,
    /// `session(time, gap)`.
    Session,
}

impl WindowKind {
    const ALL: [WindowKind; 3] = [WindowKind::Tumble, WindowKind::Hop, WindowKind::Session];

    fn name(self) -> &'static str {
        match self {
            WindowKind::Tumble => "tumble",
            WindowKind::Hop => "hop",
            WindowKind::Session => "session",
        }
    }

    fn intervals(self) -> usize {
        match self {
            WindowKind::Hop => 2,
            WindowKind::Tumble | WindowKind::Session => 1,
        }
    }
}

/// The type of a window value: `{start, end}`, timestamps in milliseconds (end exclusive).
pub fn window_type() -> DataType {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    DataType::Struct(Fields::from(vec![
        Field::new("start", ts.clone(), false),
        Field::new("end", ts, false),
    ]))
}

/// Window values for `windows`, as an array of [`window_type`].
pub fn window_array(windows: &[EventWindow]) -> ArrayRef {
    let starts: TimestampMillisecondArray =
        TimestampMillisecondArray::from_iter_values(windows.iter().map(|w| w.start as i64));
    let ends: TimestampMillisecondArray =
        TimestampMillisecondArray::from_iter_values(windows.iter().map(|w| w.end as i64));
    let DataType::Struct(fields) = window_type() else {
        unreachable!("a window is a struct")
    };
    Arc::new(StructArray::new(
        fields,
        vec![Arc::new(starts), Arc::new(ends)],
        None,
    ))
}

/// The window functions, to register with a DataFusion session.
pub fn window_udfs() -> Vec<ScalarUDF> {
    WindowKind::ALL
        .into_iter()
        .map(|kind| ScalarUDF::new_from_impl(WindowUdf::new(kind)))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct WindowUdf {
    kind: WindowKind,
    signature: Signature,
}

impl WindowUdf {
    fn new(kind: WindowKind) -> WindowUdf {
        WindowUdf {
            kind,
            signature: Signature::any(1 + kind.intervals(), Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for WindowUdf {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(window_type())
    }

    fn invoke_with_args(
        &self,
        _args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        datafusion::common::plan_err!(
            "{}() names the window of an aggregation: it may only appear in GROUP BY (and in the SELECT list as that group)",
            self.kind.name()
        )
    }
}

/// A window function found in a `GROUP BY`: its kind, the expression of the event time and
/// the window's shape.
#[derive(Clone, Debug)]
pub struct WindowGroup {
    /// Which function.
    pub kind: WindowKind,
    /// The event time's expression (a timestamp, or an integer of milliseconds).
    pub time: Expr,
    /// The window's shape.
    pub spec: WindowSpec,
}

/// The window function `expr` calls, if it calls one.
pub fn window_group(expr: &Expr) -> Result<Option<WindowGroup>> {
    let Expr::ScalarFunction(call) = unalias(expr) else {
        return Ok(None);
    };
    let Some(kind) = WindowKind::ALL
        .into_iter()
        .find(|k| k.name() == call.func.name())
    else {
        return Ok(None);
    };
    let name = kind.name();
    let interval = |i: usize, what: &str| -> Result<Duration> {
        interval_of(&call.args[i])
            .ok_or_else(|| {
                SqlError::Plan(format!(
                    "the {what} of {name}() must be a positive INTERVAL literal of whole milliseconds (e.g. INTERVAL '10' SECOND), got {}",
                    call.args[i]
                ))
            })
    };
    let spec = match kind {
        WindowKind::Tumble => WindowSpec::tumbling(interval(1, "size")?),
        WindowKind::Hop => WindowSpec::sliding(interval(2, "size")?, interval(1, "slide")?),
        WindowKind::Session => WindowSpec::session(interval(1, "gap")?),
    };
    Ok(Some(WindowGroup {
        kind,
        time: call.args[0].clone(),
        spec,
    }))
}

fn unalias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(a) => unalias(&a.expr),
        e => e,
    }
}

/// The duration of an interval literal, if it is one of whole, positive milliseconds.
fn interval_of(expr: &Expr) -> Option<Duration> {
    let Expr::Literal(value, _) = unalias(expr) else {
        return None;
    };
    let ms: i128 = match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            if v.nanoseconds % 1_000_000 != 0 {
                return None;
            }
            i128::from(v.days) * 86_400_000 + i128::from(v.nanoseconds / 1_000_000)
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            i128::from(v.days) * 86_400_000 + i128::from(v.milliseconds)
        }
        _ => return None,
    };
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// The milliseconds of an event-time column: timestamps of any unit, or integers taken as
/// milliseconds. `None` for a `NULL`.
pub fn event_millis(array: &dyn datafusion::arrow::array::Array) -> Result<Vec<Option<i64>>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::Int64Type;
    let ms = match array.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let ts = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))
                .map_err(SqlError::arrow)?;
            cast(&ts, &DataType::Int64).map_err(SqlError::arrow)?
        }
        t if t.is_integer() => cast(array, &DataType::Int64).map_err(SqlError::arrow)?,
        other => {
            return Err(SqlError::Plan(format!(
                "the event time of a window must be a timestamp or an integer of milliseconds, got {other}"
            )))
        }
    };
    let a = ms.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect())
}
