//! Errors: the server's own ([`Error`], at start-up) and the API's ([`ApiError`], one per
//! failed request, in IOPaint's JSON shape).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is unusable (zero workers, a missing `--input` file, …).
    #[error("{message}")]
    InvalidOption {
        /// What is wrong and what would work.
        message: String,
    },
    /// The model could not be resolved or loaded.
    #[error(transparent)]
    Registry(#[from] inpaint_registry::Error),
    /// `openai-compat` could not be built (no key, a bad setting, a ledger that cannot be
    /// opened).
    #[error("cannot serve openai-compat: {0}")]
    OpenAi(#[from] inpaint_openai::Error),
    /// Binding or serving failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid_option(message: impl Into<String>) -> Self {
        Error::InvalidOption {
            message: message.into(),
        }
    }
}

/// A failed request, answered as IOPaint answers one:
/// `{"error": <kind>, "detail": <message>, "body": "", "errors": <message>}`. The app shows
/// `errors`. The status is 4xx when the caller must act, 5xx when the server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: &'a str,
    body: &'a str,
    errors: &'a str,
}

impl ApiError {
    /// An error with this status, kind (IOPaint sends the exception's class name) and message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the caller sent something unusable.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// 422: the body does not match the route's schema (FastAPI's validation error).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "RequestValidationError",
            message,
        )
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "ServerError", message)
    }

    /// 503 with `Retry-After`: busy, or stopping.
    pub fn unavailable(message: impl Into<String>, retry_after_s: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_s),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            )
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message (`detail` and `errors` in the body).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with what was being read (`image: `, `mask: `).
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl From<inpaint_core::Error> for ApiError {
    /// Split by who must act: bad or oversized input is the caller's, the rest is ours.
    fn from(err: inpaint_core::Error) -> Self {
        use inpaint_core::Error as E;
        let message = err.full_message();
        if let E::Model {
            source: Some(source),
            ..
        } = &err
            && let Some(openai) = source.downcast_ref::<inpaint_openai::Error>()
        {
            return openai_status(openai, message);
        }
        match err {
            E::InvalidInput { .. } => Self::bad_request(message),
            E::LimitsExceeded { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "LimitsExceeded", message)
            }
            E::Cancelled => Self::unavailable("the run was cancelled", 1),
            E::Unsupported { .. } | E::Decode { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UnsupportedImage",
                message,
            ),
            _ => Self::internal(message),
        }
    }
}

/// An `openai-compat` error: a budget refusal is 402 (someone must raise a cap or wait for
/// the next day or month), a remote API that refuses or fails 502, a setting 422, the rest
/// (the ledger) 500.
fn openai_status(err: &inpaint_openai::Error, message: String) -> ApiError {
    use inpaint_openai::Error as E;
    match err {
        E::BudgetExceeded { .. } => {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, "BudgetExceeded", message)
        }
        E::Config { .. } | E::Prices { .. } | E::UnpricedModel { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ModelError", message)
        }
        E::UploadTooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "LimitsExceeded", message)
        }
        E::Ledger { .. } | E::Io { .. } | E::Image(_) => ApiError::internal(message),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "RemoteError", message),
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Registry(err) => err.into(),
            Error::OpenAi(err) => {
                let message = format!(
                    "cannot serve openai-compat: {}",
                    inpaint_core::error::full_message(&err)
                );
                openai_status(&err, message)
            }
            other => ApiError::internal(inpaint_core::error::full_message(&other)),
        }
    }
}

impl From<inpaint_registry::Error> for ApiError {
    fn from(err: inpaint_registry::Error) -> Self {
        use inpaint_registry::Error as E;
        let message = err.full_message();
        let status = match &err {
            E::UnknownModel { .. } => StatusCode::NOT_FOUND,
            E::NotInstalled { .. } | E::Unsupported { .. } | E::InvalidParameter { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            E::SwitchFailed { source, .. } => match **source {
                E::NotInstalled { .. } | E::Unsupported { .. } | E::InvalidParameter { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, "ModelError", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.kind,
            detail: &self.message,
            body: "",
            errors: &self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
