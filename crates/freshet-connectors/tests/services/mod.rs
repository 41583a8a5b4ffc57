//! The local services the live tests talk to, started when they are down: the tests then run
//! against the real service, and fail (never skip) when it cannot be started.

use std::net::TcpStream;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static STARTING: Mutex<()> = Mutex::new(());

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// Makes sure something listens on 127.0.0.1:`port`, running `start` (a program and its
/// arguments) when nothing does, and waiting up to a minute for it.
pub fn ensure(name: &str, port: u16, start: &[&str]) {
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    if listening(port) {
        return;
    }
    let status = Command::new(start[0]).args(&start[1..]).status();
    if let Err(e) = &status {
        panic!(
            "{name} is down at 127.0.0.1:{port} and `{}` failed: {e}",
            start.join(" ")
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if listening(port) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "{name} does not listen on 127.0.0.1:{port} a minute after `{}`",
        start.join(" ")
    );
}

/// Mosquitto, the MQTT broker, on 1883.
#[allow(dead_code)]
pub fn mosquitto() {
    ensure(
        "mosquitto",
        1883,
        &["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"],
    );
}

/// RabbitMQ on 5672.
#[allow(dead_code)]
pub fn rabbitmq() {
    ensure("RabbitMQ", 5672, &["rabbitmq-server", "-detached"]);
}

/// PostgreSQL on 5432 (the machine's one cluster, `main`).
#[allow(dead_code)]
pub fn postgres() {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .unwrap_or_else(|| "15".to_string());
    ensure(
        "PostgreSQL",
        5432,
        &[
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            &version,
            "main",
            "start",
        ],
    );
}

/// Redis on 6379, keeping nothing on disk.
#[allow(dead_code)]
pub fn redis() {
    ensure(
        "Redis",
        6379,
        &[
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
    );
}
