//! The `openai-compat` inpainting model: an OpenAI-compatible `images/edits` API (OpenAI's
//! gpt-image-1 and dall-e-2, and the servers that copy that API) as a model of
//! [`inpaint_core`]'s pipeline, guarded by a spending budget that cannot be overrun.
//!
//! # Brief overview
//!
//! * [`OpenAiCompat`] implements [`InpaintModel`](inpaint_core::InpaintModel). The pipeline
//!   crops each masked region, [`resize`](inpaint_core::InpaintModel::resize) fits it to one
//!   of the sizes the API model accepts (dall-e-2: squares of 256, 512, 1024; gpt-image-1:
//!   1024×1024, 1536×1024, 1024×1536), `forward` pads it to that size and sends it, and the
//!   pipeline resizes the answer back and pastes it only inside the mask.
//! * [`OpenAiConfig`]: `base_url`, `model`, `quality`, `timeout`, default prompt, price table,
//!   [`BudgetConfig`]. The key comes from [`KEY_ENV`] (`INPAINT_OPENAI_API_KEY`), else
//!   `OPENAI_API_KEY`, or [`OpenAiConfig::with_api_key`]; it is never printed ([`ApiKey`]'s
//!   `Debug` redacts it) and never read from or written to a config file.
//! * [`PriceTable`]: a TOML data file (the built-in one is [`BUILTIN_PRICES`], with the date
//!   its prices were read) of sizes and prices per model and quality, and token prices for
//!   the actual cost of answers that report usage.
//! * [`Ledger`]: a SQLite database (bundled with the crate through `rusqlite`), one row per
//!   request. A request is reserved in one `BEGIN IMMEDIATE` transaction that checks the
//!   session, daily and monthly [`Caps`] — a request whose estimate would cross one is
//!   refused before any byte is sent ([`Error::BudgetExceeded`]) — and returns the stored
//!   result of an identical request within the de-dup window instead of calling. Two
//!   processes sharing a ledger cannot both spend the last of a cap. Pending rows that a
//!   crashed process left behind are reconciled when a ledger is opened.
//!
//! ```no_run
//! use inpaint_core::io::{load_image, load_mask, save_image};
//! use inpaint_core::{inpaint, InpaintOptions, Limits, Request};
//! use inpaint_openai::{BudgetConfig, OpenAiCompat, OpenAiConfig, cap_from_dollars};
//!
//! let mut budget = BudgetConfig::default();
//! budget.caps.day = cap_from_dollars(1.0)?;
//! // The key comes from INPAINT_OPENAI_API_KEY or OPENAI_API_KEY.
//! let mut model = OpenAiCompat::new(OpenAiConfig::new().with_budget(budget))?;
//! let image = load_image("park.jpg", &Limits::default())?;
//! let mask = load_mask("mask.png", &Limits::default())?;
//! let options = InpaintOptions::default().with_request(Request::new().with_prompt("a bench"));
//! let result = inpaint(&mut model, &image, &mask, &options)?;
//! save_image(&result, "out.png")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod client;
mod config;
mod error;
pub mod ledger;
mod model;
mod money;
pub mod prices;

pub use config::{
    ApiKey, BudgetConfig, DEFAULT_API_MODEL, DEFAULT_BASE_URL, DEFAULT_DEDUP_WINDOW,
    DEFAULT_PROMPT, DEFAULT_TIMEOUT, KEY_ENV, OPENAI_KEY_ENV, OpenAiConfig, cap_from_dollars,
    default_ledger_path,
};
pub use error::{CapKind, Error, Result};
pub use ledger::{Caps, Ledger};
pub use model::{MODEL_NAME, OpenAiCompat};
pub use money::Usd;
pub use prices::{BUILTIN_PRICES, PriceTable, Size};
