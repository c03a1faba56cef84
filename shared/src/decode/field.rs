//! A JSON field that never fails to deserialise: it remembers whether the value was absent,
//! null, of the expected type, or of another type, so decoding can explain every problem at
//! once instead of stopping at the first.

use crate::record::Text;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
    /// The value had another type (or was out of range); the text says what was found.
    Wrong(&'static str),
}

impl<T> Field<T> {
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Field::Absent | Field::Null)
    }
}

/// The JSON types a field accepts, and how each converts. `'de` is the payload's lifetime:
/// text read as-is is borrowed from it.
pub(crate) trait FieldType<'de>: Sized {
    const EXPECTED: &'static str;
    fn from_str(_: &str) -> Result<Self, &'static str> {
        Err("a string")
    }
    fn from_borrowed_str(v: &'de str) -> Result<Self, &'static str> {
        Self::from_str(v)
    }
    fn from_i64(_: i64) -> Result<Self, &'static str> {
        Err("a number")
    }
    fn from_u64(v: u64) -> Result<Self, &'static str> {
        match i64::try_from(v) {
            Ok(v) => Self::from_i64(v),
            Err(_) => Err("an integer out of range"),
        }
    }
    fn from_f64(_: f64) -> Result<Self, &'static str> {
        Err("a number")
    }
    fn from_bool(_: bool) -> Result<Self, &'static str> {
        Err("a boolean")
    }
}

impl<'de: 'a, 'a> FieldType<'de> for Text<'a> {
    const EXPECTED: &'static str = "a string";
    fn from_str(v: &str) -> Result<Self, &'static str> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn from_borrowed_str(v: &'de str) -> Result<Self, &'static str> {
        Ok(Cow::Borrowed(v))
    }
}

impl FieldType<'_> for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_i64(v: i64) -> Result<Self, &'static str> {
        Ok(v)
    }
    fn from_f64(v: f64) -> Result<Self, &'static str> {
        // 2.0 is an integer written by a float-happy producer; 2.5 and 1e300 are not.
        if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.0e15 {
            Ok(v as i64)
        } else {
            Err("a non-integer or out-of-range number")
        }
    }
}

impl FieldType<'_> for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_i64(v: i64) -> Result<Self, &'static str> {
        Ok(v as f64)
    }
    fn from_u64(v: u64) -> Result<Self, &'static str> {
        Ok(v as f64)
    }
    fn from_f64(v: f64) -> Result<Self, &'static str> {
        Ok(v)
    }
}

impl FieldType<'_> for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_bool(v: bool) -> Result<Self, &'static str> {
        Ok(v)
    }
}

impl FieldType<'_> for crate::record::ProductPrice {
    const EXPECTED: &'static str = "a number or a price string";
    fn from_str(v: &str) -> Result<Self, &'static str> {
        Ok(crate::record::ProductPrice::Text(v.to_owned()))
    }
    fn from_i64(v: i64) -> Result<Self, &'static str> {
        Ok(crate::record::ProductPrice::Amount(v as f64))
    }
    fn from_u64(v: u64) -> Result<Self, &'static str> {
        Ok(crate::record::ProductPrice::Amount(v as f64))
    }
    fn from_f64(v: f64) -> Result<Self, &'static str> {
        Ok(crate::record::ProductPrice::Amount(v))
    }
}

fn settle<T>(converted: Result<T, &'static str>) -> Field<T> {
    match converted {
        Ok(v) => Field::Value(v),
        Err(found) => Field::Wrong(found),
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: FieldType<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<T>, E> {
        Ok(settle(T::from_str(v)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<T>, E> {
        Ok(settle(T::from_borrowed_str(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<T>, E> {
        Ok(settle(T::from_i64(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<T>, E> {
        Ok(settle(T::from_u64(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<T>, E> {
        Ok(settle(T::from_f64(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field<T>, E> {
        Ok(settle(T::from_bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Wrong("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Wrong("an array"))
    }
}

impl<'de, T: FieldType<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}
