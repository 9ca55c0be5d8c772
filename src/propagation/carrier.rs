//! Carriers: the OpenTelemetry [`Injector`]/[`Extractor`] adapters for
//! [`http::HeaderMap`] and for plain name/value pairs.

use opentelemetry::propagation::{Extractor, Injector};

/// Writes propagation fields into an [`http::HeaderMap`], replacing existing values.
///
/// A value that is not a valid header value (never the case for W3C fields we
/// write) is skipped rather than panicking.
#[derive(Debug)]
pub struct HeaderMapInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderMapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The W3C fields are static names (no parsing); the value's buffer is
        // taken over, not copied.
        let name = match key {
            "traceparent" => http::HeaderName::from_static("traceparent"),
            "tracestate" => http::HeaderName::from_static("tracestate"),
            "baggage" => http::HeaderName::from_static("baggage"),
            other => match http::HeaderName::from_bytes(other.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        if let Ok(value) = http::HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

/// What [`HeaderMapExtractor::get_all`] reports for a header line that is not
/// visible ASCII: U+FFFD, which no propagation format accepts.
pub(crate) const NOT_TEXT: &str = "\u{FFFD}";

/// Reads propagation fields from an [`http::HeaderMap`].
///
/// Unlike a `get`-only carrier it reports every value of a repeated header, so
/// that repeated `tracestate` lines are joined and a repeated `traceparent` is
/// recognised as invalid. A value that is not visible ASCII is `None` from
/// `get`, and U+FFFD among the values of `get_all`: it still counts as a
/// line (two `traceparent` lines stay two) and fails every format's validation
/// (a `tracestate` with such a line is dropped whole, as the W3C asks).
#[derive(Debug, Clone, Copy)]
pub struct HeaderMapExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderMapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .map(|v| v.to_str().unwrap_or(NOT_TEXT))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Reads propagation fields from `(name, value)` pairs, names compared
/// case-insensitively, repeated names kept in order.
#[derive(Debug, Clone, Default)]
pub struct PairsExtractor<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> PairsExtractor<'a> {
    /// An extractor over the given pairs.
    pub fn new(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            pairs: pairs.into_iter().collect(),
        }
    }
}

impl Extractor for PairsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    }

    fn keys(&self) -> Vec<&str> {
        self.pairs.iter().map(|(k, _)| *k).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// The only value of header `key`: `Ok(None)` when absent, `Err(())` when the
/// header is repeated (which every format here treats as invalid).
pub(crate) fn one_value<'a>(
    extractor: &'a dyn Extractor,
    key: &str,
) -> Result<Option<&'a str>, ()> {
    match extractor.get_all(key) {
        None => Ok(None),
        Some(values) if values.is_empty() => Ok(None),
        Some(values) if values.len() == 1 => Ok(Some(values[0])),
        Some(_) => Err(()),
    }
}
