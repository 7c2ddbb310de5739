//! A small synchronous HTTP/1.1 server: one acceptor thread, a fixed pool
//! of worker threads, and hard limits on everything a client controls.
//!
//! Why not a crate: `tiny_http` (the obvious synchronous one) spawns a
//! thread per connection on demand and has no cap on header count or
//! overall request time, and the async servers would bring a runtime this
//! project does not use. What `serve` needs is small: request heads parsed
//! by `httparse` (already in the tree through ureq, fuzzed upstream),
//! `Content-Length` bodies, keep-alive, and these limits:
//! - a request head of at most [`Limits::max_head_bytes`] and
//!   [`Limits::max_headers`] headers (431 beyond);
//! - a body of at most [`Limits::max_body_bytes`] (413 beyond, checked
//!   against `Content-Length` before reading a byte of it);
//! - the whole request read within [`Limits::request_timeout`] (a client
//!   dripping one byte a second is cut off: a deadline, not a per-read
//!   timeout), the response written within the same;
//! - a connection idle between requests for [`Limits::idle_timeout`] is
//!   closed, and sooner when connections are waiting for a worker, so
//!   keep-alive clients cannot hold every worker;
//! - at most `workers * 4` accepted connections wait for a worker; beyond,
//!   a connection is answered 503 at once and closed.
//!
//! With TLS (a `rustls::ServerConfig`), each connection is wrapped in a
//! `rustls::StreamOwned` by its worker; the same limits apply to what is
//! read through it, and the handshake itself must finish within
//! [`Limits::request_timeout`]. A connection whose first byte is not a TLS
//! handshake record (plain HTTP sent to the TLS port) is answered 400 in
//! plain text and closed, as Go's server does.
//!
//! Request bodies with `Transfer-Encoding` (chunked) are refused with 411:
//! the clients `serve` is for (Grafana, promtool, Prometheus' remote
//! write) send `Content-Length`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// What a client may send and how long it may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line plus headers, in bytes.
    pub max_head_bytes: usize,
    /// Number of headers.
    pub max_headers: usize,
    /// Body, in bytes.
    pub max_body_bytes: usize,
    /// Reading one request, head and body, and writing its response.
    pub request_timeout: Duration,
    /// Waiting for the next request on a kept-alive connection.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            // Remote write batches are a few hundred KiB; Grafana's form
            // posts a few KiB.
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One parsed request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded (`/api/v1/label/job/values`).
    pub path: String,
    /// The raw query string after `?` (still encoded), or empty.
    pub query: String,
    /// Headers as sent (names compared case-insensitively by [`Request::header`]).
    pub headers: Vec<(String, String)>,
    /// The body, at most [`Limits::max_body_bytes`].
    pub body: Vec<u8>,
    /// HTTP/1.1 (else 1.0): decides keep-alive when the client is silent.
    pub http11: bool,
}

impl Request {
    /// The first header named `name`, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parameters as Go's `Request.ParseForm` gives them: those of an
    /// `application/x-www-form-urlencoded` body first, then the query
    /// string's. Repeated names (`match[]`) keep every value in order.
    pub fn params(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        let form = self
            .header("content-type")
            .and_then(|c| c.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if self.method == "POST" && form {
            let body = std::str::from_utf8(&self.body)
                .map_err(|_| "form body is not UTF-8".to_string())?;
            out.extend(parse_form(body)?);
        }
        out.extend(parse_form(&self.query)?);
        Ok(out)
    }
}

/// A response: status, content type, body, and any further headers.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, `content_type` and `body`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }
}

/// Decodes `a=1&b=x%20y+z` into pairs (`+` is a space, `%XX` a byte), as
/// Go's `url.ParseQuery`; a bad escape or non-UTF-8 result is an error.
pub fn parse_form(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((percent_decode(k, true)?, percent_decode(v, true)?));
    }
    Ok(out)
}

