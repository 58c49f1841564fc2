//! [`OpenAiConfig`]: where to send requests, which model, how long to wait, and the budget.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ledger::Caps;
use crate::money::Usd;

/// OpenAI's API, the default `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The API model used when none is configured.
pub const DEFAULT_API_MODEL: &str = "gpt-image-1";
/// The prompt sent when the caller gives none.
pub const DEFAULT_PROMPT: &str =
    "Fill the masked area naturally, so that it matches its surroundings.";
/// How long one call (upload, generation, download) may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// An identical request within this window returns the stored result.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The project's key variable; it overrides [`OPENAI_KEY_ENV`].
pub const KEY_ENV: &str = "INPAINT_OPENAI_API_KEY";
/// The usual OpenAI key variable.
pub const OPENAI_KEY_ENV: &str = "OPENAI_API_KEY";

/// An API key. It is never printed: `Debug` shows `ApiKey(<redacted>)`, and there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key. Empty keys are refused.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(Error::config("the API key is empty"));
        }
        if key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::config(
                "the API key contains spaces or control characters",
            ));
        }
        Ok(ApiKey(key))
    }

    /// From [`KEY_ENV`], else [`OPENAI_KEY_ENV`]; `None` when neither is set.
    pub fn from_env() -> Result<Option<Self>> {
        for name in [KEY_ENV, OPENAI_KEY_ENV] {
            if let Some(value) = std::env::var_os(name) {
                let value = value
                    .into_string()
                    .map_err(|_| Error::config(format!("{name} is not UTF-8")))?;
                return ApiKey::new(value)
                    .map(Some)
                    .map_err(|e| Error::config(format!("{name}: {e}")));
            }
        }
        Ok(None)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A cap as a user writes it, in dollars: `0` means unlimited (only when written), a negative
/// or non-finite value is an error.
///
/// ```
/// use inpaint_openai::cap_from_dollars;
///
/// assert_eq!(cap_from_dollars(0.0)?, None);
/// assert_eq!(cap_from_dollars(2.5)?.map(|c| c.micros()), Some(2_500_000));
/// assert!(cap_from_dollars(-1.0).is_err());
/// # Ok::<(), inpaint_openai::Error>(())
/// ```
pub fn cap_from_dollars(dollars: f64) -> Result<Option<Usd>> {
    match Usd::from_dollars(dollars) {
        Some(Usd::ZERO) => Ok(None),
        Some(cap) => Ok(Some(cap)),
        None => Err(Error::config(format!(
            "a budget cap must be a positive number of dollars (0 = unlimited), not {dollars}"
        ))),
    }
}

/// The budget: caps, the ledger, de-duplication and pacing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// Spending caps. Default: [`Caps::DEFAULT`].
    pub caps: Caps,
    /// The ledger database. `None`: [`default_ledger_path`].
    pub ledger: Option<PathBuf>,
    /// An identical request within this window returns the stored result without a call;
    /// zero turns de-duplication off. Default: [`DEFAULT_DEDUP_WINDOW`].
    pub dedup_window: Duration,
    /// The least time between two requests sent (across processes); zero: none (default).
    pub min_interval: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            caps: Caps::DEFAULT,
            ledger: None,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            min_interval: Duration::ZERO,
        }
    }
}

/// Where the ledger lives when none is configured: `$XDG_DATA_HOME/inpaint/openai-ledger.sqlite3`,
/// else `~/.local/share/…` (`%LOCALAPPDATA%\inpaint\…` on Windows).
pub fn default_ledger_path() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = if cfg!(windows) {
        non_empty("LOCALAPPDATA").map(PathBuf::from)
    } else {
        non_empty("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share")))
    };
    base.map(|dir| dir.join("inpaint").join("openai-ledger.sqlite3"))
}

/// Everything the `openai-compat` model needs. The key is kept apart from what a config file
/// holds: it comes from [`with_api_key`](Self::with_api_key) or the environment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// The API root; requests go to `{base_url}/images/edits`. Default: [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// The `model` field. Default: [`DEFAULT_API_MODEL`]. It must be in the price table.
    pub model: String,
    /// The `quality` field; `None` sends none (the server picks, and the estimate assumes the
    /// dearest quality).
    pub quality: Option<String>,
    /// The time limit of one call. Default: [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// The prompt sent when the caller's is empty. Default: [`DEFAULT_PROMPT`].
    pub default_prompt: String,
    /// A price table file; `None`: the built-in one.
    pub prices: Option<PathBuf>,
    /// The budget.
    pub budget: BudgetConfig,
    api_key: Option<ApiKey>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            base_url: DEFAULT_BASE_URL.into(),
            model: DEFAULT_API_MODEL.into(),
            quality: None,
            timeout: DEFAULT_TIMEOUT,
            default_prompt: DEFAULT_PROMPT.into(),
            prices: None,
            budget: BudgetConfig::default(),
            api_key: None,
        }
    }
}

impl OpenAiConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`base_url`](Self::base_url).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets [`model`](Self::model).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets [`quality`](Self::quality).
    pub fn with_quality(mut self, quality: Option<String>) -> Self {
        self.quality = quality;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`default_prompt`](Self::default_prompt).
    pub fn with_default_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.default_prompt = prompt.into();
        self
    }

    /// Sets [`prices`](Self::prices).
    pub fn with_prices(mut self, path: Option<PathBuf>) -> Self {
        self.prices = path;
        self
    }

    /// Sets [`budget`](Self::budget).
    pub fn with_budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// Uses this key instead of the environment's.
    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// The key: the one given, else [`KEY_ENV`], else [`OPENAI_KEY_ENV`].
    pub fn api_key(&self) -> Result<ApiKey> {
        if let Some(key) = &self.api_key {
            return Ok(key.clone());
        }
        ApiKey::from_env()?.ok_or_else(|| {
            Error::config(format!(
                "no API key: set {KEY_ENV} (or {OPENAI_KEY_ENV}); it is never read from or written to a config file"
            ))
        })
    }

    /// Checks the values that need no network or file.
    pub fn validate(&self) -> Result<()> {
        let url = &self.base_url;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::config(format!(
                "base_url `{url}` must start with https:// (or http:// for a local server)"
            )));
        }
        if self.model.trim().is_empty() {
            return Err(Error::config("the model name is empty"));
        }
        if self.timeout.is_zero() {
            return Err(Error::config("the timeout must be above 0"));
        }
        Ok(())
    }
}
