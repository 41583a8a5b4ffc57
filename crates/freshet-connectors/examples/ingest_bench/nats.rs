//! NATS JetStream: a stream of its own is loaded by a publisher that keeps a window of publish
//! acknowledgements in flight; then available-now runs of the direct stream read it all.

use crate::common::{config, count_into, payload, print_baseline, print_run, Row, WORKERS};
use async_nats::jetstream;
use freshet::StreamingContext;
use freshet_connectors::nats::NatsSource;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

const URL: &str = "nats://127.0.0.1:4222";

/// Publish acknowledgements awaited at most at a time.
const WINDOW: usize = 1000;

/// Creates the stream `name` on `<subject>.>` and publishes `n` messages, each acknowledged
/// as stored; returns the seconds from the first publish to the last acknowledgement.
async fn load(name: &str, subject: &str, n: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let js = jetstream::new(async_nats::connect(URL).await?);
    let _ = js.delete_stream(name).await;
    js.create_stream(jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{subject}.>")],
        ..Default::default()
    })
    .await?;
    let subject = format!("{subject}.bench");
    let started = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for i in 0..n {
        if in_flight.len() == WINDOW {
            if let Some(ack) = in_flight.pop_front() {
                let _: jetstream::publish::PublishAck = ack.await?;
            }
        }
        in_flight.push_back(js.publish(subject.clone(), payload(i).into()).await?);
    }
    for ack in in_flight {
        ack.await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn delete(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let js = jetstream::new(async_nats::connect(URL).await?);
    js.delete_stream(name).await?;
    Ok(())
}

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let name = format!("INGEST_BENCH_{}", std::process::id());
    let subject = name.to_lowercase();
    let secs = rt.block_on(load(&name, &subject, n))?;
    let baseline = print_baseline("nats", "publisher (acks, window 1k)", n, secs);
    let mut freshet = [0.0; 2];
    let result = (|| {
        for (slot, workers) in WORKERS.into_iter().enumerate() {
            let ctx = StreamingContext::new(config(workers))?;
            let counted = count_into(ctx.direct_stream(NatsSource::jetstream(URL, &name).bytes()));
            let started = Instant::now();
            ctx.run_available_now()?;
            let secs = started.elapsed().as_secs_f64();
            let got = counted.load(Ordering::Relaxed);
            freshet[slot] = print_run("nats", "direct stream", workers, got, secs);
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })();
    rt.block_on(delete(&name))?;
    result?;
    Ok(Row {
        system: "NATS JetStream",
        baseline,
        freshet,
    })
}
