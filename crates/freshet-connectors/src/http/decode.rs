//! How a request's records become items: [`HttpDecoder`], with [`Text`] and [`Json`].

use freshet::Data;

/// Turns one record of a request (a line, or an element of a JSON array) into an item. A
/// record that does not decode is a bad record: the error says why.
pub trait HttpDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one record: the bytes of a line (without its `\n` or `\r\n`), or the compact
    /// JSON text of an array element.
    fn decode(&self, record: &[u8]) -> Result<Self::Item, String>;

    /// Decodes an element of a JSON array body. By default its compact JSON text goes to
    /// [`decode`](Self::decode); [`Json`] deserializes the value directly.
    fn decode_value(&self, value: serde_json::Value) -> Result<Self::Item, String> {
        self.decode(value.to_string().as_bytes())
    }
}

/// Records as UTF-8 text (the default): a line as it is, an array element as its compact JSON
/// text (`{"a":1}`, `"a string"` with its quotes). A line that is not UTF-8 is a bad record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Text;

impl HttpDecoder for Text {
    type Item = String;

    fn decode(&self, record: &[u8]) -> Result<String, String> {
        std::str::from_utf8(record)
            .map(str::to_string)
            .map_err(|e| format!("not valid UTF-8 ({e})"))
    }
}

/// Records as JSON documents deserialized into `T`. A record that is not such a document is a
/// bad record.
pub struct Json<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Json<T> {
    /// Records decoded into `T`.
    pub fn new() -> Self {
        Json(std::marker::PhantomData)
    }
}

impl<T> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Json<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Json<{}>", std::any::type_name::<T>())
    }
}

impl<T: Data> HttpDecoder for Json<T> {
    type Item = T;

    fn decode(&self, record: &[u8]) -> Result<T, String> {
        serde_json::from_slice(record).map_err(|e| format!("not a JSON {}: {e}", short_name::<T>()))
    }

    fn decode_value(&self, value: serde_json::Value) -> Result<T, String> {
        serde_json::from_value(value).map_err(|e| format!("not a JSON {}: {e}", short_name::<T>()))
    }
}

/// The last path segment of `T`'s name (`Reading` for `app::Reading`).
fn short_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let base = name.split('<').next().unwrap_or(name);
    base.rsplit("::").next().unwrap_or(base)
}

/// How the body of a request holds its records, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// One record per line: `application/x-ndjson`, `application/jsonl`, `text/plain`, or no
    /// `Content-Type`.
    Lines,
    /// A JSON array, one record per element: `application/json`.
    JsonArray,
}

impl BodyFormat {
    /// The format of a body with this `Content-Type` (parameters such as `charset` ignored),
    /// or `None` for one that is not supported.
    pub(crate) fn of(content_type: Option<&str>) -> Option<BodyFormat> {
        let Some(value) = content_type else {
            return Some(BodyFormat::Lines);
        };
        let media = value.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/json") {
            Some(BodyFormat::JsonArray)
        } else if ["application/x-ndjson", "application/jsonl", "text/plain"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
        {
            Some(BodyFormat::Lines)
        } else {
            None
        }
    }
}

/// A record that did not decode: where it was, why, and its bytes (for a dead-letter file).
#[derive(Debug)]
pub(crate) struct BadRecord {
    pub what: String,
    pub raw: Vec<u8>,
}

/// The records of a body.
#[derive(Debug)]
pub(crate) struct Decoded<T> {
    pub items: Vec<T>,
    pub bad: Vec<BadRecord>,
}

/// Decodes every record of `body`. `Err` when the body as a whole is malformed (a JSON body
/// that is not an array).
pub(crate) fn decode_body<D: HttpDecoder>(
    decoder: &D,
    format: BodyFormat,
    body: &[u8],
) -> Result<Decoded<D::Item>, String> {
    let mut out = Decoded {
        items: Vec::new(),
        bad: Vec::new(),
    };
    match format {
        BodyFormat::Lines => {
            for (i, line) in body.split(|b| *b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                match decoder.decode(line) {
                    Ok(item) => out.items.push(item),
                    Err(why) => out.bad.push(BadRecord {
                        what: format!("line {}: {why}", i + 1),
                        raw: line.to_vec(),
                    }),
                }
            }
        }
        BodyFormat::JsonArray => {
            let values: Vec<serde_json::Value> = serde_json::from_slice(body)
                .map_err(|e| format!("the body is not a JSON array: {e}"))?;
            for (i, value) in values.into_iter().enumerate() {
                let raw = value.to_string().into_bytes();
                match decoder.decode_value(value) {
                    Ok(item) => out.items.push(item),
                    Err(why) => out.bad.push(BadRecord {
                        what: format!("element {i}: {why}"),
                        raw,
                    }),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_choose_the_format() {
        assert_eq!(BodyFormat::of(None), Some(BodyFormat::Lines));
        assert_eq!(
            BodyFormat::of(Some("application/x-ndjson")),
            Some(BodyFormat::Lines)
        );
        assert_eq!(
            BodyFormat::of(Some("text/plain; charset=utf-8")),
            Some(BodyFormat::Lines)
        );
        assert_eq!(
            BodyFormat::of(Some("Application/JSON")),
            Some(BodyFormat::JsonArray)
        );
        assert_eq!(BodyFormat::of(Some("image/png")), None);
    }

    #[test]
    fn lines_and_arrays_decode_record_by_record() {
        let d = decode_body(&Text, BodyFormat::Lines, b"a\r\n\nb\n\xff\nc").unwrap();
        assert_eq!(d.items, vec!["a", "b", "c"]);
        assert_eq!(d.bad.len(), 1);
        assert!(d.bad[0].what.starts_with("line 4: not valid UTF-8"));
        let d = decode_body(&Text, BodyFormat::JsonArray, br#"[{"a": 1}, "x", 2]"#).unwrap();
        assert_eq!(d.items, vec![r#"{"a":1}"#, r#""x""#, "2"]);
        assert!(decode_body(&Text, BodyFormat::JsonArray, b"{}").is_err());
        let d = decode_body(&Json::<u32>::new(), BodyFormat::JsonArray, b"[1, -1]").unwrap();
        assert_eq!(d.items, vec![1]);
        assert!(
            d.bad[0].what.contains("element 1: not a JSON u32"),
            "{:?}",
            d.bad
        );
    }
}
