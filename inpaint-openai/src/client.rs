//! The HTTP side: one multipart `POST {base_url}/images/edits`, and reading its answer.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::ApiKey;
use crate::error::{Error, Result};
use crate::prices::{Size, Usage};

/// The largest answer read (a base64 PNG of 1536×1024 is well under this).
const MAX_ANSWER_BYTES: u64 = 64 << 20;
/// The most of a server's error message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// One edit, ready to send.
#[derive(Debug)]
pub(crate) struct EditRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) prompt: &'a str,
    pub(crate) size: Size,
    pub(crate) quality: Option<&'a str>,
    pub(crate) response_format: bool,
    pub(crate) image_png: &'a [u8],
    pub(crate) mask_png: &'a [u8],
}

impl EditRequest<'_> {
    /// The form fields, in order: `(name, file name and type for files, value)`.
    fn fields(&self) -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
        let text = |name, value: &str| (name, None, value.as_bytes().to_vec());
        let mut fields = vec![
            (
                "image",
                Some("filename=\"image.png\"\r\nContent-Type: image/png"),
                self.image_png.to_vec(),
            ),
            (
                "mask",
                Some("filename=\"mask.png\"\r\nContent-Type: image/png"),
                self.mask_png.to_vec(),
            ),
            text("prompt", self.prompt),
            text("model", self.model),
            text("n", "1"),
            text("size", &self.size.to_string()),
        ];
        if self.response_format {
            fields.push(text("response_format", "b64_json"));
        }
        if let Some(quality) = self.quality {
            fields.push(text("quality", quality));
        }
        fields
    }

    /// The multipart body and its boundary. Written here rather than with ureq's multipart
    /// support, which ureq publishes as `unversioned` (outside its semver promise).
    fn multipart(&self) -> (String, Vec<u8>) {
        let fields = self.fields();
        let mut digest = Sha256::new();
        for (_, _, value) in &fields {
            digest.update(value);
        }
        // Derived from the content, so it cannot be one of the content's own lines.
        let boundary = format!("inpaint-{:x}", digest.finalize());
        let mut body = Vec::new();
        for (name, file, value) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(file) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; {file}\r\n\r\n")
                        .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(&value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (boundary, body)
    }
}

/// A successful answer: the encoded image, and the usage when reported.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) image: Vec<u8>,
    pub(crate) usage: Option<Usage>,
}

/// Whether an error happened after the request may have reached the server without an
/// answer coming back (it may have been billed). A host that cannot be found or connected to
/// never got the request.
pub(crate) fn is_unanswered(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } => true,
        Error::Transport { source, .. } => match &**source {
            ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => false,
            ureq::Error::Io(io) => !matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ),
            _ => true,
        },
        _ => false,
    }
}

#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    base_url: String,
    timeout: Duration,
}

impl Client {
    pub(crate) fn new(base_url: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            // Statuses are read here, to give each its own message.
            .http_status_as_error(false)
            // The whole call, so a server that stalls mid-answer cannot hold it forever.
            .timeout_global(Some(timeout))
            .user_agent(concat!("inpaint-openai/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            agent,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    /// The longest one [`edit`](Self::edit) can take: the call, and the download of a URL
    /// answer.
    pub(crate) fn time_limit(&self) -> Duration {
        self.timeout * 2
    }

    fn transport(&self, url: &str, error: ureq::Error) -> Error {
        match error {
            ureq::Error::Timeout(_) => Error::Timeout {
                url: url.to_string(),
                timeout: self.timeout,
            },
            other => Error::Transport {
                url: url.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// Sends the edit and returns the image it answers with (decoded from `b64_json`, or
    /// fetched from `url`, without the key).
    pub(crate) fn edit(&self, key: &ApiKey, request: &EditRequest<'_>) -> Result<Answer> {
        let url = format!("{}/images/edits", self.base_url);
        let (boundary, body) = request.multipart();
        let mut response = self
            .agent
            .post(&url)
            .header("Authorization", format!("Bearer {}", key.expose()))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .map_err(|e| self.transport(&url, e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport(&url, e))?;
        if status != 200 {
            return Err(status_error(status, &text, key));
        }
        let json: serde_json::Value = serde_json::from_slice(&text).map_err(|_| {
            Error::bad_answer(format!(
                "not JSON ({} bytes starting {:?})",
                text.len(),
                String::from_utf8_lossy(&text[..text.len().min(40)])
            ))
        })?;
        let first = json
            .get("data")
            .and_then(|d| d.get(0))
            .ok_or_else(|| Error::bad_answer("no `data[0]` in the JSON answer"))?;
        let usage = json.get("usage").and_then(Usage::from_json);
        let image = if let Some(b64) = first.get("b64_json").and_then(|v| v.as_str()) {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Error::bad_answer(format!("`b64_json` is not base64: {e}")))?
        } else if let Some(image_url) = first.get("url").and_then(|v| v.as_str()) {
            self.fetch(image_url)?
        } else {
            return Err(Error::bad_answer(
                "`data[0]` has neither `b64_json` nor `url`",
            ));
        };
        Ok(Answer { image, usage })
    }

    /// Downloads a URL answer. The key is not sent: the URL is often another host's.
    fn fetch(&self, url: &str) -> Result<Vec<u8>> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::bad_answer(format!(
                "`url` is not an http(s) URL: {url}"
            )));
        }
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| self.transport(url, e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Error::bad_answer(format!(
                "fetching the image at its URL gave HTTP {status}"
            )));
        }
        let mut bytes = Vec::new();
        response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(|e| self.transport(url, ureq::Error::Io(e)))?;
        Ok(bytes)
    }
}

/// The error for a non-200 answer, with the server's message (never the key).
fn status_error(status: u16, body: &[u8], key: &ApiKey) -> Error {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(|e| e.get("message").or(Some(e)))
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    // A server may echo the key (OpenAI echoes part of it); it must not reach a log.
    let message = message.replace(key.expose(), "<redacted>");
    let mut message: String = message.trim().chars().take(MAX_MESSAGE_CHARS).collect();
    if message.is_empty() {
        message = "(no message)".into();
    }
    match status {
        401 => Error::Unauthorized,
        429 => Error::RateLimited { message },
        500..=599 => Error::Server { status, message },
        _ => Error::Rejected { status, message },
    }
}
