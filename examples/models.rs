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
//! ```
//!
//! Backends are ONNX Runtime builds (a `.whl`, `.zip` or `.tgz` holding `libonnxruntime`)
//! installed into `$INPAINT_HOME/backends` (or `~/.local/share/inpaint/backends`); the
//! `inpaint` example uses the one that fits this machine when no library is named.
//!
//! `--model-dir D` is the project model folder (`D/<id>/<file>`); without it, the default roots
//! are used: `INPAINT_MODELS_DIR` or `~/.cache/inpaint/models`, then the Hugging Face hub
//! cache. Downloads honour `HF_ENDPOINT`, `HF_HUB_OFFLINE` and `<ID>_MODEL_URL` (e.g.
//! `LAMA_MODEL_URL`); every file is checked against the catalog's sha256 before it is renamed
//! into place, so a failed or corrupt download never leaves a model file behind.
//!
//! `export-triton` writes a Triton model repository for a downloaded (or discovered) ONNX
//! model: `OUT_DIR/<NAME>/config.pbtxt` and `OUT_DIR/<NAME>/1/model.onnx` (`NAME`: the id,
//! or the file's stem for a discovered file), to serve it to `inpaint --remote` (README, "Scale
//! out").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use inpaint_core::error::full_message;
use inpaint_download::{
    BackendManifest, Backends, DownloadConfig, Downloader, FetchRequest, Hardware, NetworkMode,
    Phase, Progress,
};
use inpaint_registry::{
    CATALOG, Discovery, ModelInfo, ModelRoot, Registry, Scanner, Verification, download_plan,
};

const USAGE: &str = "usage: models list [--model-dir D] [--no-verify]
       models download ID [--model-dir D] [--endpoint URL] [--allow-unverified] [--offline]
       models scan DIR
       models export-triton ID OUT_DIR [--model-dir D] [--name NAME]
       models backend list | install FILE|URL --sha256 HEX --name N --version V \
[--providers cpu,cuda] [--hardware any|nvidia-gpu] | remove NAME";

enum Command {
    List {
        model_dir: Option<PathBuf>,
        verify: bool,
    },
    Download {
        id: String,
        model_dir: Option<PathBuf>,
        endpoint: Option<String>,
        allow_unverified: bool,
        offline: bool,
    },
    Scan {
        dir: PathBuf,
    },
    ExportTriton {
        id: String,
        out_dir: PathBuf,
        model_dir: Option<PathBuf>,
        name: Option<String>,
    },
    BackendList,
    BackendInstall {
        source: String,
        sha256: String,
        manifest: BackendManifest,
    },
    BackendRemove {
        name: String,
    },
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Command>, String> {
    let Some(command) = args.next() else {
        return Err("a command is needed: list, download, scan or backend".into());
    };
    if command == "-h" || command == "--help" {
        return Ok(None);
    }
    if command == "backend" {
        return parse_backend(args).map(Some);
    }
    let (mut positional, mut model_dir, mut endpoint, mut name) = (Vec::new(), None, None, None);
    let (mut verify, mut allow_unverified, mut offline) = (true, false, false);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model-dir" => model_dir = Some(PathBuf::from(value()?)),
            "--endpoint" => endpoint = Some(value()?),
            "--name" if command == "export-triton" => name = Some(value()?),
            "--no-verify" => verify = false,
            "--allow-unverified" => allow_unverified = true,
            "--offline" => offline = true,
            "-h" | "--help" => return Ok(None),
            other if other.starts_with('-') => return Err(format!("unknown argument `{other}`")),
            other => positional.push(other.to_string()),
        }
    }
    let one = |what: &str| match positional.as_slice() {
        [single] => Ok(single.clone()),
        [] => Err(format!("`{command}` needs {what}")),
        _ => Err(format!("`{command}` takes one {what}")),
    };
    let command = match command.as_str() {
        "list" if positional.is_empty() => Command::List { model_dir, verify },
        "download" => Command::Download {
            id: one("a model id")?,
            model_dir,
            endpoint,
            allow_unverified,
            offline,
        },
        "scan" if model_dir.is_none() => Command::Scan {
            dir: PathBuf::from(one("a folder")?),
        },
        "export-triton" => match positional.as_slice() {
            [id, out_dir] => Command::ExportTriton {
                id: id.clone(),
                out_dir: PathBuf::from(out_dir),
                model_dir,
                name,
            },
            _ => return Err("`export-triton` needs a model id and an output folder".into()),
        },
        "list" | "scan" => return Err(format!("unexpected arguments for `{command}`")),
        other => {
            return Err(format!(
                "unknown command `{other}`; commands: list, download, scan, export-triton, backend"
            ));
        }
    };
    Ok(Some(command))
}

