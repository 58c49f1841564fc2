//! Lists, downloads and identifies models.
//!
//! ```text
//! cargo run --release --example models -- list [--model-dir D] [--no-verify]
//! cargo run --release --example models -- download ID [--model-dir D] [--endpoint URL] [--allow-unverified] [--offline]
//! cargo run --release --example models -- scan DIR
//! cargo run --release --example models -- export-triton ID OUT_DIR [--model-dir D] [--name NAME]
//! cargo run --release --example models -- backend list
//! cargo run --release --example models -- backend install FILE|URL --sha256 HEX --name N \
//!     --version V [--providers cpu,cuda] [--hardware any|nvidia-gpu]
//! cargo run --release --example models -- backend remove NAME
//! cargo run --release --example models -- budget [--budget-db PATH] [--config MODELS.toml]
//! ```
//!
//! `budget` shows what the `openai-compat` model spent, per UTC month and day, from its
//! ledger, and the caps that apply.
//!
//! Backends are ONNX Runtime builds (a `.whl`, `.zip` or `.tgz` holding `libonnxruntime`)
//! installed into `$INPAINT_HOME/backends` (or `~/.local/share/inpaint/backends`); the
//! `inpaint` example uses the one that fits this machine when no library is named.
//!
//! `--model-dir D` is the project model folder (`D/<id>/<file>`); without it, the default roots
//! are used: `INPAINT_MODELS_DIR` or `~/.cache/inpaint/models`, then the Hugging Face hub
//! cache. Downloads honour `HF_ENDPOINT`, `HF_HUB_OFFLINE` and `<ID>_MODEL_URL` (e.g.
//! `LAMA_MODEL_URL`); every file is checked against the catalog's sha256 before it is renamed
//! into place, so a failed or corrupt download never leaves a model file behind. A model of
//! several files (the Stable Diffusion pipeline `sd15-inpaint-fp16`) is fetched into a hidden
//! staging folder beside `D/<id>/` and renamed into place once every file is there and
//! verified; an interrupted download resumes from the staging folder on the next run. For such
//! a model `<ID>_MODEL_URL` is a base URL, the files' paths (`unet/model.onnx`) appended.
//!
//! `export-triton` writes a Triton model repository for a downloaded (or discovered) ONNX
//! model: `OUT_DIR/<NAME>/config.pbtxt` and `OUT_DIR/<NAME>/1/model.onnx` (`NAME`: the id,
//! or the file's stem for a discovered file), to serve it to `inpaint --remote` (README, "Scale
//! out").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

#[path = "support/logs.rs"]
mod logs;

#[path = "openai_flags.rs"]
mod openai_flags;
use indicatif::{ProgressBar, ProgressStyle};
use inpaint_core::error::full_message;
use inpaint_download::{
    BackendManifest, Backends, DownloadConfig, Downloader, FetchRequest, FolderFile, FolderRequest,
    Hardware, NetworkMode, Phase, Progress,
};
use inpaint_registry::{
    CATALOG, Discovery, ModelInfo, ModelRoot, PlannedFile, Registry, Scanner, Verification,
    download_plan,
};
use openai_flags::BudgetFlags;

