//! Output operators: gathering batches on worker 0 (`foreach_batch`, `print`, `collect`) and
//! writing partitions to files (`save_as_text_files`).

use super::cadence::Cadence;
use super::{narrow, per_time, EmitEmpty};
use crate::data::Data;
use crate::error::Error;
use crate::plan::{TStream, WorkerEnv};
use crate::run::RuntimeEvent;
use std::fmt::Debug;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use timely::dataflow::channels::pact::{Exchange, Pipeline};

/// Gathers every batch on worker 0 (worker 0's records first, then worker 1's, ...) and calls
/// `f(time, records, out)` there once per batch, in batch-time order, empty batches included:
/// every batch the stream has (a windowed stream has one every `every` ms; see [`Cadence`]).
/// What `f` pushes to `out` is emitted on worker 0.
pub(crate) fn gather<'s, T, U, F>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    name: &str,
    every: u64,
    mut f: F,
) -> TStream<'s, U>
where
    T: Data,
    U: Data,
    F: FnMut(u64, Vec<T>, &mut Vec<U>) + 'static,
{
    let index = env.index;
    let cadence = Cadence::new(env, every);
    let tagged = narrow(
        s,
        "gather-tag",
        move |data: &mut Vec<T>, out: &mut Vec<(usize, Vec<T>)>| {
            out.push((index, std::mem::take(data)));
        },
    );
    per_time(
        tagged,
        Exchange::new(|_: &(usize, Vec<T>)| 0),
        name,
        env,
        EmitEmpty::Worker0,
        Vec::new,
        |acc: &mut Vec<(usize, Vec<T>)>, data: &mut Vec<(usize, Vec<T>)>| acc.append(data),
        move |t, mut parts, out: &mut Vec<U>| {
            if !cadence.fires(t) {
                return;
            }
            parts.sort_by_key(|p| p.0);
            let total = parts.iter().map(|p| p.1.len()).sum();
            let mut records = Vec::with_capacity(total);
            for (_, mut part) in parts {
                records.append(&mut part);
            }
            f(t, records, out);
        },
    )
}

/// An output operation over [`gather`]: calls `f(time, records)` once per batch on worker 0
/// and tells the run's owner when it starts and finishes (for listeners and the UI).
pub(crate) fn gather_each<'s, T, F>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    name: &str,
    output: Option<Arc<OnceLock<String>>>,
    every: u64,
    mut f: F,
) -> TStream<'s, ()>
where
    T: Data,
    F: FnMut(u64, Vec<T>) + 'static,
{
    let shared = env.shared.clone();
    let output_name = name.to_string();
    gather(
        s,
        env,
        name,
        every,
        move |t, records, _out: &mut Vec<()>| {
            shared.event(RuntimeEvent::OutputStarted {
                name: output_name.clone(),
                time: t,
            });
            let started = std::time::Instant::now();
            f(t, records);
            let id = output
                .as_ref()
                .and_then(|o| o.get())
                .unwrap_or(&output_name)
                .clone();
            shared.event(RuntimeEvent::OutputCompleted {
                name: output_name.clone(),
                id,
                time: t,
                duration: started.elapsed(),
            });
        },
    )
}

/// Keeps at most `n` records of each batch on each worker.
pub(crate) fn take_local<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    n: usize,
) -> TStream<'s, T> {
    per_time(
        s,
        Pipeline,
        "take",
        env,
        EmitEmpty::Never,
        Vec::new,
        move |acc: &mut Vec<T>, data: &mut Vec<T>| {
            let room = n.saturating_sub(acc.len());
            acc.extend(data.drain(..).take(room));
            data.clear();
        },
        |_t, acc, out| *out = acc,
    )
}

/// The text `print(n)` writes for one batch: a header with the batch time, then the first `n`
/// records, then `...` if the batch has more.
pub(crate) fn format_print<T: Debug>(time: u64, records: &[T], n: usize) -> String {
    let mut s = String::new();
    s.push_str("-------------------------------------------\n");
    s.push_str(&format!("Time: {time} ms\n"));
    s.push_str("-------------------------------------------\n");
    for r in records.iter().take(n) {
        s.push_str(&format!("{r:?}\n"));
    }
    if records.len() > n {
        s.push_str("...\n");
    }
    s.push('\n');
    s
}

/// Writes `lines` to `dir/name` through a temporary file renamed into place, so a reader never
/// sees half a file.
pub(crate) fn write_lines_atomically<T: std::fmt::Display>(
    dir: &Path,
    name: &str,
    lines: &[T],
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = std::io::BufWriter::new(file);
    for line in lines {
        writeln!(w, "{line}").map_err(|e| Error::io(&tmp, e))?;
    }
    w.flush().map_err(|e| Error::io(&tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// Where each batch's files go: a function of the batch time.
pub(crate) type BatchDir = Arc<dyn Fn(u64) -> PathBuf + Send + Sync>;

/// Every worker writes its partition of every batch to `dir(time)/part-<worker>`, empty
/// partitions included (as Spark does).
pub(crate) fn save_as_text<'s, T: Data + std::fmt::Display>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    dir: BatchDir,
    every: u64,
) -> TStream<'s, ()> {
    let worker_env = env.clone();
    let cadence = Cadence::new(env, every);
    per_time(
        s,
        Pipeline,
        "save_as_text_files",
        env,
        EmitEmpty::AllWorkers,
        Vec::new,
        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
        move |t, records, _out: &mut Vec<()>| {
            if !cadence.fires(t) {
                return;
            }
            let name = format!("part-{:05}", worker_env.index);
            if let Err(e) = write_lines_atomically(&dir(t), &name, &records) {
                worker_env.shared.fail(e);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_format_truncates() {
        let s = format_print(1000, &[1, 2, 3], 2);
        assert_eq!(
            s,
            "-------------------------------------------\nTime: 1000 ms\n-------------------------------------------\n1\n2\n...\n\n"
        );
        let empty: Vec<i32> = vec![];
        assert!(format_print(5, &empty, 10).ends_with("---\n\n"));
    }
}
