//! The four instruments the middleware records: their names, units,
//! descriptions and buckets, as the semantic conventions (v1.44.0) give them.

// Recording is the layers' (features `http-server`, `reqwest`); a build
// without them has the store, its collection and export only.
#![cfg_attr(
    not(any(feature = "http-server", feature = "reqwest")),
    allow(dead_code)
)]

/// The bucket boundaries of every duration histogram, in seconds: the
/// `ExplicitBucketBoundaries` advice of the semantic conventions (v1.44.0)
/// for `http.server.request.duration`, `http.client.request.duration`,
/// `rpc.server.call.duration` and `rpc.client.call.duration`.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The buckets of a histogram: one more than its boundaries (the last one
/// holds what is above the last boundary).
pub(crate) const BUCKETS: usize = DURATION_BUCKETS.len() + 1;

/// One of the duration histograms the middleware records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Instrument {
    /// `http.server.request.duration` ([`ServerTraceLayer`](crate::middleware::ServerTraceLayer)).
    HttpServer,
    /// `http.client.request.duration` (`ClientTraceMiddleware`).
    HttpClient,
    /// `rpc.server.call.duration` (`GrpcServerLayer`).
    RpcServer,
    /// `rpc.client.call.duration` (`GrpcClientLayer`).
    RpcClient,
}

impl Instrument {
    /// Every instrument, in the order they are exported.
    pub const ALL: [Instrument; 4] = [
        Self::HttpServer,
        Self::HttpClient,
        Self::RpcServer,
        Self::RpcClient,
    ];

    /// The metric's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::HttpServer => "http.server.request.duration",
            Self::HttpClient => "http.client.request.duration",
            Self::RpcServer => "rpc.server.call.duration",
            Self::RpcClient => "rpc.client.call.duration",
        }
    }

    /// The metric's description (the conventions' brief).
    pub const fn description(self) -> &'static str {
        match self {
            Self::HttpServer => "Duration of HTTP server requests.",
            Self::HttpClient => "Duration of HTTP client requests.",
            Self::RpcServer => "Measures the duration of an incoming Remote Procedure Call (RPC).",
            Self::RpcClient => "Measures the duration of an outgoing Remote Procedure Call (RPC).",
        }
    }

    /// The unit: seconds (`s`), as UCUM and the conventions write it.
    pub const fn unit(self) -> &'static str {
        "s"
    }

    /// The explicit bucket boundaries ([`DURATION_BUCKETS`]).
    pub const fn bounds(self) -> &'static [f64] {
        &DURATION_BUCKETS
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::HttpServer => 0,
            Self::HttpClient => 1,
            Self::RpcServer => 2,
            Self::RpcClient => 3,
        }
    }
}

/// The bucket of `value`: the first whose upper boundary (inclusive, as
/// OTLP's explicit buckets are) is not below it; the last for larger values.
pub(crate) fn bucket_of(value: f64) -> usize {
    // 14 boundaries: a linear scan is as fast as a binary search, and most
    // requests fall in the first buckets.
    DURATION_BUCKETS
        .iter()
        .position(|&bound| value <= bound)
        .unwrap_or(DURATION_BUCKETS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_upper_inclusive() {
        // (value, bucket, why)
        let cases = [
            (0.0, 0, "zero"),
            (0.005, 0, "on the first boundary"),
            (0.0050001, 1, "just above it"),
            (0.3, 7, "between 0.25 and 0.5"),
            (10.0, 13, "on the last boundary"),
            (10.5, 14, "above the last boundary"),
            (f64::INFINITY, 14, "infinity"),
        ];
        for (value, bucket, why) in cases {
            assert_eq!(bucket_of(value), bucket, "{why}");
        }
        assert_eq!(BUCKETS, 15);
        let names: Vec<&str> = Instrument::ALL.iter().map(|i| i.name()).collect();
        assert_eq!(names.len(), 4);
        for (i, instrument) in Instrument::ALL.iter().enumerate() {
            assert_eq!(instrument.index(), i);
        }
    }
}
