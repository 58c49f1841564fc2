//! `inpaint-server`: IOPaint's web app and API on the inpaint crates.
//!
//! ```text
//! scripts/fetch-iopaint-web.sh      # once: IOPaint's built web app into target/iopaint-web
//! cargo run --release -p inpaint-server -- --model telea --port 8080
//! ```

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use inpaint_models::onnx::RuntimeSearch;
use inpaint_openai::{BudgetConfig, cap_from_dollars};
use inpaint_server::{Device, Limits, OnnxOptions, OpenAiConfig, Server, ServerOptions};

/// Where `scripts/fetch-iopaint-web.sh` puts the web app, relative to the repository.
const DEFAULT_WEB_APP: &str = "target/iopaint-web/web_app";

/// Serves IOPaint's web app and API on the inpaint crates (no Python).
#[derive(Debug, Parser)]
#[command(name = "inpaint-server", version, args_override_self = true)]
struct Args {
    /// Address to listen on. The default serves this machine only; the API has no
    /// authentication, so listen elsewhere only on a network you trust.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The model served first: a catalog id or alias, or a model found in --model-dir.
    #[arg(long, default_value = inpaint_models::DEFAULT_MODEL)]
    model: String,
    /// A folder of model files (may be repeated); default: the standard model folders.
    #[arg(long = "model-dir", value_name = "DIR")]
    model_dirs: Vec<PathBuf>,
    /// Where neural models run: cpu, cuda, tensorrt, coreml, directml, openvino, rocm, auto.
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// ONNX Runtime's shared library (default: ORT_DYLIB_PATH, .runtime/, the system's).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// IOPaint's built web app (the folder with index.html).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_WEB_APP)]
    web_app: PathBuf,
    /// A picture the app opens at start (GET /api/v1/inputimage).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where the app's "save" writes pictures; without it, saving is refused.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Instances of the model; each serves one request at a time.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Requests that may wait for a free instance; beyond, 503 with Retry-After.
    #[arg(long, default_value_t = 8)]
    queue: usize,
    /// Largest request body in MiB (413 beyond).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_body_mib: usize,
    /// Largest image side in pixels, checked on the header before decoding (413 beyond).
    #[arg(long, value_name = "PX", default_value_t = Limits::default().max_side)]
    max_side: u32,
    /// Longest a request may take, waiting included, in seconds (503 beyond).
    #[arg(long, value_name = "S", default_value_t = 300)]
    timeout: u64,
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
    /// openai-compat: the most each worker may spend while the server runs, in US dollars
    /// (0 = unlimited; default 1).
    #[arg(long, value_name = "USD")]
    budget_session: Option<f64>,
    /// openai-compat: the most to spend per UTC day, across processes sharing the ledger
    /// (0 = unlimited; default 5).
    #[arg(long, value_name = "USD")]
    budget_day: Option<f64>,
    /// openai-compat: the most to spend per UTC month, across processes sharing the ledger
    /// (0 = unlimited; default 20).
    #[arg(long, value_name = "USD")]
    budget_month: Option<f64>,
    /// openai-compat: the spending ledger (SQLite; default
    /// ~/.local/share/inpaint/openai-ledger.sqlite3).
    #[arg(long, value_name = "PATH")]
    budget_db: Option<PathBuf>,
}

impl Args {
    /// openai-compat's settings: its defaults, then the flags.
    fn openai(&self) -> Result<OpenAiConfig, String> {
        let mut config = OpenAiConfig::new()
            .with_quality(self.openai_quality.clone())
            .with_prices(self.openai_prices.clone());
        if let Some(url) = &self.openai_base_url {
            config = config.with_base_url(url);
        }
        if let Some(model) = &self.openai_model {
            config = config.with_model(model);
        }
        let mut budget = BudgetConfig::default();
        for (cap, flag, dollars) in [
            (
                &mut budget.caps.session,
                "--budget-session",
                self.budget_session,
            ),
            (&mut budget.caps.day, "--budget-day", self.budget_day),
            (&mut budget.caps.month, "--budget-month", self.budget_month),
        ] {
            if let Some(dollars) = dollars {
                *cap = cap_from_dollars(dollars).map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        budget.ledger = self.budget_db.clone();
        Ok(config.with_budget(budget))
    }

    fn options(&self) -> Result<ServerOptions, String> {
        let mut runtime = RuntimeSearch::from_env();
        if let Some(path) = &self.ort_lib {
            runtime = runtime.with_library(path);
        }
        let mut options = ServerOptions::new()
            .with_model(&self.model)
            .with_device(self.device)
            .with_onnx_options(OnnxOptions::default().with_runtime(runtime))
            .with_workers(self.workers)
            .with_queue(self.queue)
            .with_max_body_bytes(self.max_body_mib.saturating_mul(1 << 20))
            .with_limits(Limits::new(
                self.max_side,
                Limits::default()
                    .max_pixels
                    .min(u64::from(self.max_side) * u64::from(self.max_side)),
            ))
            .with_request_timeout(Duration::from_secs(self.timeout))
            .with_web_app(&self.web_app)
            .with_openai(self.openai()?);
        for dir in &self.model_dirs {
            options = options.with_model_dir(dir);
        }
        if let Some(input) = &self.input {
            options = options.with_input(input);
        }
        if let Some(dir) = &self.output_dir {
            options = options.with_output_dir(dir);
        }
        Ok(options)
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn run(args: Args) -> Result<(), String> {
    let options = args.options()?;
    let server = tokio::task::spawn_blocking(move || Server::new(options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| inpaint_core::error::full_message(&e))?;
    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let served = server.served().await;
    println!("inpaint-server {}", env!("CARGO_PKG_VERSION"));
    println!("url:      http://{address}");
    println!(
        "model:    {} ({})",
        served.info.name,
        served.active.architecture.name()
    );
    match (&served.active.remote, &served.active.execution) {
        (Some(remote), _) => println!("device:   {remote}"),
        (None, Some(execution)) => println!("device:   {execution}"),
        (None, None) => println!("device:   {}", served.active.device),
    }
    println!("web app:  {}", server.web_app_line());
    println!(
        "serving:  {} worker(s), queue {}, timeout {} s",
        args.workers, args.queue, args.timeout
    );
    server
        .serve(listener, shutdown_signal())
        .await
        .map_err(|e| inpaint_core::error::full_message(&e))?;
    println!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "inpaint_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
