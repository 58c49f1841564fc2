//! The "openai-compat" model: its settings on `inpaint_model_options`, and building it
//! through inpaint-openai (feature `openai`).

use std::ffi::c_char;
use std::path::PathBuf;
use std::ptr;

use crate::error::inpaint_error;
use crate::ffi::{Failure, call, try_mut, try_str};
use crate::model::{inpaint_model, inpaint_model_options};
use crate::status::inpaint_status;

/// The model's name, as `inpaint_model_load` takes it.
pub(crate) const NAME: &str = "openai-compat";

/// Whether this build lists and loads it.
pub(crate) const LISTED: bool = cfg!(feature = "openai");

/// The budget periods `inpaint_model_options_set_budget_cap` takes, in `caps` order.
const PERIODS: [&str; 3] = ["session", "day", "month"];

/// "openai-compat"'s settings as C gave them; `None`: the model's default. Checked and turned
/// into inpaint-openai's `OpenAiConfig` when the model is loaded, so that a build without the
/// feature keeps the same functions.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OpenAiSettings {
    base_url: Option<String>,
    model: Option<String>,
    quality: Option<String>,
    timeout_secs: Option<f64>,
    prices: Option<PathBuf>,
    /// Session, day, month, in US dollars (0 = unlimited).
    caps: [Option<f64>; 3],
    ledger: Option<PathBuf>,
    dedup_window_secs: Option<u64>,
}

impl OpenAiSettings {
    /// The name of a setting that was given, if any (for "does not apply" errors).
    pub(crate) fn first_set(&self) -> Option<&'static str> {
        [
            ("base URL", self.base_url.is_some()),
            ("API model", self.model.is_some()),
            ("quality", self.quality.is_some()),
            ("timeout", self.timeout_secs.is_some()),
            ("price table", self.prices.is_some()),
            ("budget cap", self.caps.iter().any(Option::is_some)),
            ("budget ledger", self.ledger.is_some()),
            ("de-dup window", self.dedup_window_secs.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }
}

/// An unknown-model error that also names "openai-compat" (inpaint-models lists only its
/// own names).
pub(crate) fn mention(error: inpaint_core::Error) -> inpaint_core::Error {
    match error {
        inpaint_core::Error::Unsupported { message } if LISTED => {
            inpaint_core::Error::unsupported(format!("{message}; or {NAME} (a remote API)"))
        }
        other => other,
    }
}

/// The model, from `settings`; the key from the environment.
#[cfg(feature = "openai")]
pub(crate) fn load(settings: &OpenAiSettings) -> Result<inpaint_model, Failure> {
    use std::time::Duration;

    use inpaint_openai::{BudgetConfig, OpenAiCompat, OpenAiConfig, cap_from_dollars};

    let failure = |error: inpaint_openai::Error| {
        Failure::new(
            crate::status::status_of_openai(&error),
            inpaint_core::error::full_message(&error),
        )
    };
    let mut config = OpenAiConfig::new();
    if let Some(url) = &settings.base_url {
        config = config.with_base_url(url);
    }
    if let Some(model) = &settings.model {
        config = config.with_model(model);
    }
    config = config
        .with_quality(settings.quality.clone())
        .with_prices(settings.prices.clone());
    if let Some(secs) = settings.timeout_secs {
        if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
            return Err(Failure::invalid_input(format!(
                "{NAME}: the timeout must be a positive number of seconds, not {secs}"
            )));
        }
        config = config.with_timeout(Duration::from_secs_f64(secs));
    }
    let mut budget = BudgetConfig::default();
    let caps = [
        &mut budget.caps.session,
        &mut budget.caps.day,
        &mut budget.caps.month,
    ];
    for (cap, given) in caps.into_iter().zip(settings.caps) {
        if let Some(dollars) = given {
            *cap = cap_from_dollars(dollars).map_err(failure)?;
        }
    }
    budget.ledger = settings.ledger.clone();
    if let Some(secs) = settings.dedup_window_secs {
        budget.dedup_window = Duration::from_secs(secs);
    }
    let model = OpenAiCompat::new(config.with_budget(budget)).map_err(failure)?;
    let device = format!("remote:{}", model.config().base_url);
    Ok(inpaint_model::new(Box::new(model), &device).over_network())
}

/// Without the `openai` feature: `INPAINT_STATUS_UNSUPPORTED`, saying so.
#[cfg(not(feature = "openai"))]
pub(crate) fn load(_settings: &OpenAiSettings) -> Result<inpaint_model, Failure> {
    Err(Failure::new(
        inpaint_status::Unsupported,
        format!(
            "cannot load {NAME}: this build of the inpaint library has no remote API models \
             (build inpaint-ffi with its `openai` feature, on by default)"
        ),
    ))
}

