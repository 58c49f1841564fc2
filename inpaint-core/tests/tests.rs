//! Integration tests of `inpaint-core`: one binary, one module per topic.

mod pipeline;
