//! The `openai-compat` model's flags, shared by the `inpaint` example (which flattens
//! [`OpenAiFlags`] into its command line) and `models budget` ([`BudgetFlags`]), and their
//! meaning: an [`OpenAiConfig`] over the `[models.openai-compat]` section of a models config.
#![allow(dead_code, reason = "shared by two examples, each using part of it")]

use std::path::PathBuf;
use std::time::Duration;

use inpaint_openai::{BudgetConfig, Caps, OpenAiConfig, Usd, cap_from_dollars};
use inpaint_registry::{ConfigFile, RemoteParams};

/// The flags as given; `None` = not given.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct OpenAiFlags {
    /// openai-compat: the API root (default https://api.openai.com/v1; http:// only for a
    /// local server). The key comes from INPAINT_OPENAI_API_KEY, else OPENAI_API_KEY.
    #[arg(long, value_name = "URL")]
    openai_base_url: Option<String>,
    /// openai-compat: the API's model (default gpt-image-1; must be in the price table).
    #[arg(long, value_name = "NAME")]
    openai_model: Option<String>,
    /// openai-compat: the `quality` sent (e.g. low, medium, high); without it the server
    /// picks and the estimate assumes the dearest.
    #[arg(long, value_name = "Q")]
    openai_quality: Option<String>,
    /// openai-compat: a price table file to use instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    openai_prices: Option<PathBuf>,
    #[command(flatten)]
    budget: BudgetFlags,
}

/// The budget's flags, and the models config they override.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct BudgetFlags {
    /// openai-compat: the most this run may spend, in US dollars (0 = unlimited; default 1).
    #[arg(long, value_name = "USD")]
    budget_session: Option<f64>,
    /// openai-compat: the most to spend per UTC day, across processes (0 = unlimited;
    /// default 5).
    #[arg(long, value_name = "USD")]
    budget_day: Option<f64>,
    /// openai-compat: the most to spend per UTC month, across processes (0 = unlimited;
    /// default 20).
    #[arg(long, value_name = "USD")]
    budget_month: Option<f64>,
    /// openai-compat: the spending ledger (SQLite; default
    /// ~/.local/share/inpaint/openai-ledger.sqlite3).
    #[arg(long, value_name = "PATH")]
    budget_db: Option<PathBuf>,
    /// A models config whose [models.openai-compat] section sets the above (flags win).
    #[arg(long, value_name = "FILE")]
    models_config: Option<PathBuf>,
}

impl OpenAiFlags {
    /// Whether any flag was given (they apply to `openai-compat` only).
    pub(crate) fn any(&self) -> bool {
        self.openai_base_url.is_some()
            || self.openai_model.is_some()
            || self.openai_quality.is_some()
            || self.openai_prices.is_some()
            || self.budget.budget_session.is_some()
            || self.budget.budget_day.is_some()
            || self.budget.budget_month.is_some()
            || self.budget.budget_db.is_some()
            || self.budget.models_config.is_some()
    }

    /// The model's configuration: the defaults, then the models config, then the flags.
    /// The key comes from the environment (`INPAINT_OPENAI_API_KEY`, `OPENAI_API_KEY`).
    pub(crate) fn config(&self) -> Result<OpenAiConfig, String> {
        let params = self.budget.params()?;
        let caps = self.budget.caps(&params)?;
        let mut config = OpenAiConfig::new();
        if let Some(url) = self.openai_base_url.clone().or(params.base_url) {
            config = config.with_base_url(url);
        }
        if let Some(model) = self.openai_model.clone().or(params.model) {
            config = config.with_model(model);
        }
        config = config
            .with_quality(self.openai_quality.clone().or(params.quality))
            .with_prices(self.openai_prices.clone().or(params.prices));
        if let Some(secs) = params.timeout_secs {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(format!("timeout_secs must be above 0, not {secs}"));
            }
            config = config.with_timeout(Duration::from_secs_f64(secs));
        }
        if let Some(prompt) = params.prompt {
            config = config.with_default_prompt(prompt);
        }
        let mut budget = BudgetConfig::default();
        budget.caps = caps;
        budget.ledger = self.budget.budget_db.clone().or(params.budget_db);
        if let Some(secs) = params.dedup_window_secs {
            budget.dedup_window = Duration::from_secs(secs);
        }
        if let Some(secs) = params.min_interval_secs {
            budget.min_interval = Duration::from_secs(secs);
        }
        Ok(config.with_budget(budget))
    }
}

impl BudgetFlags {
    /// The `[models.openai-compat]` section of `--models-config`, if any.
    fn params(&self) -> Result<RemoteParams, String> {
        let Some(path) = &self.models_config else {
            return Ok(RemoteParams::default());
        };
        let file = ConfigFile::load(path).map_err(|e| e.full_message())?;
        Ok(file
            .config()
            .models
            .get("openai-compat")
            .and_then(|m| m.remote.clone())
            .unwrap_or_default())
    }

    /// The caps: defaults, then the models config, then the flags (0 = unlimited).
    pub(crate) fn caps(&self, params: &RemoteParams) -> Result<Caps, String> {
        let mut caps = Caps::DEFAULT;
        let set = |cap: &mut Option<Usd>, given: Option<f64>| -> Result<(), String> {
            if let Some(dollars) = given {
                *cap = cap_from_dollars(dollars).map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        set(
            &mut caps.session,
            self.budget_session.or(params.budget_session),
        )?;
        set(&mut caps.day, self.budget_day.or(params.budget_day))?;
        set(&mut caps.month, self.budget_month.or(params.budget_month))?;
        Ok(caps)
    }

    /// [`caps`](Self::caps) and the ledger's path, for `models budget`.
    pub(crate) fn budget_view(&self) -> Result<(Caps, Option<PathBuf>), String> {
        let params = self.params()?;
        Ok((
            self.caps(&params)?,
            self.budget_db
                .clone()
                .or(params.budget_db)
                .or_else(inpaint_openai::default_ledger_path),
        ))
    }
}

/// `$1.00`, or `unlimited`.
pub(crate) fn cap_text(cap: Option<Usd>) -> String {
    cap.map_or_else(|| "unlimited".to_string(), |c| c.to_string())
}
