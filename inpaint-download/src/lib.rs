//! Verified, resumable downloads of model weights and ONNX Runtime builds.
//!
//! **Not implemented yet: this crate has no API.** It will stream into `<file>.partial` while
//! hashing (sha256), resume with `Range`/`If-Range`, rename only a verified file into place,
//! lock per file across processes, report progress, and honour offline modes and the usual
//! environment conventions through an explicit `from_env()`.
