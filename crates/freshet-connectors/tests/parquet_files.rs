//! Parquet: the schema a user expects, read back by independent readers (the parquet crate's
//! own readers and pyarrow), rolling and partitioning, typed reads, and damaged files.
//!
//! The pyarrow check runs the Python from `FRESHET_PYTHON` (else `python3`) and fails, with
//! a message saying how to install it, when pyarrow is missing.

use arrow_array::{
    Array, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMillisecondArray, UInt32Array,
};
use arrow_schema::{DataType, TimeUnit};
use freshet::sink::{Sink, SinkContext, SinkWriter};
use freshet::source::BadRecordPolicy;
use freshet::testing::laws::check_sink_idempotent;
use freshet::testing::BatchStepper;
use freshet::{BatchTime, StreamingConfig};
use freshet_connectors::files::{
    read_dataset, FileFormat, PartitionBy, ReadOptions, RollingPolicy, TypedFileStreams,
};
use freshet_connectors::parquet::{parquet_dataset, ParquetCompression, ParquetSink};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Reading {
    id: i64,
    sensor: String,
    celsius: f64,
    count: i32,
    visits: u32,
    ok: bool,
    label: Option<String>,
    battery: Option<i64>,
    at_ms: i64,
}

fn reading(i: i64) -> Reading {
    Reading {
        id: i,
        sensor: format!("s-{}", i % 3),
        celsius: i as f64 / 4.0 - 10.0,
        count: i as i32 * 7,
        visits: i as u32 + 1,
        ok: i % 2 == 0,
        label: (i % 3 != 1).then(|| format!("label {i}")),
        battery: (i % 2 == 1).then_some(100 - i),
        at_ms: 1_700_000_000_000 + i * 1000,
    }
}

fn readings(range: std::ops::Range<i64>) -> Vec<Reading> {
    range.map(reading).collect()
}

fn sink(dir: &Path) -> ParquetSink {
    ParquetSink::new(dir).sync(false).timestamp_millis("at_ms")
}

fn write<S: Sink<Reading>>(sink: &S, partition: usize, batches: &[(u64, Vec<Reading>)]) {
    let ctx = SinkContext {
        output_id: "readings".into(),
        partition,
        partitions: 1,
    };
    let mut w = sink.open(&ctx).unwrap();
    for (t, records) in batches {
        w.write(BatchTime(*t), records).unwrap();
        w.commit(BatchTime(*t)).unwrap();
    }
}

/// The visible files under `dir`, recursively, sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_schema_is_what_a_user_expects_and_the_parquet_crate_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    write(&sink(dir.path()), 0, &[(100, readings(0..10))]);
    let path = dir.path().join("batch-100/part-00000.parquet");

    // The Arrow schema, through the parquet crate's Arrow reader.
    let file = std::fs::File::open(&path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let expect = [
        ("id", DataType::Int64, false),
        ("sensor", DataType::Utf8, false),
        ("celsius", DataType::Float64, false),
        ("count", DataType::Int32, false),
        ("visits", DataType::UInt32, false),
        ("ok", DataType::Boolean, false),
        ("label", DataType::Utf8, true),
        ("battery", DataType::Int64, true),
        (
            "at_ms",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
    ];
    let got: Vec<(String, DataType, bool)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    let want: Vec<(String, DataType, bool)> = expect
        .iter()
        .map(|(n, t, null)| (n.to_string(), t.clone(), *null))
        .collect();
    assert_eq!(got, want);

    // The values, column by column.
    let batches: Vec<_> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    let ids = col("id");
    let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(ids.values().to_vec(), (0..10).collect::<Vec<i64>>());
    let sensor = col("sensor");
    assert_eq!(
        sensor
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(4),
        "s-1"
    );
    let celsius = col("celsius");
    assert_eq!(
        celsius
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(2),
        -9.5
    );
    let count = col("count");
    assert_eq!(
        count
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .value(3),
        21
    );
    let visits = col("visits");
    assert_eq!(
        visits
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap()
            .value(9),
        10
    );
    let ok = col("ok");
    assert!(!ok.as_any().downcast_ref::<BooleanArray>().unwrap().value(1));
    let label = col("label");
    let label = label.as_any().downcast_ref::<StringArray>().unwrap();
    assert!(label.is_null(1) && label.value(2) == "label 2");
    assert_eq!(col("battery").null_count(), 5);
    let at = col("at_ms");
    assert_eq!(
        at.as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap()
            .value(1),
        1_700_000_001_000
    );

    // The Parquet schema and row groups, through the low-level file reader.
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), 1);
    assert_eq!(meta.file_metadata().num_rows(), 10);
    let parquet_schema = meta.file_metadata().schema_descr();
    let column = |name: &str| {
        (0..parquet_schema.num_columns())
            .map(|i| parquet_schema.column(i))
            .find(|c| c.name() == name)
            .unwrap()
    };
    assert_eq!(
        format!("{:?}", column("sensor").logical_type_ref()),
        "Some(String)"
    );
    assert!(format!("{:?}", column("at_ms").logical_type_ref()).contains("Timestamp"));
    assert_eq!(
        column("label").self_type().get_basic_info().repetition(),
        parquet::basic::Repetition::OPTIONAL
    );
    assert_eq!(
        column("id").self_type().get_basic_info().repetition(),
        parquet::basic::Repetition::REQUIRED
    );
}