/// `%XX` to bytes (and `+` to a space when `plus`), then UTF-8.
pub fn percent_decode(s: &str, plus: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(x) = hex else {
                    let bad: String = s.get(i..).unwrap_or("").chars().take(3).collect();
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(x);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

/// The handler every worker calls; it must not panic on any input.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A running server; [`Server::stop`] (or drop) ends it.
pub struct Server {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Serves `handler` on `listener` with `workers` threads, over TLS
    /// when `tls` is given.
    pub fn start(
        listener: TcpListener,
        workers: usize,
        limits: Limits,
        tls: Option<Arc<ServerConfig>>,
        handler: Arc<Handler>,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let workers = workers.max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::sync_channel::<TcpStream>(workers * 4);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..workers {
            let (rx, handler, limits, waiting, stop, tls) = (
                rx.clone(),
                handler.clone(),
                limits.clone(),
                waiting.clone(),
                stop.clone(),
                tls.clone(),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http {i}"))
                    .spawn(move || loop {
                        // The lock is held only while waiting for the next
                        // connection, never while serving one.
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(stream) = next else { return };
                        waiting.fetch_sub(1, Ordering::SeqCst);
                        let _ = stream.set_nodelay(true);
                        match &tls {
                            None => serve_connection(stream, &limits, &*handler, &waiting, &stop),
                            Some(cfg) => {
                                if let Some(s) = tls_accept(stream, cfg, &limits, &waiting, &stop) {
                                    serve_connection(s, &limits, &*handler, &waiting, &stop);
                                }
                            }
                        }
                    })?,
            );
        }
        let st = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("http accept".into())
                .spawn(move || accept_loop(listener, tx, &st, &waiting))?,
        );
        Ok(Server {
            addr,
            stop,
            threads,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests under way finish, and joins.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(
    listener: TcpListener,
    tx: mpsc::SyncSender<TcpStream>,
    stop: &AtomicBool,
    waiting: &AtomicUsize,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else {
            // Out of file descriptors and the like: back off a little
            // rather than spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        waiting.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(stream) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(mut s)) => {
                waiting.fetch_sub(1, Ordering::SeqCst);
                let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                let r = Response::text(503, "server busy, try again\n");
                let _ = write_response(&mut s, &r, false, false);
                let _ = s.shutdown(Shutdown::Both);
            }
            Err(mpsc::TrySendError::Disconnected(_)) => break,
        }
    }
    // Dropping `tx` ends the workers once the queue is drained.
}

/// Why reading a request stopped.
enum ReadError {
    /// The peer closed, or went idle: close quietly.
    Closed,
    /// A bad or oversized request: answer with this, then close.
    Reply(Response),
}

/// A connection, plain or TLS: bytes both ways, and the socket beneath
/// for timeouts.
trait Conn: Read + Write {
    fn tcp(&self) -> &TcpStream;
    /// Ends the connection (after a TLS close_notify, best effort).
    fn close(&mut self);
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.conn.complete_io(&mut self.sock);
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// Waits for the client's first byte as for an idle connection, then runs
/// the TLS handshake within [`Limits::request_timeout`]; `None` when the
/// client went away, was too slow, or did not speak TLS.
fn tls_accept(
    mut sock: TcpStream,
    cfg: &Arc<ServerConfig>,
    limits: &Limits,
    waiting: &AtomicUsize,
    stop: &AtomicBool,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    // A silent client holds the worker no longer than one request may take
    // (and less when others wait): it has not sent a request yet.
    let deadline = Instant::now() + limits.request_timeout;
    let mut first = [0u8; 1];
    loop {
        let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
        match sock.peek(&mut first) {
            Ok(0) => return None,
            Ok(_) => break,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if Instant::now() > deadline
                    || waiting.load(Ordering::SeqCst) > 0
                    || stop.load(Ordering::SeqCst)
                {
                    let _ = sock.shutdown(Shutdown::Both);
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    // 0x16 opens a TLS handshake record; a letter, an HTTP method.
    if first[0] != 0x16 {
        if first[0].is_ascii_uppercase() {
            let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
            let r = Response::text(400, "Client sent an HTTP request to an HTTPS server.\n");
            let _ = write_response(&mut sock, &r, false, false);
        }
        let _ = sock.shutdown(Shutdown::Both);
        return None;
    }
    let mut conn = ServerConnection::new(cfg.clone()).ok()?;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = sock.shutdown(Shutdown::Both);
            return None;
        }
        let _ = sock.set_read_timeout(Some(left));
        let _ = sock.set_write_timeout(Some(left));
        match conn.complete_io(&mut sock) {
            Ok((0, 0)) if conn.wants_read() => return None,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // Send the alert rustls queued, if any, then close.
                let _ = conn.write_tls(&mut sock);
                let _ = sock.shutdown(Shutdown::Both);
                return None;
            }
        }
    }
    Some(StreamOwned::new(conn, sock))
}

fn serve_connection<S: Conn>(
    mut stream: S,
    limits: &Limits,
    handler: &Handler,
    waiting: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf, limits, waiting, stop) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Reply(r)) => {
                let _ = stream.tcp().set_write_timeout(Some(limits.request_timeout));
                let _ = write_response(&mut stream, &r, false, false);
                stream.close();
                return;
            }
        };
        let keep = keep_alive(&req);
        let resp = handler(&req);
        let _ = stream.tcp().set_write_timeout(Some(limits.request_timeout));
        if write_response(&mut stream, &resp, keep, req.method == "HEAD").is_err() || !keep {
            stream.close();
            return;
        }
    }
}

