//! Encoding of one Arrow array against one column's codec.
//!
//! Accepts every Arrow layout pandas, polars and pyarrow produce for a column of each kind:
//! text (`Utf8`, `LargeUtf8`, `Utf8View`), dictionary-encoded (pandas and polars
//! categoricals), signed and unsigned integers, floats, booleans, `Date32`/`Date64` and
//! timestamps of any unit (with a time zone: taken in UTC).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{AnyDictionaryArray, Array};
use arrow_schema::{DataType, TimeUnit};

use super::codec::{CodeBook, ColumnCodec, Lookup};
use crate::data::error::{DataError, Result};
use crate::data::schema::ColumnSpec;

type LookupFn<'a> = Box<dyn Fn(usize) -> Lookup + Sync + 'a>;

fn int_fn<'a, T: ArrowPrimitiveType>(codec: &'a ColumnCodec, a: &'a dyn Array) -> LookupFn<'a>
where
    T::Native: TryInto<i64>,
{
    let a = a.as_primitive::<T>();
    Box::new(move |i| match a.value(i).try_into() {
        Ok(v) => codec.lookup_i64(v),
        Err(_) => Lookup::OutOfDomain,
    })
}

/// The lookup for row `i` of `array`, or `None` when the array's type cannot hold this
/// column's kind at all.
fn lookup_fn<'a>(codec: &'a ColumnCodec, array: &'a dyn Array) -> Option<LookupFn<'a>> {
    use ColumnCodec as C;
    let is_temporal = matches!(codec, C::Date { .. } | C::Datetime { .. });
    let is_numeric = matches!(codec, C::Integer { .. } | C::Float { .. });
    Some(match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Box::new(move |i| codec.lookup_str(a.value(i)))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Box::new(move |i| codec.lookup_str(a.value(i)))
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            Box::new(move |i| codec.lookup_str(a.value(i)))
        }
        DataType::Dictionary(_, _) => {
            let dict: &dyn AnyDictionaryArray = array.as_any_dictionary_opt()?;
            let values = dict.values().as_ref();
            let entries: Vec<Lookup> = {
                let f = lookup_fn(codec, values)?;
                (0..values.len()).map(f).collect()
            };
            if entries.is_empty() {
                // No dictionary values (an empty table's column, or a column of nulls; e.g. the
                // empty batch that checks a source's columns): every key is null and is never
                // looked up. Arrow's `normalized_keys` panics on an empty dictionary, so it is
                // not called; a non-null key here would be malformed Arrow.
                return Some(Box::new(|_| {
                    Lookup::Unparsable("a dictionary key with a value (the dictionary has none)")
                }));
            }
            let keys = dict.normalized_keys();
            Box::new(move |i| entries[keys[i]])
        }
        DataType::Int8 if !is_temporal => int_fn::<Int8Type>(codec, array),
        DataType::Int16 if !is_temporal => int_fn::<Int16Type>(codec, array),
        DataType::Int32 if !is_temporal => int_fn::<Int32Type>(codec, array),
        DataType::Int64 if !is_temporal => int_fn::<Int64Type>(codec, array),
        DataType::UInt8 if !is_temporal => int_fn::<UInt8Type>(codec, array),
        DataType::UInt16 if !is_temporal => int_fn::<UInt16Type>(codec, array),
        DataType::UInt32 if !is_temporal => int_fn::<UInt32Type>(codec, array),
        DataType::UInt64 if !is_temporal => int_fn::<UInt64Type>(codec, array),
        DataType::Float32 if !is_temporal => {
            let a = array.as_primitive::<Float32Type>();
            Box::new(move |i| codec.lookup_f64(f64::from(a.value(i))))
        }
        DataType::Float64 if !is_temporal => {
            let a = array.as_primitive::<Float64Type>();
            Box::new(move |i| codec.lookup_f64(a.value(i)))
        }
        DataType::Boolean if !is_temporal && !matches!(codec, C::Float { .. }) => {
            let a = array.as_boolean();
            Box::new(move |i| codec.lookup_bool(a.value(i)))
        }
        DataType::Date32 if is_temporal => {
            let a = array.as_primitive::<Date32Type>();
            Box::new(move |i| codec.lookup_days(i64::from(a.value(i))))
        }
        DataType::Date64 if is_temporal => {
            let a = array.as_primitive::<Date64Type>();
            Box::new(move |i| codec.lookup_days(a.value(i).div_euclid(86_400_000)))
        }
        DataType::Timestamp(unit, _) if is_temporal => {
            let per_second: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let raw: &[i64] = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values(),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values(),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values(),
            };
            Box::new(move |i| codec.lookup_seconds(raw[i].div_euclid(per_second)))
        }
        DataType::Null => Box::new(|_| Lookup::OutOfDomain),
        _ => {
            let _ = is_numeric;
            return None;
        }
    })
}

/// Whether arrays of `data_type` can hold values of this codec's kind.
pub(crate) fn check_type(spec: &ColumnSpec, codec: &ColumnCodec, array: &dyn Array) -> Result<()> {
    let empty = array.slice(0, 0);
    if lookup_fn(codec, empty.as_ref()).is_none() {
        return Err(DataError::SchemaMismatch {
            column: Some(spec.name.clone()),
            detail: format!(
                "column {:?} is declared {} but the data holds {}; cast the column or fix the schema",
                spec.name,
                spec.kind.name(),
                array.data_type()
            ),
        });
    }
    Ok(())
}

/// Text of row `i` of `array`, for error messages.
fn show(array: &dyn Array, i: usize) -> String {
    let opts = arrow_cast::display::FormatOptions::default();
    match arrow_cast::display::ArrayFormatter::try_new(array, &opts) {
        Ok(f) => f.value(i).to_string(),
        Err(_) => "<unprintable>".into(),
    }
}

/// Encode `array` into `out` (same length). `first_row` is the 1-based data row of
/// `array[0]`. Returns how many values were mapped to "other".
pub(crate) fn encode_array(
    spec: &ColumnSpec,
    codec: &ColumnCodec,
    book: &CodeBook,
    array: &dyn Array,
    first_row: u64,
    out: &mut [u32],
) -> Result<u64> {
    debug_assert_eq!(array.len(), out.len());
    let look = lookup_fn(codec, array).ok_or_else(|| DataError::SchemaMismatch {
        column: Some(spec.name.clone()),
        detail: format!(
            "column {:?} is declared {} but the data holds {}",
            spec.name,
            spec.kind.name(),
            array.data_type()
        ),
    })?;
    let nulls = array.logical_nulls();
    let mut other = 0u64;
    for (i, slot) in out.iter_mut().enumerate() {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            *slot = book.null_code.ok_or_else(|| DataError::UnexpectedNull {
                column: spec.name.clone(),
                row: first_row + i as u64,
            })?;
            continue;
        }
        *slot = match look(i) {
            Lookup::Code(c) => c,
            Lookup::OutOfDomain => match book.other_code {
                Some(o) => {
                    other += 1;
                    o
                }
                None => {
                    return Err(DataError::OutOfDomain {
                        column: spec.name.clone(),
                        row: first_row + i as u64,
                        value: show(array, i),
                        domain: codec.describe(spec),
                    });
                }
            },
            Lookup::Unparsable(expected) => {
                return Err(DataError::Unparsable {
                    column: spec.name.clone(),
                    row: first_row + i as u64,
                    value: show(array, i),
                    expected: expected.to_string(),
                });
            }
        };
    }
    Ok(other)
}
