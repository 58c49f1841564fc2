//! IOPaint's web API on the `inpaint` crates: the server that IOPaint's own web app talks to,
//! with no Python.
//!
//! # Brief overview
//!
//! * The routes are IOPaint 1.6.0's (`iopaint/api.py`), field for field: `server-config`,
//!   `model` (get and switch), `inpaint`, `samplers`, `inputimage`, `adjust_mask`,
//!   `gen-info`, `save_image`, and the plugin routes (there are no plugins: a 422). Errors
//!   have IOPaint's JSON shape (`error`, `detail`, `body`, `errors`), with 4xx for the
//!   caller's faults and 5xx for the server's.
//! * Socket.IO (Engine.IO 4, as python-socketio serves it) at `/socket.io/`: the app's
//!   `diffusion_finish` event after every inpaint.
//! * The models come from `inpaint-registry` (the catalog's classical models and every model
//!   found in the model folders) and `inpaint-openai` (`openai-compat`, a remote
//!   OpenAI-compatible images API within a spending budget, listed with the prompt box), run
//!   through `inpaint-core`'s pipeline; this crate adds no pre- or post-processing of its
//!   own beyond encoding pictures for HTTP.
//! * Serving many: `workers` instances of the model, a bounded queue (503 with
//!   `Retry-After` when full), a model switch that waits for running requests, body and
//!   image-size limits, a per-request timeout, graceful shutdown.
//! * The web app is not part of this crate: it is served from a folder
//!   ([`ServerOptions::web_app`]) that `scripts/fetch-iopaint-web.sh` fills from IOPaint's
//!   wheel.
//!
//! ```no_run
//! use inpaint_server::{Server, ServerOptions};
//!
//! # async fn run() -> inpaint_server::Result<()> {
//! let server = Server::new(ServerOptions::new().with_model("telea"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.map_err(|source| {
//!     inpaint_server::Error::Io { context: "binding".into(), source }
//! })?;
//! server.serve(listener, std::future::pending()).await
//! # }
//! ```
#![warn(missing_docs)]

mod codec;
mod engine;
mod error;
mod mask;
mod routes;
mod schema;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::layer::SocketIoLayer;
use tower::Layer;
use tower_http::services::{ServeDir, ServeFile};

pub use engine::Served;
pub use error::{ApiError, Error, Result};
pub use inpaint_core::Limits;
pub use inpaint_models::onnx::{Device, OnnxOptions};
pub use inpaint_openai::OpenAiConfig;
pub use schema::{ModelInfo, ModelType, SAMPLERS};

use engine::{Engine, Models};
use routes::AppState;

/// How the server runs. The defaults suit one user on one machine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The model to serve first; `None`: the registry's default (`patchmatch`).
    pub model: Option<String>,
    /// Folders to look for model files in; empty: the default folders
    /// (`ModelRoot::defaults_from_env`).
    pub model_dirs: Vec<PathBuf>,
    /// Where ONNX models run (`Device::Auto` tries accelerators, then the CPU).
    pub device: Device,
    /// ONNX Runtime's location and session settings.
    pub onnx: OnnxOptions,
    /// Instances of the model, each serving one request at a time. Default 1.
    pub workers: usize,
    /// Requests that may wait for an instance; one more is a 503. Default 8.
    pub queue: usize,
    /// Largest request body, in bytes (a 413 beyond). Default 64 MiB: base64 of a large photo
    /// and its mask.
    pub max_body_bytes: usize,
    /// Image size limits, checked on the file header before any pixel is decoded.
    pub limits: Limits,
    /// Longest a request may take, queue included (a 503 beyond). Default 300 s.
    pub request_timeout: Duration,
    /// IOPaint's built web app (a folder with `index.html`); `None`: API only.
    pub web_app: Option<PathBuf>,
    /// The picture `GET /api/v1/inputimage` serves (IOPaint's `--input FILE`).
    pub input: Option<PathBuf>,
    /// Where `POST /api/v1/save_image` writes (IOPaint's `--output-dir`); `None` refuses.
    pub output_dir: Option<PathBuf>,
    /// The `openai-compat` model's settings: its API, its budget and ledger. The key comes
    /// from the environment (`INPAINT_OPENAI_API_KEY`, else `OPENAI_API_KEY`) unless set
    /// here. The model is built when it is served (at start or on a switch); each worker
    /// is one budget session.
    pub openai: OpenAiConfig,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            model: None,
            model_dirs: Vec::new(),
            device: Device::Cpu,
            onnx: OnnxOptions::default(),
            workers: 1,
            queue: 8,
            max_body_bytes: 64 << 20,
            limits: Limits::default(),
            request_timeout: Duration::from_secs(300),
            web_app: None,
            input: None,
            output_dir: None,
            openai: OpenAiConfig::default(),
        }
    }
}

