//! Headless Chromium loads the page of a running pipeline, and the charts, the pipeline
//! drawing and the live results must have drawn data (not merely returned 200); for a job of
//! two processes, the Health page lists them.
//!
//! Needs Debian's `chromium` (installed by `.ci/run`); without it the test fails and says so.

mod common;

use freshet::cluster::ClusterConfig;
use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiServer};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    if let Some(p) = Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.exists()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| candidates.iter().map(move |c| dir.join(c)))
        .find(|p| p.is_file())
}

/// The values of `attr="N"` in `html`.
fn numbers(html: &str, attr: &str) -> Vec<u64> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

/// The elements (by start tag) carrying `class="chart ..."` with their `data-points`.
fn charts(html: &str) -> Vec<(String, u64)> {
    html.match_indices("<")
        .filter_map(|(i, _)| {
            let tag = &html[i..i + html[i..].find('>')?];
            if !tag.contains("class=\"chart ") {
                return None;
            }
            let id = numbers_str(tag, "id").unwrap_or_default();
            let points = numbers(tag, "data-points").first().copied()?;
            Some((id, points))
        })
        .collect()
}

fn numbers_str(tag: &str, attr: &str) -> Option<String> {
    let key = format!(" {attr}=\"");
    let i = tag.find(&key)? + key.len();
    Some(tag[i..i + tag[i..].find('"')?].to_string())
}

#[test]
fn headless_chromium_draws_the_charts() {
    let Some(chrome) = chromium() else {
        panic!("chromium is not installed: `apt-get install chromium` (.ci/run installs it)");
    };

    // The demo pipeline on the system clock, 100 ms batches.
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(2)
            .stop_on_ctrl_c(false),
    )
    .unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    ctx.checkpoint(checkpoints.path()).unwrap();
    let views = ctx
        .click_stream(GeneratorOptions::rate(20_000))
        .uid("clicks")
        .map(|c| (c.page, 1u64))
        .name("page of each click, a name too long for its box")
        .reduce_by_key(|a, b| a + b);
    views.publish("page views", 20);
    views.foreach_batch(|_, _| {}).uid("audit");
    let ui = UiServer::start(&ctx, UiConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    ctx.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ctx.batches_completed() < 5 {
        assert!(Instant::now() < deadline, "no batches completed");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The page streams server-sent events; virtual time only advances while no request is
    // open, so the browser test asks the page to poll (the event stream has its own tests).
    let url = format!("http://{}/?live=poll", ui.local_addr());
    let html = dump_dom(&chrome, &url, "1400,2000");
    // At phone width, nothing is wider than the window.
    let phone = dump_dom(&chrome, &url, "390,844");
    let completed = ctx.batches_completed();
    ctx.stop(true).unwrap();
    ui.shutdown();
    assert!(
        phone.contains("data-overflow-x=\"false\""),
        "the page is wider than a phone's window"
    );
    check_views(&html, completed);
}

/// The page at `url` as Chromium renders it in a window of `size` ("W,H").
fn dump_dom(chrome: &std::path::Path, url: &str, size: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--window-size={size}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let html = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && html.contains("</html>"),
        "chromium failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        html
    );
    html
}

