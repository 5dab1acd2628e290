//! glue-partition-registrar: registers Glue partitions the moment objects land in S3.
//!
//! The decisions live in the `registrar-core` crate (events, keys, layouts, planning, the
//! walk, the report), which has no AWS SDK in it. This crate is the AWS side: the clients
//! (`aws`), the Glue calls (`catalog`), the S3 calls (`storage`), the served tables
//! (`tables`), the one partition writer (`writer`), the event path (`handler`), backfill and
//! sync (`sync`), metrics and logs, and the two front ends: the Lambda (`lambda`) and the CLI
//! (the binary). ARCHITECTURE.md has the map.

pub mod aws;
pub mod cache;
pub mod catalog;
pub mod checkpoint;
pub mod completion;
pub mod config;
#[cfg(feature = "schema-drift")]
pub mod drift;
pub mod handler;
pub mod invocation;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod repair;
pub mod storage;
pub mod sync;
pub mod tables;
pub mod writer;

pub use registrar_core as core;
