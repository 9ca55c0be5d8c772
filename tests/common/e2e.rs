//! Helpers of the end-to-end tests: child processes, free ports, a minimal
//! HTTP GET and POST, waiting for a condition.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Starts `command` (no input), its standard output and error into the file
/// `log`; `what` names it in the panic if it cannot start.
pub fn spawn_logged(command: &mut Command, log: &std::path::Path, what: &str) -> Process {
    let log = std::fs::File::create(log).unwrap();
    Process(
        command
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}")),
    )
}

/// A child process killed when the test ends, however it ends.
pub struct Process(pub Child);

impl Process {
    /// Sends SIGTERM and waits for the process to exit, at most `limit`
    /// (then it is killed when dropped).
    pub fn terminate(mut self, limit: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Four distinct free ports on 127.0.0.1 (held together while chosen, so the
/// system cannot hand out the same one twice).
pub fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}

/// `GET http://127.0.0.1:{port}{path}`: status and body (HTTP/1.1, no keep-alive).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, &format!("GET {path} HTTP/1.1\r\n"), b"")
}

/// `GET http://127.0.0.1:{port}{path}` asking for `accept` (the `Accept`
/// header): status and body (HTTP/1.1, no keep-alive).
pub fn http_get_accept(port: u16, path: &str, accept: &str) -> Option<(u16, String)> {
    http_request(
        port,
        &format!("GET {path} HTTP/1.1\r\nAccept: {accept}\r\n"),
        b"",
    )
}

/// `POST http://127.0.0.1:{port}{path}` with `body` as `content_type`: status
/// and body (HTTP/1.1, no keep-alive).
pub fn http_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> Option<(u16, String)> {
    http_request(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body,
    )
}

/// Sends the request line and headers `head`, then `body`; reads the answer
/// to its end.
fn http_request(port: u16, head: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "{head}Host: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    stream.write_all(body).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
