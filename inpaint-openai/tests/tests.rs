//! Integration tests of `inpaint-openai`, against a fake `images/edits` server on 127.0.0.1
//! (`fake.rs`); nothing here can reach the internet.

mod budget;
mod edits;
mod fake;
