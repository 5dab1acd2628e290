//! The one trait every skip and every I/O outcome shares: a sentence for people and a kind
//! for a metric dimension. It sits at the bottom of the core, below the rules that produce
//! reasons (`glue`, `layout`) and the report that records them, so that no module has to
//! reach upwards to name it.

use std::fmt;

/// A reason an object is not registered: a sentence for people, and a kind from a small
/// fixed set, fit for a metric dimension. Reasons that only I/O can produce (a partition
/// still holds data) live with the code that does the I/O and implement this too.
pub trait Reason: fmt::Display {
    fn kind(&self) -> &'static str;
}
