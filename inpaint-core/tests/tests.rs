//! Integration tests of `inpaint-core`: one binary, one module per topic.

mod support;

mod errors;
mod io;
mod pipeline;
mod properties;
