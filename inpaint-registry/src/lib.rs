//! The catalog of known inpainting models, discovery of model files by content, the models
//! config, and a manager that holds one loaded model.
//!
//! # Brief overview
//!
//! * [`catalog`]: a static table of known models ([`CATALOG`]): id, aliases, architecture,
//!   files pinned to a source (Hugging Face repo + revision, or a URL) with sha256 and size
//!   (or explicitly [`Integrity::Unverified`]), licence, contract, devices. Names resolve
//!   strictly ([`catalog::resolve`]): exact id, then alias, else an error listing the ids
//!   and the closest one. The default model (`patchmatch`) applies only when no name is given.
//!   [`download_plan`] says what to fetch; this crate has no network code.
//! * [`Scanner`]: scans [`ModelRoot`]s in order — this project's cache
//!   (`<root>/<id>/<file>`), a Hugging Face hub cache (read only), folders of loose files —
//!   and identifies each file **by content** ([`probe`]): an ONNX file's graph inputs,
//!   outputs and metadata are read with a bounded protobuf reader that seeks past the
//!   weights, then matched against each architecture's contract; a `.safetensors` file by
//!   its JSON header. Results are cached by (path, size, mtime). A model id found twice is
//!   taken from the first root, and the other is reported as [`Shadowed`]. Nothing is
//!   hashed during a scan; [`Scanner::verify`] checks sha256 on demand.
//! * [`ConfigFile`] / [`ModelsConfig`]: a TOML file of per-model parameters (device, output
//!   range, radius, …), aliases, the default model and the roots. [`ConfigFile::merge`]
//!   adds what a scan found and marks vanished files `missing = true`, keeping every
//!   parameter and comment; [`ConfigFile::save`] backs the old file up and replaces it
//!   atomically. A malformed file is an error with line and column, and is never rewritten.
//! * [`Registry`]: the catalog, the config and a scan as one namespace;
//!   [`Registry::plan`] turns a name into a [`LoadPlan`].
//! * [`ModelManager`]: holds one loaded model (`Box<dyn InpaintModel + Send>`) and switches
//!   with rollback: if the new model fails to load, the old one stays loaded
//!   ([`SwitchPolicy`]).
//!
//! ```no_run
//! use inpaint_registry::{ConfigFile, ModelManager, Registry, Scanner};
//!
//! let mut config = ConfigFile::load("models.toml")?;
//! let mut scanner = Scanner::new();
//! let discovery = scanner.scan(&config.config().roots);
//! config.merge(&discovery)?;
//! config.save()?;
//! let registry = Registry::new(Some(config.config()), Some(&discovery));
//! let mut manager = ModelManager::new();
//! let active = manager.load(registry.plan(Some("lama"))?)?;
//! println!("{} on {}", active.id, active.device);
//! # Ok::<(), inpaint_registry::Error>(())
//! ```
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a library speaks through `tracing` (see inpaint-core's Logs section), never on the terminal"
)]

pub mod catalog;
mod config;
pub mod diffusion;
mod discover;
mod error;
mod fsutil;
mod manager;
mod names;
pub mod probe;
mod registry;
mod triton;

pub use catalog::{
    CATALOG, CatalogEntry, CatalogFile, DEFAULT_HF_ENDPOINT, DEFAULT_MODEL, FileSource, Integrity,
    License, ModelArchitecture, PlannedFile, Revision, SpecSummary, download_plan,
};
pub use config::{
    ConfigFile, MergeReport, ModelParams, ModelsConfig, OpenAiParams, RemoteParams, SaveReport,
};
pub use discover::{
    Discovery, FoundFile, HfLocation, ModelInfo, ModelRoot, RootKind, ScanNote, Scanner, Shadowed,
    Verification,
};
pub use error::{Error, Result};
pub use manager::{ActiveModel, ModelManager, SwitchPolicy};
pub use names::{DefaultSource, Matched};
pub use probe::{Probe, ProbeCache};
pub use registry::{LoadPlan, Registry, Resolution};
pub use triton::{TritonExport, export_triton};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
