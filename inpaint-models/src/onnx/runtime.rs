//! Finding, checking and loading the ONNX Runtime shared library.
//!
//! A process holds one ONNX Runtime: the first successful [`Runtime::load`] decides which
//! library that is, and later calls get the same one (or an error if they ask for another).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use inpaint_core::{Error, Result};

/// The ONNX Runtime release `ort` 2.0.0-rc.15 is written for; older libraries are refused.
pub const REQUIRED_VERSION: &str = "1.31";

/// What a user without the library can do, for error messages.
const HOW_TO_GET_IT: &str = "Get it with scripts/fetch-onnxruntime.sh, point ORT_DYLIB_PATH \
    at your own build, or build inpaint-models with the `download-binaries` feature";

/// The folder name, under a runtime folder, of the release the project's fetch script installs.
const PINNED_RELEASE: &str = "1.31.1";

/// The library's file name on this platform (`libonnxruntime.so`, `onnxruntime.dll`, …).
fn library_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Where to look for the ONNX Runtime library, in this order:
///
/// 1. [`library`](Self::library), an explicit path;
/// 2. [`env_library`](Self::env_library): `ORT_DYLIB_PATH`, only when read by
///    [`from_env`](Self::from_env);
/// 3. each of [`runtime_dirs`](Self::runtime_dirs): `DIR/libonnxruntime.so` or
///    `DIR/<release>/libonnxruntime.so` (the layout `scripts/fetch-onnxruntime.sh` writes);
/// 4. the system loader's search path (`LD_LIBRARY_PATH`, `/usr/lib`, … on Linux), when
///    [`system`](Self::system) is set.
///
/// A path named in 1 or 2 must exist: a typo there is an error, never a silent fallback to
/// another library. Among 3 and 4, the first place that holds a file is used; if loading it
/// fails, that is the error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeSearch {
    /// An explicit library path, tried first.
    pub library: Option<PathBuf>,
    /// The library named by `ORT_DYLIB_PATH`, when [`from_env`](Self::from_env) read one.
    pub env_library: Option<PathBuf>,
    /// Folders that hold the library, or one sub-folder per release.
    pub runtime_dirs: Vec<PathBuf>,
    /// Whether to fall back to the system loader's search path.
    pub system: bool,
}

impl Default for RuntimeSearch {
    /// No explicit path; the project's runtime folder; then the system loader.
    fn default() -> Self {
        RuntimeSearch {
            library: None,
            env_library: None,
            runtime_dirs: vec![project_runtime_dir()],
            system: true,
        }
    }
}

/// The folder `scripts/fetch-onnxruntime.sh` installs into (`.runtime/onnxruntime` at the root
/// of this source tree). It only exists in a checkout of the project; elsewhere it is skipped.
pub fn project_runtime_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .unwrap_or(manifest_dir)
        .join(".runtime")
        .join("onnxruntime")
}

impl RuntimeSearch {
    /// The default search plus `ORT_DYLIB_PATH`, when it is set and not empty.
    pub fn from_env() -> Self {
        RuntimeSearch {
            env_library: std::env::var_os("ORT_DYLIB_PATH")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
            ..RuntimeSearch::default()
        }
    }

    /// Sets the explicit library path.
    pub fn with_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.library = Some(path.into());
        self
    }

    /// Adds a runtime folder, searched after those already set.
    pub fn with_runtime_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dirs.push(dir.into());
        self
    }

    /// Sets whether the system loader's search path is tried last.
    pub fn with_system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }

    /// The library to load, or an error saying where it looked.
    fn resolve(&self) -> std::result::Result<PathBuf, String> {
        let named = [
            (&self.library, "the given library path"),
            (&self.env_library, "ORT_DYLIB_PATH"),
        ];
        if let Some((path, what)) = named.iter().find_map(|(p, w)| p.as_ref().map(|p| (p, w))) {
            return if path.is_file() {
                Ok(path.clone())
            } else {
                Err(format!("{what} {} is not a file", path.display()))
            };
        }
        let name = library_file_name();
        let mut tried = Vec::new();
        tracing::debug!(dirs = ?self.runtime_dirs, system = self.system, "looking for {name}");
        for dir in &self.runtime_dirs {
            for candidate in [dir.join(&name), dir.join(PINNED_RELEASE).join(&name)] {
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
            tried.push(dir.join(PINNED_RELEASE).join(&name).display().to_string());
        }
        if self.system {
            return Ok(PathBuf::from(name));
        }
        Err(format!("looked at {}", tried.join(", ")))
    }
}

