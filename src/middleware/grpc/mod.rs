//! gRPC (feature `grpc`): [`GrpcServerLayer`] for a tonic `Server` and
//! [`GrpcClientLayer`] for a tonic `Channel`. Both are tower layers over
//! `http::Request`/`http::Response`, so the crate does not depend on tonic.

mod body;
mod call;
mod client;
mod future;
mod server;

pub use self::{
    body::GrpcBody,
    client::{GrpcClientLayer, GrpcClientService},
    future::GrpcFuture,
    server::{GrpcServerLayer, GrpcServerService},
};
