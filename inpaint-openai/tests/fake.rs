//! A fake OpenAI-compatible server on 127.0.0.1: it records every request and answers as the
//! test says. Plain `std::net`, one thread per connection; dropped, it stops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use image::{ImageFormat, Rgb, RgbImage};

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The multipart fields, in order: `(name, file name, content)`.
    pub(crate) fn fields(&self) -> Vec<(String, Option<String>, Vec<u8>)> {
        let content_type = self.header("content-type").expect("a content type");
        let boundary = content_type
            .split_once("boundary=")
            .expect("a multipart boundary")
            .1;
        let delimiter = format!("--{boundary}");
        let body = &self.body;
        let mut starts = Vec::new();
        let mut i = 0;
        while let Some(at) = find(&body[i..], delimiter.as_bytes()) {
            starts.push(i + at);
            i += at + delimiter.len();
        }
        let mut fields = Vec::new();
        for pair in starts.windows(2) {
            let part = &body[pair[0] + delimiter.len() + 2..pair[1] - 2];
            let split = find(part, b"\r\n\r\n").expect("part headers");
            let headers = String::from_utf8_lossy(&part[..split]).into_owned();
            let name = between(&headers, "name=\"").expect("a field name");
            let file = between(&headers, "filename=\"");
            fields.push((name, file, part[split + 4..].to_vec()));
        }
        assert!(
            body.ends_with(format!("--{boundary}--\r\n").as_bytes()),
            "the body ends with the closing boundary"
        );
        fields
    }

    /// The text of field `name`.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.fields()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| String::from_utf8(v).expect("UTF-8 field"))
    }

    /// The bytes of field `name`.
    pub(crate) fn file(&self, name: &str) -> Vec<u8> {
        self.fields()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| v)
            .expect("the field is there")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn between(text: &str, start: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find('"')?;
    Some(text[from..from + len].to_string())
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with `data[0].b64_json` = a PNG, and `usage` when given.
    B64(Vec<u8>, Option<serde_json::Value>),
    /// 200 with `data[0].url` = this server's `/image.png`, which serves the PNG.
    Url(Vec<u8>),
    /// This status and raw body.
    Status(u16, String),
    /// Reads the request, then sends nothing until the server stops.
    Stall,
    /// The reply after a delay.
    Delayed(Duration, Box<Reply>),
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub(crate) struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
}

/// A solid PNG of this size.
pub(crate) fn png(width: u32, height: u32, color: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    RgbImage::from_pixel(width, height, Rgb(color))
        .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
        .expect("encode");
    out
}

impl FakeServer {
    /// Starts a server answering every `POST .../images/edits` with `handler`.
    pub(crate) fn start(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let image_at_url: Arc<Mutex<Vec<u8>>> = Arc::default();
        {
            let (requests, stop) = (requests.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (requests, stop, handler, image_at_url) = (
                        requests.clone(),
                        stop.clone(),
                        handler.clone(),
                        image_at_url.clone(),
                    );
                    thread::spawn(move || {
                        serve(stream, &requests, &stop, &*handler, &image_at_url, addr)
                    });
                }
            });
        }
        FakeServer {
            addr,
            requests,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far (edits and image fetches).
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// How many edits were received.
    pub(crate) fn edits(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.ends_with("/images/edits"))
            .count()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn serve(
    mut stream: TcpStream,
    requests: &Mutex<Vec<Recorded>>,
    stop: &AtomicBool,
    handler: &Handler,
    image_at_url: &Mutex<Vec<u8>>,
    addr: SocketAddr,
) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    requests.lock().expect("lock").push(request.clone());
    if request.method == "GET" && request.path == "/image.png" {
        let image = image_at_url.lock().expect("lock").clone();
        respond(&mut stream, 200, "image/png", &image);
        return;
    }
    let mut reply = handler(&request);
    loop {
        match reply {
            Reply::Delayed(delay, inner) => {
                thread::sleep(delay);
                reply = *inner;
            }
            Reply::B64(png, usage) => {
                let mut json = serde_json::json!({
                    "created": 0,
                    "data": [{"b64_json": base64::engine::general_purpose::STANDARD.encode(png)}],
                });
                if let Some(usage) = usage {
                    json["usage"] = usage;
                }
                respond(
                    &mut stream,
                    200,
                    "application/json",
                    json.to_string().as_bytes(),
                );
                return;
            }
            Reply::Url(png) => {
                *image_at_url.lock().expect("lock") = png;
                let json = serde_json::json!({
                    "created": 0,
                    "data": [{"url": format!("http://{addr}/image.png")}],
                });
                respond(
                    &mut stream,
                    200,
                    "application/json",
                    json.to_string().as_bytes(),
                );
                return;
            }
            Reply::Status(status, body) => {
                respond(&mut stream, status, "application/json", body.as_bytes());
                return;
            }
            Reply::Stall => {
                let until = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
        }
    }
}
