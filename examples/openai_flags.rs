//! The `openai-compat` model's flags, shared by the `inpaint` and `models` examples: parsed
//! here, apart from the examples' own flags, and turned into an [`OpenAiConfig`] over the
//! `[models.openai-compat]` section of a models config.
//!
//! ```text
//! --openai-base-url URL  --openai-model NAME  --openai-quality Q  --openai-prices FILE
//! --budget-session USD  --budget-day USD  --budget-month USD  --budget-db PATH
//! --models-config FILE   (its [models.openai-compat] section; flags win)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use inpaint_openai::{BudgetConfig, Caps, OpenAiConfig, Usd, cap_from_dollars};
use inpaint_registry::{ConfigFile, RemoteParams};

/// The flags as given; `None` = not given.
#[derive(Debug, Default)]
pub(crate) struct OpenAiFlags {
    base_url: Option<String>,
    model: Option<String>,
    quality: Option<String>,
    prices: Option<PathBuf>,
    session: Option<f64>,
    day: Option<f64>,
    month: Option<f64>,
    pub(crate) db: Option<PathBuf>,
    models_config: Option<PathBuf>,
}

impl OpenAiFlags {
    /// Takes `flag` (and its value) when it is one of these flags: `Ok(false)` when not.
    pub(crate) fn parse(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        let dollars = |text: String| {
            text.parse::<f64>()
                .map_err(|_| format!("{flag}: `{text}` is not an amount of US dollars"))
        };
        match flag {
            "--openai-base-url" => self.base_url = Some(value()?),
            "--openai-model" => self.model = Some(value()?),
            "--openai-quality" => self.quality = Some(value()?),
            "--openai-prices" => self.prices = Some(PathBuf::from(value()?)),
            "--budget-session" => self.session = Some(dollars(value()?)?),
            "--budget-day" => self.day = Some(dollars(value()?)?),
            "--budget-month" => self.month = Some(dollars(value()?)?),
            "--budget-db" => self.db = Some(PathBuf::from(value()?)),
            "--models-config" => self.models_config = Some(PathBuf::from(value()?)),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether any flag was given (they apply to `openai-compat` only).
    pub(crate) fn any(&self) -> bool {
        self.base_url.is_some()
            || self.model.is_some()
            || self.quality.is_some()
            || self.prices.is_some()
            || self.session.is_some()
            || self.day.is_some()
            || self.month.is_some()
            || self.db.is_some()
            || self.models_config.is_some()
    }

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

    /// The model's configuration: the defaults, then the models config, then the flags.
    /// The key comes from the environment (`INPAINT_OPENAI_API_KEY`, `OPENAI_API_KEY`).
    pub(crate) fn config(&self) -> Result<OpenAiConfig, String> {
        let params = self.params()?;
        let mut config = OpenAiConfig::new();
        if let Some(url) = self.base_url.clone().or(params.base_url) {
            config = config.with_base_url(url);
        }
        if let Some(model) = self.model.clone().or(params.model) {
            config = config.with_model(model);
        }
        config = config
            .with_quality(self.quality.clone().or(params.quality))
            .with_prices(self.prices.clone().or(params.prices));
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
        budget.caps = self.caps(&params)?;
        budget.ledger = self.db.clone().or(params.budget_db);
        if let Some(secs) = params.dedup_window_secs {
            budget.dedup_window = Duration::from_secs(secs);
        }
        if let Some(secs) = params.min_interval_secs {
            budget.min_interval = Duration::from_secs(secs);
        }
        Ok(config.with_budget(budget))
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
        set(&mut caps.session, self.session.or(params.budget_session))?;
        set(&mut caps.day, self.day.or(params.budget_day))?;
        set(&mut caps.month, self.month.or(params.budget_month))?;
        Ok(caps)
    }

    /// [`caps`](Self::caps) and the ledger's path, for `models budget`.
    pub(crate) fn budget_view(&self) -> Result<(Caps, Option<PathBuf>), String> {
        let params = self.params()?;
        Ok((
            self.caps(&params)?,
            self.db
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