/// Lists, downloads and identifies models, and manages ONNX Runtime backends.
#[derive(Debug, Parser)]
#[command(name = "models", version, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every known model: its architecture, size, checksum and what is on disk.
    List {
        /// The project model folder (`D/<id>/<file>`); without it, the default folders.
        #[arg(long, value_name = "D")]
        model_dir: Option<PathBuf>,
        /// Skip hashing the files on disk (faster; says "present, not verified").
        #[arg(long = "no-verify", action = ArgAction::SetFalse)]
        verify: bool,
    },
    /// Downloads a catalog model, resumably, checking its sha256 before renaming it into place.
    Download {
        /// The catalog id or alias (`models list` shows them).
        #[arg(value_name = "ID")]
        id: String,
        /// The project model folder to download into; without it, `INPAINT_MODELS_DIR` or
        /// ~/.cache/inpaint/models.
        #[arg(long, value_name = "D")]
        model_dir: Option<PathBuf>,
        /// The Hugging Face endpoint (overrides `HF_ENDPOINT`).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Download a file the catalog has no checksum for.
        #[arg(long)]
        allow_unverified: bool,
        /// Use only what is already on disk; never touch the network.
        #[arg(long)]
        offline: bool,
    },
    /// Identifies the model files in a folder by their content, and says why others are not.
    Scan {
        /// The folder to look in.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Writes a Triton model repository entry for a downloaded or discovered ONNX model.
    ExportTriton {
        /// The model's id (`models list`), or a discovered file's path in its folder.
        #[arg(value_name = "ID")]
        id: String,
        /// The model repository: `<NAME>/config.pbtxt` and `<NAME>/1/model.onnx` go there.
        #[arg(value_name = "OUT_DIR")]
        out_dir: PathBuf,
        /// The project model folder; without it, the default folders.
        #[arg(long, value_name = "D")]
        model_dir: Option<PathBuf>,
        /// The model's name on the server (default: the id, or the file's stem).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// ONNX Runtime builds installed for the `inpaint` example.
    #[command(subcommand)]
    Backend(BackendCommand),
    /// What openai-compat spent (per UTC month and day, from its ledger) and the caps.
    Budget {
        #[command(flatten)]
        flags: BudgetFlags,
    },
}

#[derive(Debug, Subcommand)]
enum BackendCommand {
    /// The installed backends, and the one this machine would use.
    List,
    /// Installs a backend from a `.whl`, `.zip` or `.tgz` holding `libonnxruntime`.
    Install {
        /// The archive: a file, or an http(s) URL to download.
        #[arg(value_name = "FILE|URL")]
        source: String,
        /// The archive's sha256 (hex); nothing is installed if it differs.
        #[arg(long, value_name = "HEX")]
        sha256: String,
        /// The backend's name (its folder under the backends folder).
        #[arg(long, value_name = "N")]
        name: String,
        /// The ONNX Runtime version the archive holds.
        #[arg(long, value_name = "V")]
        version: String,
        /// The execution providers it was built with, comma-separated.
        #[arg(
            long,
            value_name = "cpu,cuda",
            value_delimiter = ',',
            default_value = "cpu"
        )]
        providers: Vec<String>,
        /// What it needs to run: any, or nvidia-gpu.
        #[arg(long, value_name = "any|nvidia-gpu", value_parser = parse_hardware, default_value = "any")]
        hardware: Hardware,
    },
    /// Removes an installed backend.
    Remove {
        /// The backend's name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

fn parse_hardware(text: &str) -> Result<Hardware, String> {
    match text {
        "any" => Ok(Hardware::Any),
        "nvidia-gpu" => Ok(Hardware::NvidiaGpu),
        other => Err(format!(
            "unknown hardware `{other}`; expected any or nvidia-gpu"
        )),
    }
}

fn backend(command: &BackendCommand) -> Result<(), String> {
    let backends = Backends::from_env().map_err(|e| full_message(&e))?;
    match command {
        BackendCommand::List => {
            let installed = backends.list().map_err(|e| full_message(&e))?;
            println!("backends folder: {}", backends.root().display());
            if installed.is_empty() {
                println!("no backends installed");
            }
            for backend in installed {
                match backend {
                    Ok(b) => println!(
                        "{}: ONNX Runtime {} [{}] for {} ({})",
                        b.name,
                        b.manifest.version,
                        b.manifest.providers.join(", "),
                        b.manifest.hardware,
                        b.library.display()
                    ),
                    Err(err) => println!("broken: {err}"),
                }
            }
            match backends.resolve_auto() {
                Ok(b) => println!("this machine would use: {}", b.name),
                Err(err) => println!("this machine would use none: {err}"),
            }
        }
        BackendCommand::Install {
            source,
            sha256,
            name,
            version,
            providers,
            hardware,
        } => {
            let manifest =
                BackendManifest::new(name.clone(), version.clone(), providers.clone(), *hardware);
            let installed = if source.starts_with("http://") || source.starts_with("https://") {
                let downloader = Downloader::new(DownloadConfig::from_env());
                backends.install_url(&downloader, source, sha256, manifest)
            } else {
                backends.install_file(Path::new(source), sha256, manifest)
            }
            .map_err(|e| e.to_string())?;
            println!(
                "installed {} ({})",
                installed.name,
                installed.library.display()
            );
        }
        BackendCommand::Remove { name } => {
            backends.remove(name).map_err(|e| full_message(&e))?;
            println!("removed {name}");
        }
    }
    Ok(())
}

/// The roots to scan: the given project folder, or the defaults.
fn roots(model_dir: Option<&PathBuf>) -> Vec<ModelRoot> {
    match model_dir {
        Some(dir) => vec![ModelRoot::project(dir)],
        None => ModelRoot::defaults_from_env(),
    }
}

fn list(model_dir: Option<&PathBuf>, verify: bool) -> Result<(), String> {
    let roots = roots(model_dir);
    let mut scanner = Scanner::new();
    let mut discovery = scanner.scan(&roots);
    println!(
        "roots: {}",
        roots
            .iter()
            .map(|r| r.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:<16} {:<16} {:<11} {:<10} on disk",
        "id", "architecture", "size", "checksum"
    );
    for entry in CATALOG {
        let pinned = match entry.files {
            [] => "none",
            files if files.iter().all(|f| f.integrity.sha256().is_some()) => "sha256",
            _ => "unverified",
        };
        let size = match entry.files {
            [] => None,
            files => files
                .iter()
                .map(|f| f.integrity.size())
                .sum::<Option<u64>>(),
        };
        let on_disk = if entry.needs_network {
            "remote: needs a prompt, a key and the network".to_string()
        } else if entry.files.is_empty() {
            "built in".to_string()
        } else {
            match discovery.models.iter_mut().find(|m| m.id == entry.id) {
                None => "not downloaded".to_string(),
                Some(model) => {
                    if verify {
                        scanner.verify(model).map_err(|e| e.full_message())?;
                    }
                    describe_present(model)
                }
            }
        };
        println!(
            "{:<16} {:<16} {:<11} {:<10} {on_disk}",
            entry.id,
            entry.architecture.name(),
            size.map_or("-".to_string(), megabytes),
            pinned
        );
    }
    let others: Vec<&ModelInfo> = discovery
        .models
        .iter()
        .filter(|m| m.catalog.is_none())
        .collect();
    if !others.is_empty() {
        println!("\nother model files found:");
        for model in others {
            // A diffusion pipeline says what it is: it paints from a prompt.
            let kind = match model.architecture {
                Some(arch) if arch.needs_prompt() => format!(" — {arch}"),
                _ => String::new(),
            };
            println!("  {}: {}{kind}", model.id, describe_present(model));
        }
    }
    Ok(())
}

fn describe_present(model: &ModelInfo) -> String {
    let state = if !model.problems.is_empty() {
        format!("unusable: {}", model.problems.join("; "))
    } else if model.is_verified() {
        "verified".to_string()
    } else if model
        .files
        .iter()
        .any(|f| f.verification == Verification::NoDigest)
    {
        "present, no checksum to verify".to_string()
    } else {
        "present, not verified".to_string()
    };
    format!("{state} ({})", model.path().display())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn download(
    id: &str,
    model_dir: Option<&PathBuf>,
    endpoint: Option<&str>,
    allow_unverified: bool,
    offline: bool,
) -> Result<(), String> {
    let plan = download_plan(id).map_err(|e| e.full_message())?;
    let entry = inpaint_registry::catalog::resolve(Some(id))
        .map_err(|e| e.full_message())?
        .entry;
    if plan.is_empty() {
        println!("{}: built in, nothing to download", entry.id);
        return Ok(());
    }
    let root = match model_dir {
        Some(dir) => dir.clone(),
        None => roots(None)
            .into_iter()
            .next()
            .map(|root| root.path)
            .ok_or("no model folder: give --model-dir or set INPAINT_MODELS_DIR")?,
    };
    let mut config = DownloadConfig::from_env().with_allow_unverified(allow_unverified);
    if let Some(endpoint) = endpoint {
        config = config.with_endpoint(endpoint);
    }
    if offline {
        config = config.with_mode(NetworkMode::Offline);
    }
    let dir = entry.install_dir(&root);
    let downloader = Downloader::new(config);
    if plan.len() > 1 {
        return download_folder(entry.id, &plan, &dir, &downloader);
    }
    for file in &plan {
        let url = downloader.config().url_override(file.model_id).map_or_else(
            || file.url_for_endpoint(&downloader.config().endpoint),
            str::to_string,
        );
        let bar = ProgressBar::new(file.size.unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
        );
        bar.set_message(format!("{} connecting", file.file_name));
        let progress = |p: Progress| {
            if let Some(total) = p.total {
                bar.set_length(total);
            }
            bar.set_position(p.done);
            match p.phase {
                Phase::Connecting => bar.set_message(format!("{} connecting", file.file_name)),
                Phase::Downloading => bar.set_message(file.file_name.to_string()),
                Phase::Verifying => bar.set_message(format!("{} verifying", file.file_name)),
                _ => {}
            }
        };
        let mut request = FetchRequest::new(&url, &dir, file.file_name).with_progress(&progress);
        if let Some(sha256) = file.sha256 {
            request = request.with_sha256(sha256);
        }
        if let Some(size) = file.size {
            request = request.with_size(size);
        }
        let result = downloader.fetch(&request);
        bar.finish_and_clear();
        let path = result.map_err(|e| format!("{}: {}", entry.id, full_message(&e)))?;
        let checked = if file.sha256.is_some() {
            "sha256 verified"
        } else {
            "NOT verified: the catalog has no checksum"
        };
        println!("{}: {} ({checked})", entry.id, path.display());
    }
    Ok(())
}

/// A model of several files (a Stable Diffusion pipeline): every file verified into a staging
/// folder beside `dir`, which becomes `dir` only once all are there. `<ID>_MODEL_URL` is then
/// the base URL the files' paths are appended to.
fn download_folder(
    id: &str,
    plan: &[PlannedFile],
    dir: &Path,
    downloader: &Downloader,
) -> Result<(), String> {
    let config = downloader.config();
    let urls: Vec<String> = plan
        .iter()
        .map(|file| match config.url_override(file.model_id) {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), file.file_name),
            None => file.url_for_endpoint(&config.endpoint),
        })
        .collect();
    let files: Vec<FolderFile<'_>> = plan
        .iter()
        .zip(&urls)
        .map(|(file, url)| FolderFile {
            url,
            path: file.file_name,
            sha256: file.sha256,
            size: file.size,
        })
        .collect();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let count = plan.len();
    let progress = |index: usize, p: Progress| {
        let name = plan.get(index).map_or("", |f| f.file_name);
        bar.set_length(p.total.unwrap_or(0));
        bar.set_position(p.done);
        let what = match p.phase {
            Phase::Connecting => " connecting",
            Phase::Verifying => " verifying",
            _ => "",
        };
        bar.set_message(format!("{}/{count} {name}{what}", index + 1));
    };
    let result = downloader.fetch_folder(&FolderRequest::new(&files, dir).with_progress(&progress));
    bar.finish_and_clear();
    let path = result.map_err(|e| format!("{id}: {}", full_message(&e)))?;
    let checked = if plan.iter().all(|f| f.sha256.is_some()) {
        "every sha256 verified"
    } else {
        "NOT verified: the catalog has no checksums"
    };
    println!("{id}: {} ({count} files, {checked})", path.display());
    Ok(())
}