/// Every view of the page drew what the job did.
fn check_views(html: &str, completed: u64) {
    // Four timelines and four histograms, each with drawn points.
    let drawn = charts(html);
    for metric in [
        "input_rate",
        "scheduling_delay_ms",
        "processing_time_ms",
        "total_delay_ms",
    ] {
        for kind in ["tl", "hist"] {
            let id = format!("{kind}-{metric}");
            let points = drawn
                .iter()
                .find(|(i, _)| *i == id)
                .unwrap_or_else(|| panic!("no chart {id} in {drawn:?}"))
                .1;
            assert!(
                points >= 5 && points <= completed,
                "chart {id} drew {points} points ({completed} batches completed)"
            );
        }
    }
    // The timelines are SVG paths and points.
    assert!(html.matches("<circle").count() >= 4, "no points drawn");
    assert!(html.contains("class=\"line\""));
    // The pipeline drawing: generator -> map -> reduce_by_key -> {publish, foreach_batch}.
    assert_eq!(numbers(html, "data-nodes"), vec![5], "pipeline drawing");
    // Names users gave, on the nodes; a long one cut to fit its box.
    for name in ["clicks", "page views", "audit"] {
        assert!(
            html.contains(&format!("class=\"node-name\">{name}<")),
            "no node named {name}"
        );
    }
    assert!(html.contains("class=\"node-name\">page of each click, a name to…<"));
    assert_eq!(html.matches("class=\"node node-").count(), 5);
    assert_eq!(html.matches("class=\"edge\"").count(), 4);
    // The live results: the 12 pages of the click stream as bars.
    let bars = drawn.iter().find(|(i, _)| i == "results-bars").map(|c| c.1);
    assert_eq!(bars, Some(12), "live results: {drawn:?}");
    assert!(html.contains("/products"), "no page in the live results");
    // The sources page: the generator's rate over time.
    assert!(
        drawn
            .iter()
            .any(|(i, p)| i.starts_with("spark-") && *p >= 1),
        "no source rate drawn: {drawn:?}"
    );
    // The completed batches table links to batch details.
    assert!(html.contains("href=\"#/batch/"));
    // The health page: checkpoints written, both outputs with durations, both workers.
    for card in [
        "health-incidents",
        "health-checkpoints",
        "health-outputs",
        "health-workers",
        "health-event-time",
    ] {
        assert!(html.contains(&format!("id=\"{card}\"")), "no {card} card");
    }
    let points = |id: &str| drawn.iter().find(|(i, _)| i == id).map(|c| c.1);
    assert_eq!(points("worker-busy"), Some(2), "{drawn:?}");
    assert_eq!(points("output-durations"), Some(2), "{drawn:?}");
    assert!(
        points("checkpoint-durations").is_some_and(|n| n >= 1),
        "{drawn:?}"
    );
    assert!(html.contains("no problems so far"));
    // One process: no Processes table, and workers without a process.
    assert!(!html.contains("id=\"health-processes\""));
    assert!(!html.contains("(process "));
}

#[test]
fn headless_chromium_draws_the_processes_of_a_cluster() {
    let Some(chrome) = chromium() else {
        panic!("chromium is not installed: `apt-get install chromium` (.ci/run installs it)");
    };

    // Two processes of one job in this test process, one worker each, the UI on the driver.
    let (control, peers) = common::cluster_addresses(2);
    let contexts: Vec<StreamingContext> = (0..2)
        .map(|p| {
            let ctx = StreamingContext::new(
                StreamingConfig::new(Duration::from_millis(100))
                    .workers(1)
                    .stop_on_ctrl_c(false)
                    .cluster(ClusterConfig::new(p, peers.clone()).control(control.clone())),
            )
            .unwrap();
            ctx.click_stream(GeneratorOptions::rate(2_000))
                .map(|c| (c.page, 1u64))
                .reduce_by_key(|a, b| a + b)
                .foreach_batch(|_, _| {});
            ctx
        })
        .collect();
    let ui = UiServer::start(&contexts[0], UiConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let starts: Vec<_> = contexts
        .iter()
        .cloned()
        .map(|ctx| std::thread::spawn(move || ctx.start()))
        .collect();
    for s in starts {
        s.join().unwrap().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while contexts[0].worker_busy().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no figures of process 1's worker"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("http://{}/?live=poll", ui.local_addr());
    let html = dump_dom(&chrome, &url, "1400,2000");
    contexts[0].stop(true).unwrap();
    let _ = contexts[1].await_termination_or_timeout(Duration::from_secs(60));
    ui.shutdown();

    assert!(
        html.contains("id=\"health-processes\""),
        "no Processes table"
    );
    assert!(html.contains("(driver)"), "the driver is not marked");
    for address in &peers {
        assert!(
            html.contains(&format!(">{address}<")),
            "no process at {address}"
        );
    }
    assert_eq!(
        html.matches(">connected<").count(),
        2,
        "both processes connected"
    );
    for label in ["worker 0 (process 0)", "worker 1 (process 1)"] {
        assert!(html.contains(label), "no worker labelled {label:?}");
    }
}