impl ServerOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`model`](Self::model).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Adds a folder to [`model_dirs`](Self::model_dirs).
    pub fn with_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dirs.push(dir.into());
        self
    }

    /// Sets [`device`](Self::device).
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Sets [`onnx`](Self::onnx).
    pub fn with_onnx_options(mut self, onnx: OnnxOptions) -> Self {
        self.onnx = onnx;
        self
    }

    /// Sets [`workers`](Self::workers).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets [`queue`](Self::queue).
    pub fn with_queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`limits`](Self::limits).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`web_app`](Self::web_app).
    pub fn with_web_app(mut self, dir: impl Into<PathBuf>) -> Self {
        self.web_app = Some(dir.into());
        self
    }

    /// Sets [`input`](Self::input).
    pub fn with_input(mut self, file: impl Into<PathBuf>) -> Self {
        self.input = Some(file.into());
        self
    }

    /// Sets [`output_dir`](Self::output_dir).
    pub fn with_output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = Some(dir.into());
        self
    }

    /// Sets [`openai`](Self::openai).
    pub fn with_openai(mut self, config: OpenAiConfig) -> Self {
        self.openai = config;
        self
    }
}

/// Where the web app is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebApp {
    /// A folder with IOPaint's `index.html` and `assets/`.
    Dir(PathBuf),
    /// The folder named has no `index.html` (or none was named): `/` says how to get it.
    Missing(PathBuf),
}

/// A server with its models loaded, ready to serve.
pub struct Server {
    state: Arc<AppState>,
    router: Router,
    socket_layer: SocketIoLayer,
    web_app: WebApp,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.state.options)
            .field("web_app", &self.web_app)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Checks the options and loads the model into every worker (blocking: this may take
    /// seconds for a neural model).
    pub fn new(options: ServerOptions) -> Result<Server> {
        if let Some(input) = &options.input
            && !input.is_file()
        {
            return Err(Error::invalid_option(format!(
                "--input {}: not a file",
                input.display()
            )));
        }
        if let Some(dir) = &options.output_dir
            && !dir.is_dir()
        {
            return Err(Error::invalid_option(format!(
                "--output-dir {}: not a folder",
                dir.display()
            )));
        }
        if options.request_timeout.is_zero() {
            return Err(Error::invalid_option("the request timeout must be above 0"));
        }
        let models = Models::new(
            &options.model_dirs,
            options.device,
            options.onnx.clone(),
            options.openai.clone(),
        );
        let engine = Engine::start(
            models,
            options.model.as_deref(),
            options.workers,
            options.queue,
        )?;
        let web_app = match &options.web_app {
            Some(dir) if dir.join("index.html").is_file() => WebApp::Dir(dir.clone()),
            Some(dir) => WebApp::Missing(dir.clone()),
            None => WebApp::Missing(PathBuf::new()),
        };

        let (socket_layer, io) = SocketIo::new_layer();
        io.ns("/", async |_socket: SocketRef| {});
        let state = Arc::new(AppState {
            engine: Arc::new(engine),
            options,
            io,
        });
        let api = Router::new()
            .route("/server-config", get(routes::server_config))
            .route(
                "/model",
                get(routes::current_model).post(routes::switch_model),
            )
            .route("/inpaint", post(routes::inpaint))
            .route("/samplers", get(routes::samplers))
            .route("/inputimage", get(routes::input_image))
            .route("/adjust_mask", post(routes::adjust_mask))
            .route("/gen-info", post(routes::gen_info))
            .route("/save_image", post(routes::save_image))
            .route("/switch_plugin_model", any(routes::no_plugins))
            .route("/run_plugin_gen_mask", any(routes::no_plugins))
            .route("/run_plugin_gen_image", any(routes::no_plugins))
            .fallback(routes::api_not_found)
            .layer(DefaultBodyLimit::max(state.options.max_body_bytes))
            .with_state(state.clone());
        let mut router = Router::new().nest("/api/v1", api);
        router = match &web_app {
            WebApp::Dir(dir) => router.fallback_service(
                ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))),
            ),
            WebApp::Missing(_) => router.fallback(routes::no_web_app),
        };
        Ok(Server {
            state,
            router,
            socket_layer,
            web_app,
        })
    }

    /// The model being served.
    pub async fn served(&self) -> Served {
        self.state.engine.served().await
    }

    /// Where the web app comes from.
    pub fn web_app(&self) -> &WebApp {
        &self.web_app
    }

    /// One line about [`web_app`](Self::web_app), for the start-up message.
    pub fn web_app_line(&self) -> String {
        routes::describe_web_app(&self.web_app)
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, closes the
    /// Socket.IO connections, and returns once running requests have been answered.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let io = self.state.io.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing running requests");
            io.close().await;
        };
        // The Socket.IO layer wraps the whole router once: each `layer` call makes its own
        // session store, and `Router::layer` would call it once per route.
        let service = self.socket_layer.layer(self.router);
        axum::serve(listener, Router::new().fallback_service(service))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| Error::Io {
                context: "serving".into(),
                source,
            })
    }
}
