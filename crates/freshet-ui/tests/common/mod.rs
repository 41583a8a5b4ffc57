//! A minimal HTTP/1.1 client for the UI tests: one request per connection.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A response: status code, lower-cased header lines, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `GET path` with extra header lines (each ending in `\r\n`).
pub fn get_with(addr: SocketAddr, path: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to the UI");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the reply");
    parse(&raw)
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    get_with(addr, path, "")
}

/// An open server-sent event stream.
pub struct EventStream {
    stream: TcpStream,
    pub text: String,
}

impl EventStream {
    /// `GET path` and keep the connection open.
    pub fn open(addr: SocketAddr, path: &str) -> EventStream {
        let mut stream = TcpStream::connect(addr).expect("connect to the UI");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        EventStream {
            stream,
            text: String::new(),
        }
    }

    /// Reads until `pattern` has appeared `n` times in total or `wait` passes; returns whether it
    /// did.
    pub fn read_until(&mut self, pattern: &str, n: usize, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 8192];
        loop {
            if self.text.matches(pattern).count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return self.text.matches(pattern).count() >= n,
                Ok(k) => self.text.push_str(&String::from_utf8_lossy(&buf[..k])),
                Err(_) => {}
            }
        }
    }

    /// Whether the server closed the stream within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(k) => self.text.push_str(&String::from_utf8_lossy(&buf[..k])),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => {}
            }
        }
        false
    }
}

/// The control address and `n` data addresses of a cluster on 127.0.0.1, on free ports.
pub fn cluster_addresses(n: usize) -> (String, Vec<String>) {
    let listeners: Vec<std::net::TcpListener> = (0..=n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut addresses: Vec<String> = listeners
        .iter()
        .map(|l| format!("127.0.0.1:{}", l.local_addr().unwrap().port()))
        .collect();
    let control = addresses.remove(0);
    (control, addresses)
}
