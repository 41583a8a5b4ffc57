//! HTTP ingest: two client threads POST newline-delimited bodies of 1000 records while the
//! pipeline runs, next to the same client against a server that only reads the body and
//! answers 200.

use crate::common::{
    config, count_into, payload, print_baseline, print_run, wait_for, Row, WORKERS,
};
use axum::body::Bytes;
use axum::routing::post;
use freshet::StreamingContext;
use freshet_connectors::http::HttpIngest;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per request.
const PER_REQUEST: u64 = 1000;
/// Client threads, each with its own connection.
const CLIENTS: usize = 2;

/// The request bodies: `n` records, [`PER_REQUEST`] lines each.
fn bodies(n: u64) -> Vec<Vec<u8>> {
    (0..n.div_ceil(PER_REQUEST))
        .map(|b| {
            let mut body = Vec::with_capacity(101 * PER_REQUEST as usize);
            for i in b * PER_REQUEST..((b + 1) * PER_REQUEST).min(n) {
                body.extend_from_slice(&payload(i));
                body.push(b'\n');
            }
            body
        })
        .collect()
}

/// POSTs every body to `http://addr/ingest` from [`CLIENTS`] threads, each taking the next
/// body not sent yet, until each is answered 200; a 429 is retried after its `Retry-After`.
/// Returns the number of 429s.
fn send_all(addr: SocketAddr, bodies: Arc<Vec<Vec<u8>>>) -> Result<u64, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (bodies, next, refused) = (bodies.clone(), next.clone(), refused.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                let url = format!("http://{addr}/ingest");
                loop {
                    let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return Ok(());
                    };
                    loop {
                        let mut response = agent
                            .post(&url)
                            .header("Content-Type", "application/x-ndjson")
                            .send(&body[..])
                            .map_err(|e| format!("POST {url}: {e}"))?;
                        let status = response.status().as_u16();
                        let retry_after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1);
                        let text = response.body_mut().read_to_string().unwrap_or_default();
                        match status {
                            200 => break,
                            429 => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_secs(retry_after));
                            }
                            other => return Err(format!("POST {url}: {other} {text}")),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a client thread panicked")??;
    }
    Ok(refused.load(Ordering::Relaxed))
}

/// The baseline server: reads each body, counts its lines and answers 200, on a tokio
/// runtime of 2 threads as the ingest receiver's. Returns its address, the lines counted and
/// what stops it.
fn plain_server() -> std::io::Result<(SocketAddr, Arc<AtomicU64>, tokio::sync::oneshot::Sender<()>)>
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let lines = Arc::new(AtomicU64::new(0));
    let l = lines.clone();
    let app = axum::Router::new().route(
        "/ingest",
        post(move |body: Bytes| {
            let l = l.clone();
            async move {
                let n = body.iter().filter(|b| **b == b'\n').count() as u64;
                l.fetch_add(n, Ordering::Relaxed);
                format!("{{\"accepted\":{n},\"skipped\":0}}")
            }
        }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        })
    });
    Ok((addr, lines, stop))
}

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let bodies = Arc::new(bodies(n));
    let (addr, lines, stop) = plain_server()?;
    let started = Instant::now();
    send_all(addr, bodies.clone())?;
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    if lines.load(Ordering::Relaxed) != n {
        return Err(format!(
            "the plain server got {} records of {n}",
            lines.load(Ordering::Relaxed)
        )
        .into());
    }
    let baseline = print_baseline("http", "client -> plain axum server", n, secs);
    let mut freshet = [0.0; 2];
    for (slot, workers) in WORKERS.into_iter().enumerate() {
        let ctx = StreamingContext::new(config(workers))?;
        let ingest = HttpIngest::new("127.0.0.1:0");
        let bound = ingest.local_addr_handle();
        let counted = count_into(ctx.receiver_stream(ingest));
        ctx.start()?;
        let addr = bound.get().ok_or("the ingest endpoint is not bound")?;
        let started = Instant::now();
        let refused = send_all(addr, bodies.clone())?;
        let secs = wait_for(&counted, n, started);
        ctx.stop(false)?;
        let got = counted.load(Ordering::Relaxed);
        freshet[slot] = print_run("http", "HttpIngest", workers, got, secs);
        if refused > 0 {
            println!("          ({refused} requests answered 429 and sent again)");
        }
    }
    Ok(Row {
        system: "HTTP ingest",
        baseline,
        freshet,
    })
}
