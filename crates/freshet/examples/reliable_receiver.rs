//! A reliable receiver with a write-ahead log: exactly-once counts of what a TCP sender pushes,
//! across crashes.
//!
//! ```sh
//! cargo run --release --example reliable_receiver -- \
//!     --listen 127.0.0.1:9999 --output OUT_DIR --checkpoint CK_DIR --batch-ms 100
//! ```
//!
//! The sender connects and writes lines `seq<TAB>text`. The receiver stores what it read with
//! `store_reliably`, which returns once the records are in the receiver's write-ahead log, and
//! only then answers `ack <seq>` (every record up to `seq` is safe). After a crash the sender
//! reconnects and resends whatever was not acknowledged. Every batch writes, per sequence
//! number, how many times it was counted to `OUT_DIR/batch-<time>/part-<worker>` as
//! `seq<TAB>count`: every acknowledged record is counted exactly once.

use freshet::sink::FileSink;
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::source::socket::bind_listener;
use freshet::{SourceError, StreamingConfig, StreamingContext};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Accepts one sender at a time and acknowledges what the write-ahead log holds.
struct AckingLineReceiver {
    addr: String,
    listener: Option<TcpListener>,
}

impl AckingLineReceiver {
    fn serve(
        &self,
        stream: TcpStream,
        ctx: &ReceiverContext<(u64, String)>,
    ) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_millis(50)))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut block: Vec<(u64, String)> = Vec::new();
        while !ctx.is_stopped() {
            match reader.read_line(&mut line) {
                Ok(0) => return Ok(()),
                Ok(_) if line.ends_with('\n') => {
                    if let Some((seq, text)) = line.trim_end().split_once('\t') {
                        if let Ok(seq) = seq.parse() {
                            block.push((seq, text.to_string()));
                        }
                    }
                    line.clear();
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
            // Acknowledge once the sender paused or a block is full, after the WAL write.
            if !block.is_empty() && (reader.buffer().is_empty() || block.len() >= 256) {
                let last = block.last().map(|r| r.0).unwrap_or(0);
                if let Err(e) = ctx.store_reliably(std::mem::take(&mut block)) {
                    // Not stored: not acknowledged, so the sender sends them again.
                    eprintln!("{e}");
                    return Ok(());
                }
                writeln!(writer, "ack {last}")?;
            }
        }
        Ok(())
    }
}

impl Receiver for AckingLineReceiver {
    type Item = (u64, String);

    fn name(&self) -> String {
        format!("acking listener {}", self.addr)
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        // Binding here makes an address in use fail `start()` with a clear error.
        self.listener = Some(bind_listener(&self.addr)?);
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<(u64, String)>) -> Result<(), SourceError> {
        let Some(listener) = self.listener.as_ref() else {
            return Ok(());
        };
        while !ctx.is_stopped() {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    if let Err(e) = self.serve(stream, ctx) {
                        eprintln!("connection ended: {e}");
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = None;
    let mut output = None;
    let mut checkpoint = None;
    let (mut batch_ms, mut workers, mut every) = (100u64, 2usize, 10u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--output" => output = Some(PathBuf::from(value)),
            "--checkpoint" => checkpoint = Some(PathBuf::from(value)),
            "--batch-ms" => batch_ms = value.parse()?,
            "--workers" => workers = value.parse()?,
            "--checkpoint-every" => every = value.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let listen = listen.ok_or("--listen ADDR is required")?;
    let output = output.ok_or("--output DIR is required")?;
    let checkpoint = checkpoint.ok_or("--checkpoint DIR is required")?;

    let ctx = StreamingContext::get_or_create(&checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(batch_ms))
            .workers(workers)
            .checkpoint_interval(every);
        let ctx = StreamingContext::new(config)?;
        ctx.receiver_stream(AckingLineReceiver {
            addr: listen.clone(),
            listener: None,
        })
        .map(|(seq, _text)| (seq, 1u64))
        .update_state_by_key(|new: Vec<u64>, total: Option<u64>| {
            Some(total.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .map(|(seq, count)| format!("{seq}\t{count}"))
        .sink(FileSink::new(&output));
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
