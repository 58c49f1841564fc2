//! [`DownloadConfig`], [`NetworkMode`] and [`hf_url`].

use std::collections::BTreeMap;
use std::time::Duration;

/// The Hugging Face endpoint used unless configured otherwise.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Suffix of the per-model URL override variables read by [`DownloadConfig::from_env`].
const MODEL_URL_SUFFIX: &str = "_MODEL_URL";

/// When the network may be used.
// Not `#[non_exhaustive]`: callers match on it (e.g. to show the mode), and a new mode should
// make them decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NetworkMode {
    /// Download what is missing. A cached file that verifies against its sha256 is never
    /// downloaded again; a cached file fetched *without* a sha256 (see
    /// [`DownloadConfig::allow_unverified`]) is downloaded again, because nothing else can tell
    /// whether it is current.
    #[default]
    Online,
    /// Use any cached file as it is (verified, or unverified where allowed); download only what
    /// is missing.
    PreferOffline,
    /// Never open a socket. A cached file is returned (verified where a sha256 is given); a
    /// missing one is [`Error::NotCachedOffline`](crate::Error::NotCachedOffline).
    Offline,
}

/// How [`Downloader`](crate::Downloader) fetches files.
///
/// Build it with [`DownloadConfig::default`] and the `with_*` setters, or with
/// [`DownloadConfig::from_env`], the one place that reads environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadConfig {
    /// Hugging Face endpoint (or mirror), without a trailing slash, for [`hf_url`]. Default
    /// [`DEFAULT_HF_ENDPOINT`].
    pub endpoint: String,
    /// When the network may be used. Default [`NetworkMode::Online`].
    pub mode: NetworkMode,
    /// Accept requests without a sha256. Default `false`: an unverified request is refused with
    /// [`Error::Unverified`](crate::Error::Unverified).
    pub allow_unverified: bool,
    /// Retries after the first attempt, for transient failures only (see
    /// [`Error::is_transient`](crate::Error::is_transient)). Default 4.
    pub retries: u32,
    /// Delay before the first retry; it doubles for each further retry, up to 30 s.
    /// Default 500 ms.
    pub retry_delay: Duration,
    /// An attempt is abandoned (and retried, resuming) when no byte arrives for this long.
    /// Default 30 s.
    pub stall_timeout: Duration,
    /// Limit for resolving the host name and for connecting (TCP and TLS). Default 15 s.
    pub connect_timeout: Duration,
    /// How long to wait for another process (or thread) downloading the same file. Default
    /// 10 minutes, enough for it to finish a large file.
    pub lock_timeout: Duration,
    /// Per-model download URLs, model id → URL, replacing the registry's URL (a mirror, or a
    /// local server). Look them up with [`DownloadConfig::url_override`].
    pub url_overrides: BTreeMap<String, String>,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_HF_ENDPOINT.to_owned(),
            mode: NetworkMode::Online,
            allow_unverified: false,
            retries: 4,
            retry_delay: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            lock_timeout: Duration::from_secs(600),
            url_overrides: BTreeMap::new(),
        }
    }
}

impl DownloadConfig {
    /// The defaults, adjusted by the environment variables users know:
    ///
    /// | variable | effect |
    /// |---|---|
    /// | `HF_ENDPOINT` | [`endpoint`](Self::endpoint) (a mirror such as `https://hf-mirror.com`) |
    /// | `HF_HUB_OFFLINE` = `1`/`true`/`yes`/`on` | [`mode`](Self::mode) = [`NetworkMode::Offline`] |
    /// | `<ID>_MODEL_URL`, e.g. `LAMA_MODEL_URL` | a [`url_overrides`](Self::url_overrides) entry, as IOPaint reads them |
    ///
    /// `<ID>` is the model id in upper case with `-` written as `_` (see [`model_url_env_var`]).
    /// The entry is stored under the lower-case id with `_` written as `-` (`BIG_LAMA_MODEL_URL`
    /// → `big-lama`); [`url_override`](Self::url_override) matches either spelling. Empty values
    /// are ignored. Nothing else in this crate reads the environment.
    pub fn from_env() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::from_vars(vars)
    }

    /// [`from_env`](Self::from_env) on the given `(name, value)` pairs instead of the process
    /// environment (for tests, or for hosts that keep their own settings).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        for (key, value) in vars {
            let (key, value) = (key.as_ref(), value.as_ref().trim());
            if value.is_empty() {
                continue;
            }
            if key == "HF_ENDPOINT" {
                config.endpoint = value.trim_end_matches('/').to_owned();
            } else if key == "HF_HUB_OFFLINE" {
                if matches!(
                    value.to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                ) {
                    config.mode = NetworkMode::Offline;
                }
            } else if let Some(id) = key.strip_suffix(MODEL_URL_SUFFIX) {
                if !id.is_empty() {
                    let id = id.to_ascii_lowercase().replace('_', "-");
                    config.url_overrides.insert(id, value.to_owned());
                }
            }
        }
        config
    }

    /// The override URL for `model_id`, if any: an exact key match first, then a match after
    /// normalising both to the environment variable spelling (`big-lama` matches `BIG_LAMA`).
    pub fn url_override(&self, model_id: &str) -> Option<&str> {
        if let Some(url) = self.url_overrides.get(model_id) {
            return Some(url);
        }
        let wanted = env_spelling(model_id);
        self.url_overrides
            .iter()
            .find(|(id, _)| env_spelling(id) == wanted)
            .map(|(_, url)| url.as_str())
    }

    /// Sets [`endpoint`](Self::endpoint); a trailing `/` is removed.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        self.endpoint = endpoint.trim_end_matches('/').to_owned();
        self
    }

    /// Sets [`mode`](Self::mode).
    pub fn with_mode(mut self, mode: NetworkMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`allow_unverified`](Self::allow_unverified).
    pub fn with_allow_unverified(mut self, allow: bool) -> Self {
        self.allow_unverified = allow;
        self
    }

    /// Sets [`retries`](Self::retries).
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`retry_delay`](Self::retry_delay).
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets [`stall_timeout`](Self::stall_timeout).
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`lock_timeout`](Self::lock_timeout).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Adds (or replaces) the URL override for `model_id`.
    pub fn with_url_override(
        mut self,
        model_id: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        self.url_overrides.insert(model_id.into(), url.into());
        self
    }

    /// [`hf_url`] with this configuration's [`endpoint`](Self::endpoint).
    pub fn hf_url(&self, repo: &str, revision: &str, filename: &str) -> String {
        hf_url(&self.endpoint, repo, revision, filename)
    }
}

