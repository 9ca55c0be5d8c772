//! The OpenMetrics reader of the tests (`tests/common/openmetrics.rs`) on
//! real scrapes of the collector's `prometheus` exporter, and a table of what
//! it refuses, one case a line, each with the error and its reason.

#[path = "common/openmetrics.rs"]
mod openmetrics;

use openmetrics::{parse, Labels};

/// What the collector (`target/e2e-tools/otelcol` v0.165.0 running
/// `otel-collector.yaml`) served on its Prometheus endpoint, asked with
/// `Accept: application/openmetrics-text; version=1.0.0`, after one OTLP/HTTP
/// JSON post of two series of `http.server.request.duration` with exemplars
/// (a route with a quote, a backslash and a newline in it).
const COLLECTOR_SCRAPE: &str = r##"# HELP http_server_request_duration_seconds Duration of HTTP server requests.
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",le="0.001"} 0
http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",le="0.005"} 0
http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",le="0.01"} 0
http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",le="+Inf"} 1 # {trace_id="11111111111111111111111111111111",span_id="2222222222222222"} 2.5 1.7966048588935819e+09
http_server_request_duration_seconds_sum{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0"} 2.5
http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="500",http_route="/we\"ird\\path\nx",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0"} 1
http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http",le="0.001"} 0
http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http",le="0.005"} 2 # {trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"} 0.004 1.7966048588935819e+09
http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http",le="0.01"} 3 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 0.0073 1.7966048588935819e+09
http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http",le="+Inf"} 3
http_server_request_duration_seconds_sum{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http"} 0.0123
http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/checkout",job="frontend",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",url_scheme="http"} 3
# EOF
"##;

