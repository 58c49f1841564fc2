//! The catalog of known inpainting models, discovery of models on disk, and the models config.
//!
//! **Not implemented yet: this crate has no API.** It will hold a static, checksummed table of
//! known models (id, aliases, architecture, pinned files with sha256 and size, licence, devices),
//! strict name resolution (an unknown name is an error listing the known ones, never a fallback),
//! discovery of model files by content in stated model roots (including a Hugging Face hub
//! cache), and a TOML models config that is backed up before it is rewritten.
//!
//! Until then, the classical models are chosen by name with
//! `inpaint_models::classical::by_name`.
