//! `baggage` lines (one per input line) through `W3cBaggagePropagator`: within
//! the limits, over them nothing is kept, and what is kept re-injects to a
//! header (at most 64 members and 8192 bytes of printable ASCII) that reads back
//! to the same entries and re-injects identically.
#![no_main]

use std::collections::HashMap;

use distributed_tracing::opentelemetry::baggage::BaggageExt;
use distributed_tracing::opentelemetry::propagation::TextMapPropagator;
use distributed_tracing::opentelemetry::Context;
use distributed_tracing::propagation::{PairsExtractor, W3cBaggagePropagator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let p = W3cBaggagePropagator::new();
    let carrier = PairsExtractor::new(lines.iter().map(|l| ("baggage", *l)));
    let cx = p.extract_with_context(&Context::new(), &carrier);
    let baggage = cx.baggage();

    // §3.3.2: at most 64 members; over 8192 bytes (all lines) nothing is kept.
    assert!(baggage.len() <= 64);
    let bytes: usize = lines.iter().map(|l| l.len()).sum::<usize>() + lines.len() - 1;
    if bytes > 8192 {
        assert!(baggage.is_empty());
    }

    let mut out: HashMap<String, String> = HashMap::new();
    p.inject_context(&cx, &mut out);
    // Without U+FFFD (3 bytes decoded, 9 encoded) re-encoding is never longer
    // than what was read, so every entry fits again.
    let no_replacement = baggage
        .iter()
        .all(|(_, (v, _))| !v.as_str().contains('\u{fffd}'));
    let Some(header) = out.get("baggage") else {
        assert!(baggage.is_empty() || !no_replacement, "nothing injected");
        return;
    };
    assert!(header.len() <= 8192);
    assert!(
        header.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{header}"
    );
    assert!(header.split(',').count() <= 64);

    let again = p.extract_with_context(&Context::new(), &out);
    let back = again.baggage();
    assert_eq!(back.len(), header.split(',').count(), "read back whole");
    for (key, entry) in back {
        assert_eq!(
            baggage.get_with_metadata(key.as_str()),
            Some(entry),
            "{key}"
        );
    }
    if no_replacement {
        assert_eq!(back.len(), baggage.len());
    }
    let mut out2: HashMap<String, String> = HashMap::new();
    p.inject_context(&again, &mut out2);
    assert_eq!(out2, out, "inject, extract, inject is stable");
});
