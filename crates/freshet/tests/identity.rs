//! Stable identity: sources and outputs are known by ids the user can set, not by their
//! addresses, so a receiver can move to another port across a restart; ids are checked at
//! start; an operator whose checkpointed state no longer decodes is named in the error.

mod common;

use common::*;
use freshet::source::generator::GeneratorOptions;
use freshet::{Error, StreamingContext};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;

fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A checkpointed context counting lines from a listener on `addr`.
fn listening(
    dir: &Path,
    addr: &str,
) -> (
    StreamingContext,
    freshet::ManualClock,
    freshet::CollectedBatches<u64>,
) {
    let clock = freshet::ManualClock::new(0);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(2).checkpoint_interval(1),
            Arc::new(clock.clone()),
        )?;
        out = Some(
            ctx.socket_text_listener(addr)
                .uid("lines")
                .count()
                .collect_batches(),
        );
        Ok(ctx)
    })
    .unwrap();
    (ctx, clock, out.unwrap())
}

#[test]
fn a_receiver_can_change_its_port_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = free_port();
    let (ctx, clock, _) = listening(dir.path(), &first);
    ctx.start().unwrap();
    let mut s = TcpStream::connect(&first).unwrap();
    s.write_all(b"a\nb\n").unwrap();
    drop(s);
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();

    let second = free_port();
    assert_ne!(first, second);
    let (ctx, clock, out) = listening(dir.path(), &second);
    ctx.start()
        .expect("the address is not part of the pipeline's identity");
    clock.advance(interval() * 10);
    let t = ctx.first_batch_time().unwrap();
    ctx.await_batch(t, TIMEOUT).unwrap();
    ctx.stop(true).unwrap();
    assert!(!out.batches().is_empty());
}

#[test]
fn uid_on_a_stream_that_is_not_a_source_fails_start() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1u64]])
        .map(|x| x + 1)
        .uid("plus-one")
        .collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(matches!(err, Error::Plan(_)), "{err}");
    assert!(err.to_string().contains("plus-one"), "{err}");
}

#[test]
fn two_sources_with_one_id_fail_start() {
    let (ctx, _clock) = context(1);
    let a = ctx.queue_stream(vec![vec![1u64]]).uid("input");
    let b = ctx.queue_stream(vec![vec![2u64]]).uid("input");
    a.union(&b).collect_batches();
    let err = ctx.start().unwrap_err().to_string();
    assert!(err.contains("two sources have the id `input`"), "{err}");
}

#[test]
fn an_invalid_id_is_refused() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1u64]])
        .uid("has space")
        .collect_batches();
    let err = ctx.start().unwrap_err().to_string();
    assert!(err.contains("`has space` is not valid"), "{err}");
}

/// A checkpointed running sum by key whose state is `S`.
fn summing<S: freshet::Data>(
    dir: &Path,
    update: fn(Vec<u64>, Option<S>) -> Option<S>,
) -> (StreamingContext, freshet::ManualClock) {
    let clock = freshet::ManualClock::new(0);
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(1).checkpoint_interval(1),
            Arc::new(clock.clone()),
        )?;
        ctx.generator_stream(GeneratorOptions::rate(1000), |i| (i % 3, i * 1_000_000))
            .update_state_by_key(update)
            .collect_batches();
        Ok(ctx)
    })
    .unwrap();
    (ctx, clock)
}

#[test]
fn state_that_no_longer_decodes_names_its_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = summing::<u64>(dir.path(), |new, old| {
        Some(old.unwrap_or(0) + new.iter().sum::<u64>())
    });
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();

    // The same pipeline, but its state is now a list: the checkpoint does not decode.
    let (ctx, _clock) = summing::<Vec<u64>>(dir.path(), |new, old| {
        let mut v = old.unwrap_or_default();
        v.extend(new);
        Some(v)
    });
    let err = match ctx.start() {
        Err(e) => e,
        Ok(()) => ctx.await_termination().unwrap_err(),
    };
    match &err {
        Error::Operator { operator, error } => {
            assert_eq!(operator, "update_state_by_key", "{err}");
            assert!(matches!(**error, Error::Decode { .. }), "{err}");
        }
        other => panic!("expected an operator error, got {other}"),
    }
}

/// A checkpointed count of the lines of the new files in `input`.
fn counting_files(
    dir: &Path,
    input: &Path,
) -> (
    StreamingContext,
    freshet::ManualClock,
    freshet::CollectedBatches<u64>,
) {
    let clock = freshet::ManualClock::new(0);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(2).checkpoint_interval(1),
            Arc::new(clock.clone()),
        )?;
        out = Some(ctx.text_file_stream(input).count().collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, clock, out.unwrap())
}

#[test]
fn an_input_directory_moved_between_runs_is_not_read_again() {
    let root = tempfile::tempdir().unwrap();
    let (ck, first, moved) = (
        root.path().join("ck"),
        root.path().join("in"),
        root.path().join("moved"),
    );
    std::fs::create_dir(&first).unwrap();
    let (ctx, clock, out) = counting_files(&ck, &first);
    ctx.start().unwrap();
    std::fs::write(first.join("a.txt"), "1\n2\n3\n").unwrap();
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    assert_eq!(out.batches()[0].1.iter().sum::<u64>(), 3);

    // The same files under another path (a move, another mount point), and one new file.
    std::fs::rename(&first, &moved).unwrap();
    std::fs::write(moved.join("b.txt"), "4\n").unwrap();
    let (ctx, clock, out) = counting_files(&ck, &moved);
    ctx.start().unwrap();
    clock.advance(interval() * 20);
    let t = ctx.first_batch_time().unwrap();
    ctx.await_batch(t, TIMEOUT).unwrap();
    ctx.stop(true).unwrap();
    let counted: u64 = out.batches().iter().flat_map(|(_, r)| r.iter()).sum();
    assert_eq!(counted, 1, "only the new file is read: {:?}", out.batches());
}

#[test]
fn renaming_an_output_is_a_different_pipeline() {
    let root = tempfile::tempdir().unwrap();
    let ck = root.path().join("ck");
    let build = |output: &'static str| {
        let clock = freshet::ManualClock::new(0);
        let ctx = StreamingContext::get_or_create(&ck, || {
            let ctx = StreamingContext::with_clock(config(1), Arc::new(clock.clone()))?;
            ctx.generator_stream(GeneratorOptions::rate(10), |i| i)
                .foreach_batch(|_, _| {})
                .uid(output);
            Ok(ctx)
        })
        .unwrap();
        (ctx, clock)
    };
    let (ctx, clock) = build("alerts");
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    let (ctx, _clock) = build("notifications");
    let err = ctx.start().unwrap_err().to_string();
    assert!(err.contains("does not match the checkpoint"), "{err}");
    assert!(err.contains("output:notifications"), "{err}");
}