/// A loaded ONNX Runtime: the library, its version, and the process's one `ort` environment.
#[derive(Debug)]
pub struct Runtime {
    path: PathBuf,
    version: String,
    pub(crate) environment: ort::environment::Environment,
}

static LOADED: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

impl Runtime {
    /// Loads the library `search` finds, checks its version (at least
    /// [`REQUIRED_VERSION`]), and sets up the environment sessions are created in.
    ///
    /// Once a runtime is loaded, later calls return it; a call whose explicit
    /// [`library`](RuntimeSearch::library) names another file is an error, since a process
    /// cannot hold two.
    pub fn load(search: &RuntimeSearch) -> Result<Arc<Runtime>> {
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = loaded.as_ref() {
            if let Some(wanted) = &search.library {
                if !same_file(wanted, &runtime.path) {
                    return Err(Error::runtime(format!(
                        "ONNX Runtime is already loaded from {}; this process cannot also load {}",
                        runtime.path.display(),
                        wanted.display()
                    )));
                }
            }
            return Ok(Arc::clone(runtime));
        }

        let _span = tracing::debug_span!("runtime").entered();
        let path = search.resolve().map_err(|why| {
            Error::runtime(format!(
                "ONNX Runtime {REQUIRED_VERSION} not found: {why}. {HOW_TO_GET_IT}"
            ))
        })?;
        let builder = ort::init_from(&path).map_err(|err| {
            let message = match &err {
                ort::LoadDynamicError::BadVersion { .. } => format!(
                    "the ONNX Runtime at {} is too old: {err}; version {REQUIRED_VERSION} or \
                     later is needed",
                    path.display()
                ),
                _ => format!(
                    "cannot load ONNX Runtime {REQUIRED_VERSION} from {}: {err}. {HOW_TO_GET_IT}",
                    path.display()
                ),
            };
            Error::runtime(message)
        })?;
        let environment = builder
            .with_name("inpaint")
            .with_telemetry(false)
            .build()
            .map_err(|err| {
                Error::runtime_with(
                    format!("cannot start ONNX Runtime from {}", path.display()),
                    err,
                )
            })?;
        register_shared_cpu_arena(&environment).map_err(|why| {
            Error::runtime(format!(
                "ONNX Runtime from {} refused the shared CPU memory arena: {why}",
                path.display()
            ))
        })?;
        let runtime = Arc::new(Runtime {
            version: library_version(&path).unwrap_or_else(|| "unknown".to_string()),
            path,
            environment,
        });
        tracing::info!(
            version = %runtime.version,
            path = %runtime.path.display(),
            "ONNX Runtime loaded"
        );
        *loaded = Some(Arc::clone(&runtime));
        Ok(runtime)
    }