fn scan(dir: &PathBuf) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a folder", dir.display()));
    }
    let discovery: Discovery = Scanner::new().scan(&[ModelRoot::loose(dir)]);
    for model in &discovery.models {
        let mut line = match &model.architecture {
            Some(arch) if arch.needs_prompt() => format!("{}: {arch}", model.id),
            Some(arch) => format!("{}: {}", model.id, arch.name()),
            None => format!("{}: not usable", model.id),
        };
        if !model.problems.is_empty() {
            line.push_str(&format!(" — {}", model.problems.join("; ")));
        }
        for note in &model.notes {
            line.push_str(&format!(" — {note}"));
        }
        println!("{line}");
    }
    for note in discovery.skipped.iter().chain(&discovery.errors) {
        println!("{}: skipped: {}", note.path.display(), note.reason);
    }
    if discovery.models.is_empty() {
        println!("no model files in {}", dir.display());
    }
    Ok(())
}

/// `models budget`: the ledger's spending per month and day, and the caps.
fn budget(flags: &BudgetFlags) -> Result<(), String> {
    let (caps, path) = flags.budget_view()?;
    let path = path.ok_or("no place for the ledger: give --budget-db")?;
    println!(
        "caps:   session {}, day {}, month {} (US dollars; 0 = unlimited)",
        openai_flags::cap_text(caps.session),
        openai_flags::cap_text(caps.day),
        openai_flags::cap_text(caps.month)
    );
    // Opening creates the file; a ledger that does not exist yet has nothing to show.
    if !path.exists() {
        println!("ledger: {} (no requests yet)", path.display());
        return Ok(());
    }
    let ledger = inpaint_openai::Ledger::open(&path).map_err(|e| full_message(&e))?;
    println!("ledger: {}", path.display());
    if ledger.reconciled() > 0 {
        println!(
            "        {} request(s) left pending by a process that ended: marked interrupted, \
             counted at their estimate",
            ledger.reconciled()
        );
    }
    for (by_month, what) in [(true, "month"), (false, "day")] {
        println!(
            "\n{what:<10} {:>10} {:>5} {:>8} {:>13}",
            "spent", "sent", "refused", "deduplicated"
        );
        for period in ledger.periods(by_month).map_err(|e| full_message(&e))? {
            println!(
                "{:<10} {:>10} {:>5} {:>8} {:>13}",
                period.period,
                period.spent.to_string(),
                period.sent,
                period.refused,
                period.deduplicated
            );
        }
    }
    Ok(())
}

