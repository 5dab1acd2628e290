//! glue-partition-registrar: registers Glue partitions the moment objects land in S3.
//!
//! The pure core (event normalisation, key decoding, key → partition, planning) has no AWS
//! client in it; `catalog` holds the Glue calls; `handler` ties them together for the two
//! front ends, the Lambda (`lambda`) and the CLI (the binary).

pub mod aws;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod decode;
pub mod event;
pub mod handler;
pub mod lambda;
pub mod layout;
pub mod logging;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod storage;
pub mod sync;
pub mod table;
pub mod types;
