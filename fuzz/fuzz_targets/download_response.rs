//! A whole `Downloader::fetch` against an in-process HTTP server whose answer comes from the
//! fuzz input: status line, `Content-Length`, `Content-Range`, validators, chunked or plain
//! bodies that are right, short, long or wrong, optionally after a partial file left by an
//! earlier run (so the `Range` resume path is reached). This drives the real response handling
//! (status and `Range` decisions, `Content-Range` parsing, size checks, resume bookkeeping) and
//! ureq's HTTP/1.1 parser under it.
//!
//! The crate's guarantees are checked after every fetch:
//! * on success the file is in place, has the expected size, and hashes to the expected sha256
//!   (so with the right sha256 it is byte-for-byte the server's file);
//! * on failure no file appears under the final name;
//! * a partial file never exceeds the expected size, and never exists without its
//!   `.partial.meta` (without it, a later run cannot resume).
//!
//! The server listens on 127.0.0.1 only, answers one request per connection and closes it.
//! Answers that could redirect (`Location`) are skipped, so no other address is ever contacted.
#![no_main]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use inpaint_download::{DownloadConfig, Downloader, Error, FetchRequest};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const FILE_NAME: &str = "model.bin";

#[derive(Debug, Arbitrary)]
struct Case {
    /// The file as the server holds it.
    file: Vec<u8>,
    /// What an earlier run left behind.
    partial: Option<Partial>,
    checksum: Checksum,
    size: SizeHint,
    response: Response,
}

#[derive(Debug, Arbitrary)]
struct Partial {
    /// Bytes of `file` already on disk (modulo its length + 1).
    len: u16,
    /// Flip a byte of it (a partial from another version of the file).
    corrupt: bool,
    /// Whether `.partial.meta` exists, and what it says.
    meta: Option<Meta>,
}