#[test]
fn typed_reads_round_trip_and_the_sink_law_holds_with_rolling_and_partitions() {
    let batches: Vec<(BatchTime, Vec<Vec<Reading>>)> = (1..=5)
        .map(|t| {
            let b = t as i64 * 10;
            (
                BatchTime(t * 100),
                vec![readings(b..b + 4), readings(b + 5..b + 6)],
            )
        })
        .collect();
    let all: Vec<Reading> = batches
        .iter()
        .flat_map(|(_, parts)| parts.concat())
        .collect();
    let by_id = |mut v: Vec<Reading>| {
        v.sort_by_key(|r| r.id);
        v
    };
    for rolling in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink(dir.path()).partition_by(PartitionBy::field("sensor"));
        if rolling {
            sink = sink.rolling(RollingPolicy::new().max_batches(2));
        }
        let read_back = || {
            parquet_files(dir.path())
                .into_iter()
                .map(|p| std::fs::read(p).unwrap())
                .collect::<Vec<_>>()
        };
        check_sink_idempotent(&sink, "readings", &batches, read_back).unwrap();
        let back = parquet_dataset::<Reading>(dir.path())
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(by_id(back), by_id(all.clone()), "rolling {rolling}");
        if rolling {
            let names: Vec<String> = parquet_files(dir.path())
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert!(
                names.contains(&"part-00000-100-200.parquet".to_string()),
                "{names:?}"
            );
            assert!(
                names.contains(&"part-00001-500-500.parquet".to_string()),
                "{names:?}"
            );
        }
    }
}

#[test]
fn a_rolled_file_has_the_batches_of_its_range_in_order_uncompressed_too() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink(dir.path())
        .compression(ParquetCompression::None)
        .row_group_rows(5)
        .rolling(RollingPolicy::new().max_batches(3));
    write(
        &sink,
        0,
        &[(1, readings(0..4)), (2, vec![]), (3, readings(4..12))],
    );
    let path = dir.path().join("part-00000-1-3.parquet");
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 12);
    assert!(reader.metadata().num_row_groups() >= 3);
    let back = parquet_dataset::<Reading>(&path)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(back, readings(0..12));
}

/// The Python that has pyarrow: `FRESHET_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("FRESHET_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

#[test]
fn pyarrow_reads_freshet_parquet_with_the_expected_schema_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink(dir.path())
        .partition_by(PartitionBy::field("sensor"))
        .rolling(RollingPolicy::new().max_batches(2));
    write(&sink, 0, &[(1, readings(0..6)), (2, readings(6..12))]);
    let script = r#"
import sys
try:
    import pyarrow.parquet as pq
    import pyarrow.dataset as ds
except ImportError as e:
    print("pyarrow is missing: " + str(e))
    sys.exit(3)
