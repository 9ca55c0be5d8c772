//! Carriers for message headers: [`PairsInjector`] writes the propagation
//! fields into name/value pairs (the headers of any client that takes
//! pairs); [`PairsExtractor`](crate::propagation::PairsExtractor) reads them.

use opentelemetry::propagation::Injector;

/// Writes propagation fields into `(name, value)` pairs, replacing a pair of
/// the same name (case-insensitively) so that a message re-sent with its
/// headers never carries two contexts.
///
/// ```
/// use distributed_tracing::messaging::PairsInjector;
/// use opentelemetry::propagation::Injector as _;
///
/// let mut headers = vec![("TraceParent".to_string(), "00-old".to_string())];
/// PairsInjector(&mut headers).set("traceparent", "00-new".into());
/// assert_eq!(headers, [("traceparent".to_string(), "00-new".to_string())]);
/// ```
#[derive(Debug)]
pub struct PairsInjector<'a>(pub &'a mut Vec<(String, String)>);

impl Injector for PairsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.0.push((key.to_owned(), value));
    }
}
