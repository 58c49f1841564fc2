//! The image operations the pipeline is built from, each written once.

pub(crate) mod boxes;
pub(crate) mod extend;
pub(crate) mod feather;
pub(crate) mod pad;
pub(crate) mod resize;
