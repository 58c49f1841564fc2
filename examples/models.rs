//! Lists, downloads and identifies models.
//!
//! ```text
//! cargo run --release --example models -- list [--model-dir D] [--no-verify]
//! cargo run --release --example models -- download ID [--model-dir D] [--endpoint URL] [--allow-unverified] [--offline]
//! cargo run --release --example models -- scan DIR
//! ```
//!
//! `--model-dir D` is the project model folder (`D/<id>/<file>`); without it, the default roots
//! are used: `INPAINT_MODELS_DIR` or `~/.cache/inpaint/models`, then the Hugging Face hub
//! cache. Downloads honour `HF_ENDPOINT`, `HF_HUB_OFFLINE` and `<ID>_MODEL_URL` (e.g.
//! `LAMA_MODEL_URL`); every file is checked against the catalog's sha256 before it is renamed
//! into place, so a failed or corrupt download never leaves a model file behind.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use inpaint_download::{DownloadConfig, Downloader, FetchRequest, NetworkMode, Phase, Progress};
use inpaint_registry::{
    CATALOG, Discovery, ModelInfo, ModelRoot, Scanner, Verification, download_plan,
};

const USAGE: &str = "usage: models list [--model-dir D] [--no-verify]
       models download ID [--model-dir D] [--endpoint URL] [--allow-unverified] [--offline]
       models scan DIR";

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
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Command>, String> {
    let Some(command) = args.next() else {
        return Err("a command is needed: list, download or scan".into());
    };
    if command == "-h" || command == "--help" {
        return Ok(None);
    }
    let (mut positional, mut model_dir, mut endpoint) = (Vec::new(), None, None);
    let (mut verify, mut allow_unverified, mut offline) = (true, false, false);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model-dir" => model_dir = Some(PathBuf::from(value()?)),
            "--endpoint" => endpoint = Some(value()?),
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
        "list" | "scan" => return Err(format!("unexpected arguments for `{command}`")),
        other => {
            return Err(format!(
                "unknown command `{other}`; commands: list, download, scan"
            ));
        }
    };
    Ok(Some(command))
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
        let path = result.map_err(|e| format!("{}: {e}", entry.id))?;
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