/// Writes the Triton model repository entry of model `id` (found in the model folders).
fn export_triton(
    id: &str,
    out_dir: &Path,
    model_dir: Option<&PathBuf>,
    name: Option<&str>,
) -> Result<(), String> {
    let roots = match model_dir {
        Some(dir) => vec![ModelRoot::project(dir)],
        None => ModelRoot::defaults_from_env(),
    };
    let discovery = Scanner::new().scan(&roots);
    let plan = Registry::new(None, Some(&discovery))
        .plan(Some(id))
        .map_err(|e| full_message(&e))?;
    // A discovered file's id is its path in its root: its stem makes the server-side name.
    let stem = Path::new(id)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(id);
    let name = name.unwrap_or(stem);
    let export =
        inpaint_registry::export_triton(&plan, out_dir, name).map_err(|e| full_message(&e))?;
    println!("wrote {}", export.config.display());
    println!("wrote {}", export.model.display());
    println!(
        "serve:  tritonserver --model-repository {}   (then: inpaint --remote http://HOST:8000 \
         --remote-model {name} --arch {})",
        out_dir.display(),
        plan.architecture.name()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logs::init();
    let result = match &cli.command {
        Command::List { model_dir, verify } => list(model_dir.as_ref(), *verify),
        Command::Download {
            id,
            model_dir,
            endpoint,
            allow_unverified,
            offline,
        } => download(
            id,
            model_dir.as_ref(),
            endpoint.as_deref(),
            *allow_unverified,
            *offline,
        ),
        Command::Scan { dir } => scan(dir),
        Command::ExportTriton {
            id,
            out_dir,
            model_dir,
            name,
        } => export_triton(id, out_dir, model_dir.as_ref(), name.as_deref()),
        Command::Backend(command) => backend(command),
        Command::Budget { flags } => budget(flags),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
