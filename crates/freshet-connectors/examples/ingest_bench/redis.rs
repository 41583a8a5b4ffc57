//! Redis Streams: a key of its own is loaded with pipelined `XADD`s; then available-now runs
//! of the direct stream read it all.

use crate::common::{config, count_into, payload, print_baseline, print_run, Row, WORKERS};
use freshet::StreamingContext;
use freshet_connectors::redis::RedisStreamSource;
use std::sync::atomic::Ordering;
use std::time::Instant;

const URL: &str = "redis://127.0.0.1:6379/";

/// `XADD`s per pipeline.
const PIPELINE: u64 = 1000;

/// Adds `n` entries (one field `p`) to `key`; returns the seconds it took.
fn load(conn: &mut redis::Connection, key: &str, n: u64) -> redis::RedisResult<f64> {
    redis::cmd("DEL").arg(key).query::<()>(conn)?;
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let mut pipe = redis::pipe();
        for j in i..(i + PIPELINE).min(n) {
            pipe.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg("p")
                .arg(payload(j))
                .ignore();
        }
        pipe.query::<()>(conn)?;
        i += PIPELINE;
    }
    Ok(started.elapsed().as_secs_f64())
}

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let mut conn = redis::Client::open(URL)?.get_connection()?;
    let key = format!("freshet-ingest-bench-{}", std::process::id());
    let secs = load(&mut conn, &key, n)?;
    let baseline = print_baseline("redis", "XADD (pipelines of 1000)", n, secs);
    let mut freshet = [0.0; 2];
    let result = (|| {
        for (slot, workers) in WORKERS.into_iter().enumerate() {
            let ctx = StreamingContext::new(config(workers))?;
            let counted = count_into(ctx.direct_stream(RedisStreamSource::new(URL, &key)));
            let started = Instant::now();
            ctx.run_available_now()?;
            let secs = started.elapsed().as_secs_f64();
            let got = counted.load(Ordering::Relaxed);
            freshet[slot] = print_run("redis", "direct stream", workers, got, secs);
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })();
    redis::cmd("DEL").arg(&key).query::<()>(&mut conn)?;
    result?;
    Ok(Row {
        system: "Redis Streams",
        baseline,
        freshet,
    })
}
