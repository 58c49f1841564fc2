//! A small HTTP/1.1 server on 127.0.0.1 with `Range` support and injectable faults, plus
//! fixtures. One server per test; each connection is served on its own thread and closed after
//! one response (`Connection: close`).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use inpaint_download::{DownloadConfig, Progress};
use sha2::{Digest, Sha256};

/// What the server does wrong for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Announce the full `Content-Length`, send this many body bytes, then close.
    CutAfter(usize),
    /// Answer every request `200` with the whole body, ignoring `Range`.
    IgnoreRange,
    /// Send this many body bytes, then go silent (until the server stops, at most 5 s).
    Stall { after: usize },
    /// Answer with this status and a short text body.
    Status(u16),
    /// Serve the right length with one byte flipped.
    WrongBytes,
    /// Wait this long before answering.
    Delay(Duration),
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) range: Option<String>,
    pub(crate) if_range: Option<String>,
}

struct Route {
    body: Vec<u8>,
    etag: String,
    /// Faults for the next requests, one per request.
    once: VecDeque<Fault>,
    /// Faults for every request.
    always: Vec<Fault>,
}

#[derive(Default)]
struct Shared {
    routes: HashMap<String, Route>,
    seen: Vec<Seen>,
}

/// The test server; stops when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (shared, stop) = (shared.clone(), stop.clone());
                    thread::spawn(move || handle(stream, &shared, &stop));
                }
            })
        };
        Self {
            addr,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `body` at `path`, with a strong ETag.
    pub(crate) fn serve(&self, path: &str, body: Vec<u8>) {
        let etag = format!("\"{}\"", &sha256_hex(&body)[..16]);
        self.shared.lock().unwrap().routes.insert(
            path.to_owned(),
            Route {
                body,
                etag,
                once: VecDeque::new(),
                always: Vec::new(),
            },
        );
    }

    pub(crate) fn fault_once(&self, path: &str, fault: Fault) {
        let mut shared = self.shared.lock().unwrap();
        shared.routes.get_mut(path).unwrap().once.push_back(fault);
    }

    pub(crate) fn fault_always(&self, path: &str, fault: Fault) {
        let mut shared = self.shared.lock().unwrap();
        shared.routes.get_mut(path).unwrap().always.push(fault);
    }

    pub(crate) fn etag(&self, path: &str) -> String {
        self.shared.lock().unwrap().routes[path].etag.clone()
    }

    /// Every request so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.shared.lock().unwrap().seen.len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn handle(stream: TcpStream, shared: &Mutex<Shared>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return; // the wake-up connection from Drop
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }

    let plan = {
        let mut shared = shared.lock().unwrap();
        shared.seen.push(Seen {
            path: path.clone(),
            range: headers.get("range").cloned(),
            if_range: headers.get("if-range").cloned(),
        });
        shared.routes.get_mut(&path).map(|route| {
            let mut faults: Vec<Fault> = route.once.pop_front().into_iter().collect();
            faults.extend(route.always.iter().cloned());
            (route.body.clone(), route.etag.clone(), faults)
        })
    };
    let mut out = stream;
    let Some((mut body, etag, faults)) = plan else {
        respond_status(&mut out, 404);
        return;
    };
    for fault in &faults {
        if let Fault::Delay(delay) = fault {
            thread::sleep(*delay);
        }
    }
    if let Some(status) = faults.iter().find_map(|f| match f {
        Fault::Status(s) => Some(*s),
        _ => None,
    }) {
        respond_status(&mut out, status);
        return;
    }
    if faults.contains(&Fault::WrongBytes) {
        let middle = body.len() / 2;
        body[middle] ^= 0xff;
    }
    let ignore_range = faults.contains(&Fault::IgnoreRange);
    let start = headers
        .get("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let if_range_holds = headers.get("if-range").is_none_or(|v| *v == etag);
    let len = body.len();
    let (status, slice, extra) = match start {
        Some(start) if !ignore_range && if_range_holds => {
            if start >= len {
                (416, &body[..0], format!("Content-Range: bytes */{len}\r\n"))
            } else {
                (
                    206,
                    &body[start..],
                    format!("Content-Range: bytes {start}-{}/{len}\r\n", len - 1),
                )
            }
        }
        _ => (200, &body[..], String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\n\
         Connection: close\r\n{extra}\r\n",
        reason(status),
        slice.len()
    );
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    for fault in &faults {
        match fault {
            Fault::CutAfter(n) => {
                let _ = out.write_all(&slice[..(*n).min(slice.len())]);
                let _ = out.flush();
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
            Fault::Stall { after } => {
                let _ = out.write_all(&slice[..(*after).min(slice.len())]);
                let _ = out.flush();
                let until = Instant::now() + Duration::from_secs(5);
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            _ => {}
        }
    }
    let _ = out.write_all(slice);
    let _ = out.flush();
}

fn respond_status(out: &mut TcpStream, status: u16) {
    let body = format!("status {status}\n");
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    let _ = out.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// `n` deterministic pseudo-random bytes.
pub(crate) fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A configuration for tests: unverified refused, short timeouts, fast retries.
pub(crate) fn quick_config() -> DownloadConfig {
    DownloadConfig::default()
        .with_retries(0)
        .with_retry_delay(Duration::from_millis(10))
        .with_stall_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_secs(2))
        .with_lock_timeout(Duration::from_secs(10))
}

/// Records progress events.
#[derive(Default)]
pub(crate) struct Recorder(pub(crate) Mutex<Vec<Progress>>);

impl Recorder {
    pub(crate) fn callback(&self) -> impl Fn(Progress) + Sync + '_ {
        move |p| self.0.lock().unwrap().push(p)
    }

    pub(crate) fn events(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }
}

/// Names of the files in `dir`, sorted.
pub(crate) fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
