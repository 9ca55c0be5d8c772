//! The configuration of [`init_observability`](crate::init_observability): what
//! [`ObservabilityBuilder::config`](crate::ObservabilityBuilder::config) and
//! [`ObservabilityGuard::config`](crate::ObservabilityGuard::config) return
//! ([`EffectiveConfig`]), and the types the builder's setters take.
//!
//! The values come from the OpenTelemetry environment variables, overridden in
//! code by the [`ObservabilityBuilder`](crate::ObservabilityBuilder); a value
//! that cannot be used is reported as a [`ConfigIssue`] and ignored (an error
//! with [`strict`](crate::ObservabilityBuilder::strict)).
//! [`reference::configuration`](crate::reference::configuration) lists every variable.
//!
//! ```
//! use distributed_tracing::config::{OtlpProtocol, SamplerConfig, TracesExporter};
//! use distributed_tracing::ObservabilityBuilder;
//!
//! let config = ObservabilityBuilder::default()
//!     .env_vars([
//!         ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
//!         ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
//!         ("OTEL_TRACES_SAMPLER", "sometimes"),
//!     ])
//!     .config()?;
//! assert_eq!(config.traces_exporter, TracesExporter::Otlp);
//! assert_eq!(config.otlp.protocol, OtlpProtocol::Grpc);
//! assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn); // reported, default used
//! assert_eq!(config.issues[0].variable, "OTEL_TRACES_SAMPLER");
//! # Ok::<(), distributed_tracing::Error>(())
//! ```

// The types are defined beside their resolvers in `init/config/`; this module
// is their one public path.
pub use crate::init::{
    BatchConfig, ConfigIssue, DatadogConfig, Disabled, EffectiveConfig, OtlpCompression,
    OtlpConfig, OtlpProtocol, OtlpTls, SamplerConfig, SpanLimitsConfig, TracesExporter,
};