#[derive(Debug, Arbitrary)]
struct Meta {
    same_url: bool,
    validator: Option<Validator>,
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Validator {
    Strong,
    Weak,
    Date,
}

impl Validator {
    fn text(self) -> &'static str {
        match self {
            Validator::Strong => "\"v1\"",
            Validator::Weak => "W/\"v1\"",
            Validator::Date => "Tue, 01 Jan 2030 00:00:00 GMT",
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Checksum {
    None,
    Right,
    RightUpperCase,
    Wrong,
    Malformed(String),
}

#[derive(Debug, Arbitrary)]
enum SizeHint {
    None,
    Right,
    Other(u16),
}

#[derive(Debug, Arbitrary)]
struct Response {
    status: StatusLine,
    content_length: Number,
    content_range: RangeHeader,
    etag: Option<Validator>,
    headers: Vec<(HeaderName, String)>,
    /// Appended to the header block as is (may hold anything, `\r\n` included).
    raw_headers: Vec<u8>,
    body: Body,
    chunked: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum StatusLine {
    Ok,
    Partial,
    RangeNotSatisfiable,
    NotFound,
    ServerError,
    Code(u16),
    Raw(Vec<u8>),
}

/// A header whose value is derived from the body, or not.
#[derive(Debug, Arbitrary)]
enum Number {
    Absent,
    Right,
    Plus(u8),
    Minus(u8),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum RangeHeader {
    Absent,
    /// `bytes START-END/TOTAL` for the bytes actually sent.
    Right,
    /// The right header with the start shifted.
    Shifted(i8),
    /// `bytes START-END/*`.
    UnknownTotal,
    Numbers(u64, u64, Option<u64>),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum HeaderName {
    ContentLength,
    ContentRange,
    ETag,
    LastModified,
    TransferEncoding,
    Connection,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Body {
    /// The file from this offset (modulo its length + 1): what a resume should get.
    FromOffset(u16),
    /// The file from the partial's end: the right answer to the `Range` request.
    FromPartial,
    /// The whole file.
    Whole,
    Bytes(Vec<u8>),
}

/// One server for the process, answering every connection with the current response.
struct Server {
    url: String,
    response: Arc<Mutex<Vec<u8>>>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!(
            "http://{}/{FILE_NAME}",
            listener.local_addr().expect("address")
        );
        let response = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&response);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                // The request (a GET: headers only), read whole so that closing sends no RST.
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let _ = stream.write_all(&answer);
                let _ = stream.shutdown(Shutdown::Both);
            }
        });
        Server { url, response }
    })
}

/// A scratch folder for the process, in memory where possible (fetch syncs every file).
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("inpaint-fuzz-download-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        dir
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn no_line_breaks(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The HTTP answer, or `None` when it could send the client elsewhere.
fn render(response: &Response, file: &[u8], partial_len: usize) -> Option<Vec<u8>> {
    let body: &[u8] = match &response.body {
        Body::FromOffset(start) => &file[usize::from(*start) % (file.len() + 1)..],
        Body::FromPartial => &file[partial_len.min(file.len())..],
        Body::Whole => file,
        Body::Bytes(bytes) => bytes,
    };
    let start = file.len() - body.len().min(file.len());
    let mut out = Vec::new();
    match &response.status {
        StatusLine::Ok => out.extend_from_slice(b"HTTP/1.1 200 OK\r\n"),
        StatusLine::Partial => out.extend_from_slice(b"HTTP/1.1 206 Partial Content\r\n"),
        StatusLine::RangeNotSatisfiable => {
            out.extend_from_slice(b"HTTP/1.1 416 Range Not Satisfiable\r\n");
        }
        StatusLine::NotFound => out.extend_from_slice(b"HTTP/1.1 404 Not Found\r\n"),
        StatusLine::ServerError => out.extend_from_slice(b"HTTP/1.1 503 Unavailable\r\n"),
        StatusLine::Code(code) => {
            out.extend_from_slice(format!("HTTP/1.1 {code} X\r\n").as_bytes())
        }
        StatusLine::Raw(raw) => out.extend_from_slice(raw),
    }
    let mut header = |name: &str, value: &str| {
        out.extend_from_slice(format!("{name}: {}\r\n", no_line_breaks(value)).as_bytes());
    };
    let len = body.len() as i64;
    match &response.content_length {
        Number::Absent => {}
        Number::Right => header("Content-Length", &len.to_string()),
        Number::Plus(n) => header("Content-Length", &(len + i64::from(*n)).to_string()),
        Number::Minus(n) => header("Content-Length", &(len - i64::from(*n)).to_string()),
        Number::Text(text) => header("Content-Length", text),
    }
    let end = (start + body.len()).saturating_sub(1);
    match &response.content_range {
        RangeHeader::Absent => {}
        RangeHeader::Right => header(
            "Content-Range",
            &format!("bytes {start}-{end}/{}", file.len()),
        ),
        RangeHeader::Shifted(by) => {
            let shifted = start as i64 + i64::from(*by);
            header(
                "Content-Range",
                &format!("bytes {shifted}-{end}/{}", file.len()),
            );
        }
        RangeHeader::UnknownTotal => header("Content-Range", &format!("bytes {start}-{end}/*")),
        RangeHeader::Numbers(a, b, total) => {
            let total = total.map_or("*".to_owned(), |t| t.to_string());
            header("Content-Range", &format!("bytes {a}-{b}/{total}"));
        }
        RangeHeader::Text(text) => header("Content-Range", text),
    }
    if let Some(etag) = response.etag {
        let name = if matches!(etag, Validator::Date) {
            "Last-Modified"
        } else {
            "ETag"
        };
        header(name, etag.text());
    }
    for (name, value) in &response.headers {
        let name = match name {
            HeaderName::ContentLength => "Content-Length".to_owned(),
            HeaderName::ContentRange => "Content-Range".to_owned(),
            HeaderName::ETag => "ETag".to_owned(),
            HeaderName::LastModified => "Last-Modified".to_owned(),
            HeaderName::TransferEncoding => "Transfer-Encoding".to_owned(),
            HeaderName::Connection => "Connection".to_owned(),
            HeaderName::Other(name) => no_line_breaks(name).replace(':', ""),
        };
        header(&name, value);
    }
    if response.chunked.is_some() {
        header("Transfer-Encoding", "chunked");
    }
    out.extend_from_slice(&response.raw_headers);
    out.extend_from_slice(b"\r\n");
    match &response.chunked {
        None => out.extend_from_slice(body),
        Some(sizes) => {
            let mut rest = body;
            for &size in sizes.iter().chain(std::iter::repeat(&255)) {
                if rest.is_empty() {
                    break;
                }
                let n = usize::from(size).max(1).min(rest.len());
                out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let lower = out.to_ascii_lowercase();
    if lower.windows(8).any(|w| w == b"location") {
        return None;
    }
    Some(out)
}

/// TOML's basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{}: {e}", path.display()),
        _ => {}
    }
}

fuzz_target!(|case: Case| {
    let server = server();
    let dir = scratch();
    let final_path = dir.join(FILE_NAME);
    let partial_path = dir.join(format!("{FILE_NAME}.partial"));
    let meta_path = dir.join(format!("{FILE_NAME}.partial.meta"));
    for path in [&final_path, &partial_path, &meta_path] {
        remove(path);
    }

    let file = &case.file;
    let mut partial_len = 0;
    if let Some(partial) = &case.partial {
        partial_len = usize::from(partial.len) % (file.len() + 1);
        let mut bytes = file[..partial_len].to_vec();
        if partial.corrupt {
            if let Some(first) = bytes.first_mut() {
                *first ^= 0xff;
            }
        }
        std::fs::write(&partial_path, &bytes).expect("write the partial");
        if let Some(meta) = &partial.meta {
            let url = if meta.same_url {
                server.url.as_str()
            } else {
                "http://127.0.0.1:9/other"
            };
            let mut text = format!("url = {}\n", toml_string(url));
            if let Some(validator) = meta.validator {
                let _ = writeln!(text, "validator = {}", toml_string(validator.text()));
            }
            std::fs::write(&meta_path, text).expect("write the partial's meta");
        }
    }
    let Some(answer) = render(&case.response, file, partial_len) else {
        return;
    };
    *server.response.lock().unwrap_or_else(|e| e.into_inner()) = answer;

    let right = sha256_hex(file);
    let expected_sha = match &case.checksum {
        Checksum::None => None,
        Checksum::Right => Some(right.clone()),
        Checksum::RightUpperCase => Some(right.to_ascii_uppercase()),
        Checksum::Wrong => Some(sha256_hex(&[file.as_slice(), b"!"].concat())),
        Checksum::Malformed(text) => Some(text.clone()),
    };
    let size = match case.size {
        SizeHint::None => None,
        SizeHint::Right => Some(file.len() as u64),
        SizeHint::Other(n) => Some(u64::from(n)),
    };
    let config = DownloadConfig::default()
        .with_allow_unverified(true)
        .with_retries(0)
        .with_retry_delay(Duration::ZERO)
        .with_stall_timeout(Duration::from_secs(2))
        .with_connect_timeout(Duration::from_secs(2))
        .with_lock_timeout(Duration::from_secs(2));
    let downloader = Downloader::new(config);
    let mut request = FetchRequest::new(&server.url, dir, FILE_NAME);
    if let Some(sha) = &expected_sha {
        request = request.with_sha256(sha);
    }
    if let Some(size) = size {
        request = request.with_size(size);
    }

    let result = downloader.fetch(&request);
    match &result {
        Ok(path) => {
            assert_eq!(*path, final_path);
            let got = std::fs::read(path).expect("the fetched file");
            if let Some(size) = size {
                assert_eq!(got.len() as u64, size, "fetched file has the wrong size");
            }
            if let Some(sha) = &expected_sha {
                let (got, sha) = (sha256_hex(&got), sha.to_ascii_lowercase());
                assert_eq!(got, sha, "fetched file has the wrong sha256");
            }
            assert!(
                !partial_path.exists(),
                "partial left beside the finished file"
            );
        }
        Err(err) => {
            let _ = err.to_string();
            assert!(
                !final_path.exists(),
                "failed fetch left a file under the final name: {err}"
            );
        }
    }
    // A malformed sha256 is refused before any I/O, leaving the partial as this target wrote
    // it; otherwise the partial is the downloader's.
    if matches!(result, Err(Error::InvalidSha256 { .. })) {
        return;
    }
    if let Ok(metadata) = std::fs::metadata(&partial_path) {
        let len = metadata.len();
        if let Some(size) = size {
            assert!(
                len <= size,
                "partial of {len} bytes, expected size {size}: {result:?}"
            );
        }
        assert!(
            meta_path.exists(),
            "partial file without its .partial.meta: {result:?}"
        );
    }
});
