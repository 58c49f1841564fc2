//! Integration tests of `inpaint-models`: one binary, one module per topic.

mod classical;