/// The environment variable [`DownloadConfig::from_env`] reads for a model's URL override:
/// `lama` → `LAMA_MODEL_URL`, `big-lama` → `BIG_LAMA_MODEL_URL`.
pub fn model_url_env_var(model_id: &str) -> String {
    let mut name = env_spelling(model_id);
    name.push_str(MODEL_URL_SUFFIX);
    name
}

/// Upper case, with every character other than ASCII letters and digits written as `_`.
fn env_spelling(model_id: &str) -> String {
    model_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The download URL of a file in a Hugging Face repository:
/// `{endpoint}/{repo}/resolve/{revision}/{filename}`.
///
/// A trailing `/` on `endpoint` is ignored. `revision` is percent-encoded whole (so
/// `refs/pr/1` becomes `refs%2Fpr%2F1`, as `huggingface_hub` does); `filename` is
/// percent-encoded except for the `/` between folders. `repo` is used as given
/// (`owner/name`).
///
/// ```
/// use inpaint_download::hf_url;
/// assert_eq!(
///     hf_url("https://huggingface.co/", "Carve/LaMa-ONNX", "main", "lama_fp32.onnx"),
///     "https://huggingface.co/Carve/LaMa-ONNX/resolve/main/lama_fp32.onnx"
/// );
/// ```
pub fn hf_url(endpoint: &str, repo: &str, revision: &str, filename: &str) -> String {
    format!(
        "{}/{}/resolve/{}/{}",
        endpoint.trim_end_matches('/'),
        repo.trim_matches('/'),
        percent_encode(revision, false),
        percent_encode(filename, true)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` if `keep_slash`).
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_url_encodes_revision_and_file() {
        assert_eq!(
            hf_url(
                "https://hf-mirror.com",
                "a/b",
                "refs/pr/1",
                "sub dir/x+y.onnx"
            ),
            "https://hf-mirror.com/a/b/resolve/refs%2Fpr%2F1/sub%20dir/x%2By.onnx"
        );
    }

    #[test]
    fn from_vars_reads_endpoint_offline_and_overrides() {
        let config = DownloadConfig::from_vars([
            ("HF_ENDPOINT", "https://hf-mirror.com/"),
            ("HF_HUB_OFFLINE", "1"),
            ("LAMA_MODEL_URL", "http://127.0.0.1:1/lama.onnx"),
            ("BIG_LAMA_MODEL_URL", "http://127.0.0.1:1/big.onnx"),
            ("EMPTY_MODEL_URL", ""),
            ("_MODEL_URL", "http://ignored"),
            ("PATH", "/usr/bin"),
        ]);
        assert_eq!(config.endpoint, "https://hf-mirror.com");
        assert_eq!(config.mode, NetworkMode::Offline);
        assert_eq!(config.url_overrides.len(), 2);
        assert_eq!(
            config.url_override("lama"),
            Some("http://127.0.0.1:1/lama.onnx")
        );
        assert_eq!(
            config.url_override("big-lama"),
            Some("http://127.0.0.1:1/big.onnx")
        );
        assert_eq!(
            config.url_override("big_lama"),
            Some("http://127.0.0.1:1/big.onnx")
        );
        assert_eq!(config.url_override("mat"), None);
        assert_eq!(model_url_env_var("big-lama"), "BIG_LAMA_MODEL_URL");
    }

    #[test]
    fn offline_only_for_true_values() {
        for value in ["0", "false", "no", "off"] {
            let config = DownloadConfig::from_vars([("HF_HUB_OFFLINE", value)]);
            assert_eq!(config.mode, NetworkMode::Online, "{value}");
        }
        let config = DownloadConfig::from_vars([("HF_HUB_OFFLINE", "TRUE")]);
        assert_eq!(config.mode, NetworkMode::Offline);
    }
}
