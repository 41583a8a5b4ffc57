//! The files of `deploy/`: the Prometheus alerting rules pass `promtool check rules` and their
//! unit tests, the Grafana dashboard is well formed and its queries parse, every `freshet_*`
//! metric either of them names is served by `/metrics` of a running job, and the Kubernetes
//! probes get an answer from the UI.
//!
//! These tests need `promtool`, from Debian's `prometheus` package; without it they fail (they
//! never skip).

mod common;

use common::get_with;
use freshet::event_time::{WatermarkOptions, WindowSpec};
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::source::{Backoff, ReceiverOptions};
use freshet::{BatchTime, ManualClock, SourceError, StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiServer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const RULES: &str = "deploy/prometheus/freshet-alerts.yml";
const RULE_TESTS: &str = "deploy/prometheus/freshet-alerts.test.yml";
const DASHBOARD: &str = "deploy/grafana/freshet-dashboard.json";
const KUBERNETES: &str = "deploy/kubernetes/freshet.yaml";

/// The root of the repository.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Runs `promtool ARGS` in `dir` and returns its output; fails the test when promtool is missing
/// or reports a failure.
fn promtool(args: &[&str], dir: &Path) -> String {
    let out = match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool is not installed: install Debian's prometheus package \
             (apt-get install prometheus), which provides it"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {} failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    text
}

#[test]
fn alerting_rules_pass_promtool_and_their_unit_tests() {
    let dir = root().join("deploy/prometheus");
    let checked = promtool(&["check", "rules", "freshet-alerts.yml"], &dir);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "freshet-alerts.test.yml"], &dir);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert has a duration, a severity and annotations that say what to do, and a unit
    // test.
    let rules = read(RULES);
    let tests = read(RULE_TESTS);
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    for block in rules.split("- alert: ").skip(1) {
        let name = block.lines().next().unwrap();
        for field in ["expr:", "for:", "severity:", "summary:", "description:"] {
            assert!(block.contains(field), "alert {name} has no {field}");
        }
        assert!(
            block.contains("docs/operations.md"),
            "alert {name} does not point to docs/operations.md"
        );
        assert!(
            tests.contains(&format!("alertname: {name}\n")),
            "alert {name} has no unit test in {RULE_TESTS}"
        );
    }
}

/// The panels of a dashboard, those inside rows included; rows themselves are left out.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels")
        .iter()
        .collect();
    while let Some(p) = stack.pop() {
        if p["type"] == "row" {
            if let Some(inner) = p["panels"].as_array() {
                stack.extend(inner);
            }
        } else {
            out.push(p);
        }
    }
    out
}

/// The dashboard's queries: every target's `expr`, and the queries of its query variables.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"].as_str().or(v["query"].as_str());
        out.push(q.expect("a query variable has a query").to_string());
    }
    out
}

#[test]
fn dashboard_panels_have_a_datasource_and_queries_that_parse() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD))
        .unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"));
    let schema = dashboard["schemaVersion"].as_u64().unwrap();
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());

    let vars = dashboard["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for name in ["job", "instance"] {
        assert_eq!(var(name)["type"], "query", "{name}");
        assert_eq!(var(name)["datasource"]["uid"], "${datasource}", "{name}");
    }

    let panels = panels(&dashboard);
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or("(untitled)");
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "id of {title} used twice"
        );
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "panel {title} has no datasource"
        );
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert!(
            targets
                .iter()
                .any(|t| t["expr"].as_str().is_some_and(|e| !e.trim().is_empty())),
            "panel {title} has no query"
        );
        for t in targets {
            assert_eq!(
                t["datasource"]["uid"], "${datasource}",
                "a target of {title}"
            );
        }
    }

    // The queries parse: promtool checks them as recording rules, Grafana's variables replaced
    // by what Grafana would put there.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, q) in dashboard_queries(&dashboard).iter().enumerate() {
        if q.starts_with("label_values(") {
            continue;
        }
        let q = q
            .replace("$__rate_interval", "1m")
            .replace("$job", "freshet")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&q).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dashboard-queries.yml"), rules).unwrap();
    promtool(&["check", "rules", "dashboard-queries.yml"], dir.path());
}

/// The `freshet_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("freshet_") {
        if text[..at].chars().next_back().is_some_and(is_name) {
            continue;
        }
        let name: String = text[at..].chars().take_while(|&c| is_name(c)).collect();
        out.insert(name);
    }
    out
}