/// One family of the scrape in `tests/e2e_jaeger.rs` (the request metrics
/// test): `rpc.server.call.duration` of the gRPC chain's two servers, as the
/// crate exported it over OTLP/gRPC to the same collector (the conventions'
/// buckets, written `1.0`, `5.0`, `10.0`; the exemplar's labels in either
/// order).
const CHAIN_SCRAPE: &str = r##"# HELP rpc_server_call_duration_seconds Measures the duration of an incoming Remote Procedure Call (RPC).
# TYPE rpc_server_call_duration_seconds histogram
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.005"} 1 # {span_id="248c8229dcf4f973",trace_id="db1eb5fb2d1f90d99c6d8bc2032b6a80"} 0.003231134 1.796606570413637e+09
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.01"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.025"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.05"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.075"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.1"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.25"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.5"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.75"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="1.0"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="2.5"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="5.0"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="7.5"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="10.0"} 1
rpc_server_call_duration_seconds_bucket{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc",le="+Inf"} 1
rpc_server_call_duration_seconds_sum{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc"} 0.003231134
rpc_server_call_duration_seconds_count{job="inventory",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Inventory/Check",rpc_response_status_code="OK",rpc_system_name="grpc"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.005"} 1 # {trace_id="db1eb5fb2d1f90d99c6d8bc2032b6a80",span_id="1c54bf1bdf1bed73"} 0.000968088 1.796606570412862e+09
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.01"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.025"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.05"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.075"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.1"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.25"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.5"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="0.75"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="1.0"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="2.5"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="5.0"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="7.5"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="10.0"} 1
rpc_server_call_duration_seconds_bucket{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc",le="+Inf"} 1
rpc_server_call_duration_seconds_sum{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc"} 0.000968088
rpc_server_call_duration_seconds_count{job="pricing",otel_scope_name="distributed-tracing",otel_scope_schema_url="",otel_scope_version="0.1.0",rpc_method="demo.Pricing/Quote",rpc_response_status_code="OK",rpc_system_name="grpc"} 1
# EOF
"##;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_real_scrape_of_the_collector_reads_back_as_it_was_sent() {
    let scrape = parse(COLLECTOR_SCRAPE).unwrap();
    assert_eq!(
        scrape.families.keys().collect::<Vec<_>>(),
        ["http_server_request_duration_seconds"]
    );
    let family = &scrape.families["http_server_request_duration_seconds"];
    assert_eq!(family.kind, "histogram");
    assert_eq!(
        family.help.as_deref(),
        Some("Duration of HTTP server requests.")
    );
    assert_eq!(family.samples, 12);
    let series = scrape.histograms("http_server_request_duration_seconds");
    assert_eq!(series.len(), 2);
    let scope = [
        ("job", "frontend"),
        ("otel_scope_name", "distributed-tracing"),
        ("otel_scope_schema_url", ""),
        ("otel_scope_version", "0.1.0"),
    ];
    let get = [
        ("http_request_method", "GET"),
        ("http_response_status_code", "200"),
        ("http_route", "/checkout"),
        ("url_scheme", "http"),
    ];
    let get = &series[&labels(&[&get[..], &scope[..]].concat())];
    assert_eq!((get.count, get.sum), (3, 0.0123));
    assert_eq!(
        get.buckets,
        [(0.001, 0), (0.005, 2), (0.01, 3), (f64::INFINITY, 3)]
    );
    let ids: Vec<(Option<&str>, Option<&str>, f64, f64)> = get
        .exemplars
        .iter()
        .map(|e| (e.trace_id(), e.span_id(), e.value, e.le))
        .collect();
    assert_eq!(
        ids,
        [
            (
                Some("0af7651916cd43dd8448eb211c80319c"),
                Some("b7ad6b7169203331"),
                0.004,
                0.005
            ),
            (
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                Some("00f067aa0ba902b7"),
                0.0073,
                0.01
            ),
        ]
    );
    assert_eq!(get.exemplars[0].timestamp, Some(1.7966048588935819e9));

    let post = [
        ("http_request_method", "POST"),
        ("http_response_status_code", "500"),
        ("http_route", "/we\"ird\\path\nx"),
    ];
    let post = &series[&labels(&[&post[..], &scope[..]].concat())];
    assert_eq!((post.count, post.sum), (1, 2.5));
    assert_eq!(post.exemplars.len(), 1);
    assert_eq!(post.exemplars[0].le, f64::INFINITY);
    assert_eq!(scrape.exemplars().len(), 3);
}

#[test]
fn a_real_scrape_of_the_crates_request_metrics_reads() {
    let scrape = parse(CHAIN_SCRAPE).unwrap();
    let series = scrape.histograms("rpc_server_call_duration_seconds");
    let scope = [
        ("otel_scope_name", "distributed-tracing"),
        ("otel_scope_schema_url", ""),
        ("otel_scope_version", "0.1.0"),
        ("rpc_response_status_code", "OK"),
        ("rpc_system_name", "grpc"),
    ];
    #[rustfmt::skip]
    let bounds = [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, f64::INFINITY,
    ];
    for (job, method, trace, span, value) in [
        (
            "inventory",
            "demo.Inventory/Check",
            "db1eb5fb2d1f90d99c6d8bc2032b6a80",
            "248c8229dcf4f973",
            0.003231134,
        ),
        (
            "pricing",
            "demo.Pricing/Quote",
            "db1eb5fb2d1f90d99c6d8bc2032b6a80",
            "1c54bf1bdf1bed73",
            0.000968088,
        ),
    ] {
        let key = labels(&[&[("job", job), ("rpc_method", method)][..], &scope[..]].concat());
        let histogram = &series[&key];
        assert_eq!((histogram.count, histogram.sum), (1, value));
        let les: Vec<f64> = histogram.buckets.iter().map(|b| b.0).collect();
        assert_eq!(les, bounds);
        assert!(histogram.buckets.iter().all(|b| b.1 == 1));
        let exemplar = &histogram.exemplars[..];
        assert_eq!(exemplar.len(), 1, "{job}");
        assert_eq!(
            (
                exemplar[0].trace_id(),
                exemplar[0].span_id(),
                exemplar[0].value
            ),
            (Some(trace), Some(span), value)
        );
        assert_eq!(exemplar[0].le, 0.005);
    }
    assert_eq!(series.len(), 2);
}

#[test]
fn an_empty_scrape_and_other_families_read() {
    assert_eq!(parse("# EOF\n").unwrap().families.len(), 0);
    let scrape = parse(concat!(
        "# HELP target Target metadata\n",
        "# TYPE target info\n",
        "target_info{job=\"a\",instance=\"b\"} 1\n",
        "# TYPE requests counter\n",
        "# UNIT requests \n",
        "requests_total 3 # {trace_id=\"ab\",span_id=\"cd\"} 1 1.5\n",
        "requests_created 1.7e9\n",
        "untyped -Inf\n",
        "# EOF\n",
    ))
    .unwrap();
    let kinds: Vec<(&str, &str, usize)> = scrape
        .families
        .iter()
        .map(|(n, f)| (n.as_str(), f.kind.as_str(), f.samples))
        .collect();
    assert_eq!(
        kinds,
        [
            ("requests", "counter", 2),
            ("target", "info", 1),
            ("untyped", "unknown", 1)
        ]
    );
    assert!(scrape.histograms("requests").is_empty());
}

/// A whole histogram series (no labels) with `line` before its `+Inf` bucket.
fn with(line: &str) -> String {
    format!("# TYPE h histogram\n{line}\nh_bucket{{le=\"+Inf\"}} 2\nh_count 2\nh_sum 1.5\n# EOF\n")
}

#[test]
fn what_the_format_does_not_allow_is_refused_with_its_reason() {
    let good = with("h_bucket{le=\"1\"} 1 # {trace_id=\"ab\"} 0.5");
    let series = parse(&good).unwrap().histograms("h");
    assert_eq!(series[&Labels::new()].exemplars.len(), 1);

    #[rustfmt::skip]
    let cases: &[(String, &str, &str)] = &[
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\nh_count 0\nh_sum 0\n".into(), "the exposition does not end with `# EOF`", "no `# EOF` at the end"),
        ("# EOF\nx 1\n# EOF\n".into(), "a comment that is not HELP, TYPE or UNIT", "`# EOF` before the end"),
        (with(""), "an empty line", "an empty line"),
        (with("# a comment"), "unknown metadata a", "a comment that is not metadata"),
        (with("h_bucket{le=\"1\"} 3"), "bucket counts are cumulative: 2 after 3", "a bucket above the next (cumulative counts)"),
        (with("h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1"), "le 1 after le 2", "le not increasing"),
        (with("h_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1"), "le 1 after le 1", "le twice"),
        (with("h_bucket 1"), "a bucket without `le`", "a bucket without le"),
        (with("h_bucket{le=\"one\"} 1"), "le: not a number", "le not a number"),
        (with("h_bucket{le=\"inf\"} 1"), "le: not a number", "le spelt as Rust, not OpenMetrics"),
        (with("h_bucket{le=\"1\"} 1.0"), "not a count", "a count that is not an integer"),
        (with("h_bucket{le=\"1\"} -1"), "not a count", "a negative count"),
        (with("h_bucket{le=\"1\"} 1 # {trace_id=\"ab\"} 1.5"), "exemplar value 1.5 outside its bucket (-inf, 1]", "an exemplar above its bucket"),
        (with("h_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1 # {trace_id=\"ab\"} 0.5"), "exemplar value 0.5 outside its bucket (1, 2]", "an exemplar below its bucket"),
        (with("h_bucket{le=\"1\"} 1 # {trace_id=\"ab\"}"), "no space before the exemplar's value", "an exemplar without a value"),
        (with("h_bucket{le=\"1\"} 1 # trace_id=\"ab\" 0.5"), "an exemplar without a label set", "an exemplar without braces"),
        (with("h_bucket{le=\"1\"} 1 # {trace_id=\"ab\"} 0.5 1 2"), "more than a value and a timestamp in the exemplar", "an exemplar with too many fields"),
        (with(&format!("h_bucket{{le=\"1\"}} 1 # {{trace_id=\"{}\"}} 0.5", "a".repeat(121))), "exemplar labels of 129 characters (128 at most)", "exemplar labels over 128 characters"),
        (with("h_bucket{le=\"1\",le=\"1\"} 1"), "label le twice", "a label twice"),
        (with("h_bucket{le=\"1\",} 1"), "a `,` before `}`", "a comma before the closing brace"),
        (with("h_bucket{le=\"1\" a=\"b\"} 1"), "labels not separated by `,`", "labels not separated by a comma"),
        (with("h_bucket{1a=\"b\",le=\"1\"} 1"), "the label name \"1a\"", "a label name starting with a digit"),
        (with("h_bucket{a=\"\\t\",le=\"1\"} 1"), "the escape \\t", "an escape other than \\\\, \\n, \\\" in a label value"),
        (with("h_bucket{a=\"b,le=\"1\"} 1"), "labels not separated by `,`", "a quote left unescaped in a label value"),
        (with("h_bucket{a=\"b\",le=\"1\"}"), "no space before the value", "a sample without a value"),
        (with("h_bucket{le=\"1\"}  1"), "not a number", "two spaces before the value"),
        (with("h_bucket{le=\"1\"} 1 2 3"), "more than a value and a timestamp", "more than a value and a timestamp"),
        (with("h_count{le=\"1\"} 1"), "`le` on a sample that is not a bucket", "le on a count"),
        (with("h_sum 1 # {trace_id=\"ab\"} 1"), "an exemplar on a sample that cannot have one", "an exemplar on a sum"),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n# EOF\n".into(), "histogram h{}: its last bucket is not +Inf", "no +Inf bucket"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n# EOF\n".into(), "histogram h{}: count 2, but the +Inf bucket has 1", "a count other than the +Inf bucket's"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n# EOF\n".into(), "histogram h{} has no count", "no count"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n".into(), "histogram h{} has no sum", "no sum"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_count 1\nh_sum 1\n# EOF\n".into(), "a second count", "a count twice"),
        ("# TYPE h histogram\nh_count 1\nh_sum 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n".into(), "a bucket after the series' count or sum", "a bucket after the count"),
        ("# TYPE h histogram\nh_count 1\nh_sum 1\n# EOF\n".into(), "histogram h{} has no bucket", "a series without buckets"),
        ("# TYPE h histogram\n# TYPE g gauge\ng 1\n# TYPE h histogram\n# EOF\n".into(), "family h again, after other families", "a family again after another"),
        ("x 1\ny 1\nx 2\n# EOF\n".into(), "family x again, after other families", "an untyped family again after another"),
        ("# TYPE g gauge\ng 1\n# HELP g late\n# EOF\n".into(), "metadata of g after its samples", "metadata after the samples"),
        ("# TYPE g gauges\ng 1\n# EOF\n".into(), "unknown type \"gauges\"", "an unknown type"),
        ("# HELP g a\n# HELP g b\ng 1\n# EOF\n".into(), "a second HELP", "HELP twice"),
        ("# HELP g a \\t\ng 1\n# EOF\n".into(), "the escape \\t", "an unknown escape in HELP"),
        ("# UNIT g_bytes seconds\ng_bytes 1\n# EOF\n".into(), "the name does not end with its unit seconds", "a name that does not end with its unit"),
        ("# TYPE g gauge\ng 1 # {trace_id=\"ab\"} 1\n# EOF\n".into(), "an exemplar on a sample that cannot have one", "an exemplar on a gauge"),
        ("# TYPE g gauge\ng 0x1\n# EOF\n".into(), "not a number", "a value in hexadecimal"),
        ("# TYPE g gauge\ng infinity\n# EOF\n".into(), "not a number", "infinity spelt as Rust"),
        ("# TYPE g gauge\ng 1 now\n# EOF\n".into(), "timestamp: not a number", "a timestamp that is not a number"),
        ("# TYPE g gauge\n1g 1\n# EOF\n".into(), "the metric name \"1g\"", "a metric name starting with a digit"),
        ("# TYPE g-h gauge\n# EOF\n".into(), "the metric name \"g-h\"", "a metric name with a dash"),
    ];
    for (text, error, reason) in cases {
        match parse(text) {
            Ok(_) => panic!("{reason}: accepted {text:?}"),
            Err(e) => assert!(e.contains(error), "{reason}: {e} (expected {error:?})"),
        }
    }
}