/// Applies `change` to the "openai-compat" settings of `opts`, with `text` checked as a
/// string: the body of every string setter.
///
/// # Safety
///
/// `opts` is NULL or live options that no other call is using; `text` is NULL or a
/// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
unsafe fn set_text(
    opts: *mut inpaint_model_options,
    text: *const c_char,
    what: &str,
    err_out: *mut *mut inpaint_error,
    change: impl FnOnce(&mut OpenAiSettings, &str) -> Result<(), Failure>,
) -> inpaint_status {
    let body = || {
        // SAFETY: NULL or live, by the caller's guarantee.
        let opts = unsafe { try_mut(opts, "opts") }?;
        // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
        let text = unsafe { try_str(text, what) }?;
        change(&mut opts.openai, text)
    };
    // SAFETY: the caller guarantees `err_out` is NULL or writable.
    unsafe { call(err_out, body) }
}

/// Applies `change` to the "openai-compat" settings of `opts`.
///
/// # Safety
///
/// `opts` is NULL or live options that no other call is using.
unsafe fn set(
    opts: *mut inpaint_model_options,
    change: impl FnOnce(&mut OpenAiSettings),
) -> inpaint_status {
    let body = || {
        // SAFETY: NULL or live, by the caller's guarantee.
        change(&mut unsafe { try_mut(opts, "opts") }?.openai);
        Ok(())
    };
    // SAFETY: a NULL `err_out` is allowed.
    unsafe { call(ptr::null_mut(), body) }
}

impl inpaint_model_options {
    /// "openai-compat": the API root; requests go to `url` + "/images/edits". Default
    /// `https://api.openai.com/v1`; `http://` only for a server you trust (a local one).
    /// Checked when the model is loaded.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `url` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_openai_base_url(
        opts: *mut inpaint_model_options,
        url: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, url, "url", err_out, |s, url| {
                s.base_url = Some(url.to_owned());
                Ok(())
            })
        }
    }

    /// "openai-compat": the API's model, sent as the `model` field (default "gpt-image-1";
    /// "dall-e-2" and any model the price table lists). Its sizes and prices come from the
    /// price table; a model not in it is refused when loading.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `name` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_openai_model(
        opts: *mut inpaint_model_options,
        name: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, name, "name", err_out, |s, name| {
                s.model = Some(name.to_owned());
                Ok(())
            })
        }
    }

    /// "openai-compat": the `quality` field sent (e.g. "low", "medium", "high" for
    /// gpt-image-1). Without it none is sent, the server picks, and the cost estimate assumes
    /// the dearest quality. Checked against the price table when loading.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `quality` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_openai_quality(
        opts: *mut inpaint_model_options,
        quality: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, quality, "quality", err_out, |s, quality| {
                s.quality = Some(quality.to_owned());
                Ok(())
            })
        }
    }

    /// "openai-compat": the longest one request (upload, generation, download) may take, in
    /// seconds (default 180). Checked when the model is loaded: it must be above 0.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_openai_timeout(
        opts: *mut inpaint_model_options,
        seconds: f64,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe { set(opts, |s| s.timeout_secs = Some(seconds)) }
    }

    /// "openai-compat": a price table file (TOML, as inpaint-openai's `prices.toml`) to use
    /// instead of the built-in one. Read when the model is loaded.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `path` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_openai_prices(
        opts: *mut inpaint_model_options,
        path: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, path, "path", err_out, |s, path| {
                s.prices = Some(PathBuf::from(path));
                Ok(())
            })
        }
    }

    /// "openai-compat": the most to spend, in US dollars, per `period`: "session" (this
    /// model object; default 1), "day" or "month" (UTC, across every process sharing the
    /// ledger; defaults 5 and 20). 0 means unlimited. A request whose estimated cost would
    /// cross a cap is refused before anything is sent (`INPAINT_STATUS_BUDGET`). Another
    /// period, or a negative or non-finite amount, is `INPAINT_STATUS_INVALID_INPUT`.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `period` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_budget_cap(
        opts: *mut inpaint_model_options,
        period: *const c_char,
        dollars: f64,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, period, "period", err_out, |s, period| {
                let Some(index) = PERIODS.iter().position(|&p| p == period) else {
                    return Err(Failure::invalid_input(format!(
                        "unknown budget period `{period}`; known: {}",
                        PERIODS.join(", ")
                    )));
                };
                if !(dollars.is_finite() && dollars >= 0.0) {
                    return Err(Failure::invalid_input(format!(
                        "a budget cap must be a positive number of dollars (0 = unlimited), \
                         not {dollars}"
                    )));
                }
                s.caps[index] = Some(dollars);
                Ok(())
            })
        }
    }

    /// "openai-compat": the spending ledger, a SQLite file (created with its folder when
    /// missing) that every process spending against the same caps must share. Default:
    /// `$XDG_DATA_HOME/inpaint/openai-ledger.sqlite3`, else
    /// `~/.local/share/inpaint/openai-ledger.sqlite3`.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `path` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_budget_db(
        opts: *mut inpaint_model_options,
        path: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set_text(opts, path, "path", err_out, |s, path| {
                s.ledger = Some(PathBuf::from(path));
                Ok(())
            })
        }
    }

    /// "openai-compat": an identical request (same image, mask, prompt and settings) that
    /// succeeded within this many seconds returns the stored answer without a call (default
    /// 86400, a day); 0 turns this off.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_dedup_window(
        opts: *mut inpaint_model_options,
        seconds: u64,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe { set(opts, |s| s.dedup_window_secs = Some(seconds)) }
    }
}