/// HTTP/1.1 keeps the connection unless told to close; 1.0 closes unless
/// told to keep it.
fn keep_alive(req: &Request) -> bool {
    let conn = req.header("connection").unwrap_or("").to_ascii_lowercase();
    if conn.contains("close") {
        false
    } else if conn.contains("keep-alive") {
        true
    } else {
        req.http11
    }
}

fn read_request<S: Conn>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    limits: &Limits,
    waiting: &AtomicUsize,
    stop: &AtomicBool,
) -> Result<Request, ReadError> {
    // Wait for the first byte of the next request in short slices, so an
    // idle keep-alive connection gives its worker up when others wait, or
    // when the server stops (shutdown does not wait out idle clients).
    if buf.is_empty() {
        let idle_until = Instant::now() + limits.idle_timeout;
        let mut chunk = [0u8; 8192];
        loop {
            let _ = stream
                .tcp()
                .set_read_timeout(Some(Duration::from_millis(200)));
            match stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => {
                    buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    break;
                }
                Err(e) if is_timeout(&e) => {
                    if Instant::now() > idle_until
                        || waiting.load(Ordering::SeqCst) > 0
                        || stop.load(Ordering::SeqCst)
                    {
                        return Err(ReadError::Closed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadError::Closed),
            }
        }
    }
    let deadline = Instant::now() + limits.request_timeout;
    let mut chunk = [0u8; 8192];
    // The head.
    let (mut req, head_len, body_len) = loop {
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let r = head_of(&parsed, limits)?;
                break (r.0, n, r.1);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > limits.max_head_bytes {
                    return Err(reply(431, "request head too large"));
                }
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(reply(431, "too many request headers"));
            }
            Err(e) => return Err(reply(400, &format!("malformed request: {e}"))),
        }
        if buf.len() > limits.max_head_bytes {
            return Err(reply(431, "request head too large"));
        }
        let n = read_some(stream, &mut chunk, deadline)?;
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && buf.len() < head_len + body_len
    {
        let _ = stream.tcp().set_write_timeout(Some(limits.request_timeout));
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        let _ = stream.flush();
    }
    // The body: already-read bytes first, then exactly what is missing.
    while buf.len() < head_len + body_len {
        let n = read_some(stream, &mut chunk, deadline)?;
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    }
    req.body = buf
        .get(head_len..head_len + body_len)
        .unwrap_or(&[])
        .to_vec();
    // Whatever follows is the next (pipelined) request.
    buf.drain(..head_len + body_len);
    Ok(req)
}

fn reply(status: u16, msg: &str) -> ReadError {
    ReadError::Reply(Response::text(status, format!("{msg}\n")))
}

/// The request of a complete head, and its body length.
fn head_of(p: &httparse::Request, limits: &Limits) -> Result<(Request, usize), ReadError> {
    let method = p.method.unwrap_or("").to_string();
    let target = p.path.unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(path, false).map_err(|e| reply(400, &e))?;
    let mut headers: Vec<(String, String)> = Vec::with_capacity(p.headers.len());
    for h in p.headers.iter() {
        let v =
            std::str::from_utf8(h.value).map_err(|_| reply(400, "header value is not UTF-8"))?;
        headers.push((h.name.to_string(), v.trim().to_string()));
    }
    let req = Request {
        method,
        path,
        query: query.to_string(),
        headers,
        body: Vec::new(),
        http11: p.version == Some(1),
    };
    if req.header("transfer-encoding").is_some() {
        return Err(reply(
            411,
            "Transfer-Encoding is not supported; send Content-Length",
        ));
    }
    let len = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| reply(400, "bad Content-Length"))?,
    };
    if len > limits.max_body_bytes {
        return Err(reply(
            413,
            &format!("request body over {} bytes", limits.max_body_bytes),
        ));
    }
    Ok((req, len))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One read before `deadline`; a closed peer or the deadline passing ends