fn parse_backend(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let action = args
        .next()
        .ok_or("`backend` needs list, install or remove")?;
    let mut positional = Vec::new();
    let (mut sha256, mut name, mut version) = (None, None, None);
    let (mut providers, mut hardware) = (vec!["cpu".to_string()], Hardware::Any);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sha256" => sha256 = Some(value()?),
            "--name" => name = Some(value()?),
            "--version" => version = Some(value()?),
            "--providers" => providers = value()?.split(',').map(str::to_string).collect(),
            "--hardware" => {
                hardware = match value()?.as_str() {
                    "any" => Hardware::Any,
                    "nvidia-gpu" => Hardware::NvidiaGpu,
                    other => {
                        return Err(format!(
                            "unknown hardware `{other}`; expected any or nvidia-gpu"
                        ));
                    }
                }
            }
            other if other.starts_with('-') => return Err(format!("unknown argument `{other}`")),
            other => positional.push(other.to_string()),
        }
    }
    let needed = |what: &str| format!("`backend {action}` needs {what}");
    match (action.as_str(), positional.as_slice()) {
        ("list", []) => Ok(Command::BackendList),
        ("remove", [name]) => Ok(Command::BackendRemove { name: name.clone() }),
        ("install", [source]) => {
            let name = name.ok_or_else(|| needed("--name"))?;
            let version = version.ok_or_else(|| needed("--version"))?;
            Ok(Command::BackendInstall {
                source: source.clone(),
                sha256: sha256.ok_or_else(|| needed("--sha256 (the archive's checksum)"))?,
                manifest: BackendManifest::new(name, version, providers, hardware),
            })
        }
        ("list" | "remove" | "install", _) => Err(needed("one argument (see usage)")),
        (other, _) => Err(format!(
            "unknown backend action `{other}`; actions: list, install, remove"
        )),
    }
}

fn backend(command: &Command) -> Result<(), String> {
    let backends = Backends::from_env().map_err(|e| full_message(&e))?;
    match command {
        Command::BackendList => {
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
        Command::BackendInstall {
            source,
            sha256,
            manifest,
        } => {
            let installed = if source.starts_with("http://") || source.starts_with("https://") {
                let downloader = Downloader::new(DownloadConfig::from_env());
                backends.install_url(&downloader, source, sha256, manifest.clone())
            } else {
                backends.install_file(Path::new(source), sha256, manifest.clone())
            }
            .map_err(|e| e.to_string())?;
            println!(
                "installed {} ({})",
                installed.name,
                installed.library.display()
            );
        }
        Command::BackendRemove { name } => {
            backends.remove(name).map_err(|e| full_message(&e))?;
            println!("removed {name}");
        }
        _ => unreachable!("only backend commands come here"),
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
        let on_disk = if entry.files.is_empty() {
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
            println!("  {}: {}", model.id, describe_present(model));
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

fn scan(dir: &PathBuf) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a folder", dir.display()));
    }
    let discovery: Discovery = Scanner::new().scan(&[ModelRoot::loose(dir)]);
    for model in &discovery.models {
        let mut line = match &model.architecture {
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
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(Some(command)) => command,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match &command {
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
        backend_command => backend(backend_command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
