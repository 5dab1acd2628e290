//! Integration tests: the registrar against moto's Glue and S3 through the real AWS SDK.

mod cli;
mod faults;
mod handle;
mod moto;
mod reliability;
mod runtime;
mod schema;
mod support;
mod sync;
mod terraform;