/// the request (a 408 is sent for the latter).
fn read_some<S: Conn>(
    stream: &mut S,
    chunk: &mut [u8],
    deadline: Instant,
) -> Result<usize, ReadError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(reply(408, "request not received in time"));
        }
        let _ = stream.tcp().set_read_timeout(Some(left));
        match stream.read(chunk) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => return Ok(n),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_response(w: &mut impl Write, r: &Response, keep: bool, head_only: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len(),
        if keep { "keep-alive" } else { "close" }
    );
    for (n, v) in &r.headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if !head_only {
        w.write_all(&r.body)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    fn echo() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let limits = Limits {
            max_body_bytes: 1000,
            max_head_bytes: 2000,
            max_headers: 8,
            request_timeout: Duration::from_millis(800),
            idle_timeout: Duration::from_secs(5),
        };
        let h: Arc<Handler> = Arc::new(|r: &Request| match r.params() {
            Ok(p) => Response::text(
                200,
                format!(
                    "{} {} {:?} {}",
                    r.method,
                    r.path,
                    p,
                    String::from_utf8_lossy(&r.body)
                ),
            ),
            Err(e) => Response::text(400, e),
        });
        Server::start(l, 2, limits, None, h).unwrap()
    }

    /// Reads one response (status, body) off a kept-alive connection.
    fn response(r: &mut impl BufRead) -> (u16, String) {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap_or("0").parse().unwrap();
        let mut len = 0;
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    #[test]
    fn keep_alive_pipelining_forms_and_percent_decoding() {
        let s = echo();
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Two requests in one write: both answered, in order, on one connection.
        let body = "query=up%7Bjob%3D%22a%22%7D&match[]=x+y";
        write!(
            c,
            "GET /api/v1/label/a%20b/values?match%5B%5D=z&time=1 HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /q?time=2 HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut r = io::BufReader::new(c.try_clone().unwrap());
        let (st, b) = response(&mut r);
        assert_eq!(st, 200);
        assert!(b.starts_with("GET /api/v1/label/a b/values"), "{b}");
        assert!(b.contains(r#"("match[]", "z"), ("time", "1")"#), "{b}");
        let (st, b) = response(&mut r);
        assert_eq!(st, 200);
        // Form body first, then the query string, as Go's ParseForm.
        assert!(
            b.contains(r#"[("query", "up{job=\"a\"}"), ("match[]", "x y"), ("time", "2")]"#),
            "{b}"
        );
        // A bad escape is the handler's 400.
        write!(c, "GET /?q=%zz HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(response(&mut r).0, 400);
    }

    #[test]
    fn limits_answer_with_the_right_status() {
        let s = echo();
        let ask = |raw: &str| {
            let mut c = TcpStream::connect(s.addr()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = c.write_all(raw.as_bytes());
            response(&mut io::BufReader::new(c)).0
        };
        assert_eq!(ask("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"), 413);
        let many: String = (0..9).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(ask(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 431);
        let long = "a".repeat(3000);
        assert_eq!(ask(&format!("GET /{long} HTTP/1.1\r\n")), 431);
        assert_eq!(
            ask("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(ask("BAD\x01 / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(ask("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        // A body that never comes: cut off at the request deadline.
        let t = Instant::now();
        assert_eq!(ask("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), 408);
        assert!(t.elapsed() < Duration::from_secs(3));
        // HTTP/1.0 closes after the response.
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.write_all(b"GET /x HTTP/1.0\r\n\r\n").unwrap();
        let mut all = String::new();
        c.read_to_string(&mut all).unwrap();
        assert!(all.starts_with("HTTP/1.1 200") && all.contains("Connection: close"));
    }

    #[test]
    fn stopping_does_not_wait_for_idle_clients() {
        let s = echo();
        let _idle = TcpStream::connect(s.addr()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        s.stop();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn idle_connections_give_their_worker_up_to_waiting_ones() {
        let s = echo();
        // Two idle keep-alive connections hold both workers...
        let idle: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(s.addr()).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        // ...and a third is still answered, well before the idle timeout.
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        c.write_all(b"GET /third HTTP/1.1\r\n\r\n").unwrap();
        let (st, b) = response(&mut io::BufReader::new(c));
        assert_eq!((st, b.starts_with("GET /third")), (200, true));
        drop(idle);
    }
}