root = sys.argv[1]
f = pq.read_table(root + "/sensor=s-1/part-00000-1-2.parquet")
print("SCHEMA " + "; ".join(str(x.name) + ":" + str(x.type) + ":" + str(x.nullable) for x in f.schema))
print("ROWS " + str(f.num_rows))
d = ds.dataset(root, format="parquet", partitioning="hive", ignore_prefixes=[".", "_"])
t = d.to_table().sort_by("id")
print("IDS " + ",".join(str(i) for i in t.column("id").to_pylist()))
print("LABELS " + ",".join(str(x) for x in t.column("label").to_pylist()[:3]))
print("AT " + str(t.column("at_ms")[1].as_py().isoformat()))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}` ({e}): set FRESHET_PYTHON to a Python with pyarrow \
                 (python3 -m venv venv && venv/bin/pip install pyarrow)",
                python()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pyarrow could not read the files (status {}): {stdout}{stderr}\n\
         set FRESHET_PYTHON to a Python with pyarrow \
         (python3 -m venv venv && venv/bin/pip install pyarrow)",
        out.status
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .to_string()
    };
    assert_eq!(
        line("SCHEMA"),
        "id:int64:False; sensor:string:False; celsius:double:False; count:int32:False; \
         visits:uint32:False; ok:bool:False; label:string:True; battery:int64:True; \
         at_ms:timestamp[ms, tz=UTC]:False"
    );
    assert_eq!(line("ROWS"), "4");
    let ids: Vec<String> = (0..12).map(|i| i.to_string()).collect();
    assert_eq!(line("IDS"), ids.join(","));
    assert_eq!(line("LABELS"), "label 0,None,label 2");
    assert_eq!(line("AT"), "2023-11-14T22:13:21+00:00");
}

#[test]
fn a_truncated_parquet_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(&sink(dir.path()), 0, &[(7, readings(0..50))]);
    let path = dir.path().join("batch-7/part-00000.parquet");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    for policy in [BadRecordPolicy::Skip, BadRecordPolicy::Fail] {
        let e = read_dataset::<Reading>(
            dir.path(),
            FileFormat::Parquet,
            &ReadOptions::new().bad_records(policy),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("not a valid Parquet file"),
            "{e}"
        );
    }

    // In a stream, a damaged file follows the policy: failing the job with its name.
    let input = tempfile::tempdir().unwrap();
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    stepper
        .context()
        .typed_file_stream(
            freshet_connectors::files::TypedFileSource::<Reading>::parquet(input.path())
                .bad_records(BadRecordPolicy::Fail),
        )
        .collect_batches();
    stepper.start().unwrap();
    std::fs::write(input.path().join("broken.parquet"), &bytes[..100]).unwrap();
    let e = stepper.step().unwrap_err().to_string();
    assert!(e.contains("broken.parquet"), "{e}");
}

#[test]
fn rows_that_do_not_fit_the_type_follow_the_bad_record_policy() {
    // Written with a nullable `celsius`, read as a type whose `celsius` is required.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Loose {
        id: i64,
        celsius: Option<f64>,
    }
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Strict {
        id: i64,
        celsius: f64,
    }
    let dir = tempfile::tempdir().unwrap();
    let loose: Vec<Loose> = (0..4)
        .map(|id| Loose {
            id,
            celsius: (id != 2).then_some(id as f64),
        })
        .collect();
    let ctx = SinkContext {
        output_id: "x".into(),
        partition: 0,
        partitions: 1,
    };
    let sink = ParquetSink::new(dir.path()).sync(false);
    let mut w = Sink::<Loose>::open(&sink, &ctx).unwrap();
    w.write(BatchTime(1), &loose).unwrap();
    drop(w);
    let loaded =
        read_dataset::<Strict>(dir.path(), FileFormat::Parquet, &ReadOptions::new()).unwrap();
    assert_eq!(loaded.bad_rows, 1);
    let ids: Vec<i64> = loaded
        .dataset
        .collect()
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [0, 1, 3]);
    let e = read_dataset::<Strict>(
        dir.path(),
        FileFormat::Parquet,
        &ReadOptions::new().bad_records(BadRecordPolicy::Fail),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("row 2") && e.contains("part-00000.parquet"),
        "{e}"
    );
}

#[test]
fn a_parquet_stream_reads_the_files_a_parquet_sink_writes() {
    let input = tempfile::tempdir().unwrap();
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    let out = stepper
        .context()
        .parquet_stream::<Reading>(input.path())
        .collect_batches();
    stepper.start().unwrap();
    write(
        &sink(input.path()),
        0,
        &[(1, readings(0..3)), (2, readings(3..5))],
    );
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let mut got: Vec<Reading> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    got.sort_by_key(|r| r.id);
    assert_eq!(got, readings(0..5));
}

#[test]
fn a_timestamp_setting_on_a_field_that_is_not_an_i64_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ParquetSink::new(dir.path()).timestamp_millis("sensor");
    let e = bad.schema_for::<Reading>().unwrap_err().to_string();
    assert!(e.contains("sensor") && e.contains("i64"), "{e}");
    let e = ParquetSink::new(dir.path())
        .row_group_rows(0)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("row_group_rows must be between 1"), "{e}");
}
