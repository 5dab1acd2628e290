//! Integration tests: the registrar against moto's Glue and S3 through the real AWS SDK.

mod cli;
mod completion;
mod handle;
mod listing;
mod moto;
mod pass;
mod poison;
mod proxy;
mod reliability;
mod runtime;
mod scale;
mod schema;
mod support;
mod sync;
mod terraform;