    /// The runtime already loaded in this process, if any.
    pub fn loaded() -> Option<Arc<Runtime>> {
        LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The library file, as found (a bare file name when the system loader found it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The library's version, e.g. `1.31.1` (`unknown` if its build string has none).
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Registers one CPU memory arena for the whole process, which sessions with the arena on
/// use instead of one arena each (`session.use_env_allocators`, set in `device.rs`).
///
/// An arena keeps the largest size it has ever served. With one per session, a pipeline of
/// several graphs (a diffusion model's text encoders, UNet and VAE) holds the sum of every
/// graph's peak for good; shared, it holds the largest stage's peak. Measured on SDXL-sized
/// graphs at 1024² (BENCHMARKS.md): per-session arenas ran a 24 GB machine out of memory.
/// The arena grows by what is asked (`arena_extend_strategy` 1), not by powers of two, which
/// can reserve up to twice what the largest stage needs.
fn register_shared_cpu_arena(
    environment: &ort::environment::Environment,
) -> std::result::Result<(), String> {
    use ort::AsPointer;
    use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};

    let info = MemoryInfo::new(
        AllocationDevice::CPU,
        0,
        AllocatorType::Arena,
        MemoryType::Default,
    )
    .map_err(|err| err.to_string())?;
    let api = ort::api();
    let keys = [c"arena_extend_strategy".as_ptr()];
    let values = [1usize];
    let mut config = std::ptr::null_mut();
    // SAFETY: the API table is ONNX Runtime's (loaded above); the key and value arrays hold
    // `keys.len()` entries and outlive the call; `config` is released exactly once, after the
    // registration has copied what it needs; `environment` and `info` are live objects of this
    // runtime.
    unsafe {
        ort_status(
            api,
            (api.CreateArenaCfgV2)(keys.as_ptr(), values.as_ptr(), keys.len(), &mut config),
        )?;
        let registered = ort_status(
            api,
            (api.CreateAndRegisterAllocator)(environment.ptr().cast_mut(), info.ptr(), config),
        );
        (api.ReleaseArenaCfg)(config);
        registered
    }
}

/// An `OrtStatus` as a result (null is success), releasing it.
///
/// # Safety
/// `status` is null or a status ONNX Runtime returned and nothing else owns.
unsafe fn ort_status(
    api: &ort::sys::OrtApi,
    status: ort::sys::OrtStatusPtr,
) -> std::result::Result<(), String> {
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: as the caller promises; the message is copied before the status is released.
    unsafe {
        let message = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0))
            .to_string_lossy()
            .into_owned();
        (api.ReleaseStatus)(status.0);
        Err(message)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The version the library reports (`OrtGetApiBase()->GetVersionString()`), e.g. `1.31.1`.
fn library_version(path: &Path) -> Option<String> {
    /// The head of ONNX Runtime's `OrtApiBase`, stable across releases.
    #[repr(C)]
    struct OrtApiBase {
        get_api: unsafe extern "C" fn(u32) -> *const std::ffi::c_void,
        get_version_string: unsafe extern "C" fn() -> *const std::ffi::c_char,
    }
    // SAFETY: the library is already loaded (by `ort::init_from`), so opening it again runs no
    // initialisers; the symbol has the C signature ONNX Runtime documents, and the version
    // string is a static NUL-terminated string owned by the library, which stays loaded.
    unsafe {
        let library = libloading::Library::new(path).ok()?;
        let get_base: libloading::Symbol<'_, unsafe extern "C" fn() -> *const OrtApiBase> =
            library.get(b"OrtGetApiBase").ok()?;
        let base = get_base();
        if base.is_null() {
            return None;
        }
        let version = ((*base).get_version_string)();
        if version.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(version)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_is_named_paths_then_folders_then_system() {
        let dir = std::env::temp_dir().join(format!("inpaint-rt-{}", std::process::id()));
        let release = dir.join(PINNED_RELEASE);
        std::fs::create_dir_all(&release).unwrap();
        let in_release = release.join(library_file_name());
        std::fs::write(&in_release, b"not a library").unwrap();

        let folders = RuntimeSearch {
            library: None,
            env_library: None,
            runtime_dirs: vec![dir.join("empty"), dir.clone()],
            system: false,
        };
        assert_eq!(folders.resolve(), Ok(in_release.clone()));

        // A named path that is missing is an error, not a reason to look elsewhere.
        let env_typo = RuntimeSearch {
            env_library: Some(dir.join("typo.so")),
            ..folders.clone()
        };
        let why = env_typo.resolve().unwrap_err();
        assert!(
            why.starts_with("ORT_DYLIB_PATH ") && why.contains("typo.so"),
            "{why}"
        );
        // The explicit path comes before ORT_DYLIB_PATH.
        assert_eq!(
            env_typo.clone().with_library(&in_release).resolve(),
            Ok(in_release.clone())
        );

        let nowhere = RuntimeSearch {
            runtime_dirs: vec![dir.join("empty")],
            ..folders
        };
        let why = nowhere.resolve().unwrap_err();
        assert!(why.contains("empty"), "{why}");
        assert_eq!(
            nowhere.with_system(true).resolve(),
            Ok(PathBuf::from(library_file_name()))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