/// The metric names a scrape serves: every sample's name, and every family's (a family without
/// samples still has its `# TYPE` line), a counter's as `NAME_total` (its samples' name).
fn served_names(scrape: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (words.next(), words.next()) {
                if kind == "counter" {
                    out.insert(format!("{}_total", name.trim_end_matches("_total")));
                } else {
                    out.insert(name.to_string());
                }
            }
        } else if !line.starts_with('#') {
            let name: String = line.chars().take_while(|&c| c != '{' && c != ' ').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Whether `name` is served: as is, or as a histogram's series (`_bucket`, `_sum`, `_count`).
fn is_served(name: &str, served: &BTreeSet<String>) -> bool {
    served.contains(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(|b| served.contains(b)))
}

/// A receiver of `(page, event time in ms)` clicks: fails once with a retryable error (so that it
/// is restarted), then stores a few clicks and waits for the stop.
struct Clicks {
    failed: bool,
}

impl Receiver for Clicks {
    type Item = (String, u64);

    fn name(&self) -> String {
        "clicks".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<(String, u64)>) -> Result<(), SourceError> {
        if !self.failed {
            self.failed = true;
            return Err(SourceError::external("not connected yet"));
        }
        ctx.store_many(vec![("/a".into(), 1_500), ("/b".into(), 2_500)]);
        while !ctx.is_stopped() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

#[test]
fn every_metric_the_rules_and_dashboard_name_is_served() {
    let ms = Duration::from_millis;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(ms(100))
            .workers(2)
            .checkpoint_interval(1),
        Arc::new(clock.clone()),
    )
    .unwrap();
    ctx.checkpoint(dir.path()).unwrap();

    // A receiver and a queue of clicks; event-time windows over them (a watermark, late
    // records), page views kept in state, and two outputs.
    let received = ctx.receiver_stream_with(
        Clicks { failed: false },
        ReceiverOptions::new().backoff(Backoff {
            initial: ms(1),
            max: ms(5),
        }),
    );
    let queued = ctx.queue_stream(vec![
        vec![("/a".to_string(), 1_000u64), ("/b".to_string(), 5_000)],
        // Behind the watermark (4 900 ms): late.
        vec![("/c".to_string(), 100)],
        vec![("/a".to_string(), 6_000)],
        vec![],
    ]);
    let clicks = received.union(&queued);
    let windows = clicks
        .with_event_time(|c: &(String, u64)| c.1, WatermarkOptions::new(ms(100)))
        .count_by_key_and_window(WindowSpec::tumbling(ms(1_000)))
        .unwrap();
    windows.windows().foreach_batch(|_, _| {});
    clicks
        .map(|(page, _)| (page, 1u64))
        .update_state_by_key(|new: Vec<u64>, s: Option<u64>| {
            Some(s.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .publish("page views", 10);

    let ui = UiServer::start(&ctx, UiConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    ctx.start().unwrap();
    for k in 1..=4 {
        clock.advance(ms(100));
        ctx.await_batch(BatchTime(100 * k), WAIT).unwrap();
    }
    let scrape = get_with(
        ui.local_addr(),
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0\r\n",
    );
    ctx.stop(true).unwrap();
    ui.shutdown();
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    let served = served_names(&scrape.body);

    let rules = metric_names(&read(RULES));
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let charted = metric_names(&dashboard_queries(&dashboard).join("\n"));
    assert!(
        rules.len() >= 10 && charted.len() >= 25,
        "{rules:?} {charted:?}"
    );
    let mut missing = Vec::new();
    for (file, names) in [(RULES, &rules), (DASHBOARD, &charted)] {
        for name in names {
            if !is_served(name, &served) {
                missing.push(format!("{name} (in {file})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "metrics named in deploy/ that /metrics does not serve:\n  {}\nserved: {served:?}",
        missing.join("\n  ")
    );
}

/// The probes' script in the Kubernetes manifest: the folded lines from the one that opens the
/// connection, joined by spaces (as YAML folds them). Both probes run the same.
fn probe_script(manifest: &str) -> String {
    let lines: Vec<&str> = manifest.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with("exec 3<>/dev/tcp/"))
        .collect();
    assert_eq!(starts.len(), 2, "expected a readiness and a liveness probe");
    let script = |start: usize| {
        let indent = lines[start].len() - lines[start].trim_start().len();
        lines[start..]
            .iter()
            .take_while(|l| l.len() - l.trim_start().len() == indent && !l.trim().is_empty())
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (readiness, liveness) = (script(starts[0]), script(starts[1]));
    assert_eq!(readiness, liveness);
    readiness
}

#[test]
fn kubernetes_probes_get_the_status_with_the_token_only() {
    let manifest = read(KUBERNETES);
    let script = probe_script(&manifest);
    assert!(
        script.contains("/api/v1/status") && script.contains("4040"),
        "{script}"
    );

    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100)),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    ctx.queue_stream(vec![vec![1u64]]).foreach_batch(|_, _| {});
    let ui = UiServer::start(
        &ctx,
        UiConfig::new("127.0.0.1:0".parse().unwrap()).token("k8s-token"),
    )
    .unwrap();
    // The manifest's port, 4040, replaced by the one the test's UI has.
    let script = script.replace("/4040", &format!("/{}", ui.local_addr().port()));
    let probe = |token: &str| {
        Command::new("bash")
            .args(["-c", &script])
            .env("FRESHET_UI_TOKEN", token)
            .stderr(Stdio::null())
            .status()
            .expect("run bash")
            .success()
    };
    assert!(
        probe("k8s-token"),
        "the probe failed with the token: {script}"
    );
    assert!(!probe("wrong"), "the probe passed with a wrong token");
    ui.shutdown();
    assert!(!probe("k8s-token"), "the probe passed without a server");
}
