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
use inpaint_server::{Device, Limits, OnnxOptions, Server, ServerOptions};

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
}

impl Args {
    fn options(&self) -> ServerOptions {
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
            .with_web_app(&self.web_app);
        for dir in &self.model_dirs {
            options = options.with_model_dir(dir);
        }
        if let Some(input) = &self.input {
            options = options.with_input(input);
        }
        if let Some(dir) = &self.output_dir {
            options = options.with_output_dir(dir);
        }
        options
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
    let options = args.options();
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
    match &served.active.execution {
        Some(execution) => println!("device:   {execution}"),
        None => println!("device:   {}", served.active.device),
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
