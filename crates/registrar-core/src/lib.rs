//! The pure core of glue-partition-registrar: everything that decides, nothing that talks.
//!
//! An event document becomes objects ([`event`]), an object key becomes a partition of a
//! served table or a reason to skip it ([`layout`], [`plan`]), a listing of a table's prefix
//! becomes the partitions it holds ([`walk`]), and where every object ended is written down
//! in one [`report::Report`]. The AWS SDK, the Lambda runtime and the clock of the network live
//! in the `glue-partition-registrar` crate around this one; nothing here performs I/O, so
//! every rule is tested in isolation and `cargo test -p registrar-core` runs in seconds.
//!
//! The contract these types serialise to (event shapes, the report) is documented in the
//! repository's README.

pub mod completion;
pub mod deadline;
pub mod decode;
pub mod event;
pub mod found;
pub mod glue;
pub mod layout;
pub mod listing;
pub mod name;
pub mod pace;
pub mod partition;
pub mod pass;
pub mod plan;
pub mod reason;
pub mod report;
pub mod request;
pub mod schema;
pub mod table;
pub mod time;
pub mod types;
pub mod walk;
pub mod window;

pub use deadline::Deadline;
pub use name::TableName;
