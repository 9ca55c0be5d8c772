//! The instrumentation scopes of an exporter's items: each encoded once, by
//! the first item of that scope, and named by its index from then on; the
//! last item's scope remembered, since most items have the scope of the item
//! before them.

use std::collections::HashMap;
use std::hash::Hash;

use opentelemetry::InstrumentationScope;

/// Each scope's encoding (`E`: what a request writes for it), indexed. The
/// key is the encoding itself: a scope with a NaN attribute is not `==` to
/// itself, but its encoding is.
#[derive(Debug)]
pub(crate) struct Scopes<E, K = InstrumentationScope> {
    encoded: Vec<E>,
    index: HashMap<E, u32>,
    /// The last item's scope (`K`: what tells scopes apart), and its index.
    last: Option<(K, u32)>,
}

impl<E, K> Default for Scopes<E, K> {
    fn default() -> Self {
        Self {
            encoded: Vec::new(),
            index: HashMap::new(),
            last: None,
        }
    }
}

impl<E: Hash + Eq + Clone, K> Scopes<E, K> {
    /// The index of an item's scope: the last one's when `same` says so,
    /// else `scope()`'s (its key and encoding), which is added when new.
    pub(crate) fn index_of(
        &mut self,
        same: impl FnOnce(&K) -> bool,
        scope: impl FnOnce() -> (K, E),
    ) -> u32 {
        if let Some((_, index)) = self.last.as_ref().filter(|(key, _)| same(key)) {
            return *index;
        }
        let (key, encoded) = scope();
        let next = self.encoded.len() as u32;
        let index = *self.index.entry(encoded.clone()).or_insert(next);
        if index == next {
            self.encoded.push(encoded);
        }
        self.last = Some((key, index));
        index
    }

    /// The encoding of scope `index`.
    pub(crate) fn get(&self, index: u32) -> &E {
        &self.encoded[index as usize]
    }

    /// How many scopes were seen.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.encoded.len()
    }
}

/// Whether two scopes are equal, answered at once for the common case: the
/// SDK copies a tracer's scope into each of its spans, so their texts are the
/// same memory (a `&'static str`, mostly) and they have no attributes.
pub(crate) fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    fn same_text(x: Option<&str>, y: Option<&str>) -> bool {
        match (x, y) {
            (Some(x), Some(y)) => std::ptr::eq(x, y),
            (None, None) => true,
            _ => false,
        }
    }
    let shared = same_text(Some(a.name()), Some(b.name()))
        && same_text(a.version(), b.version())
        && same_text(a.schema_url(), b.schema_url())
        && a.attributes().next().is_none()
        && b.attributes().next().is_none();
    shared || a == b
}
