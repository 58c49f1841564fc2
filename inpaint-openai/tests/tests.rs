//! Integration tests of `inpaint-openai` against a fake `images/edits` server on 127.0.0.1.
