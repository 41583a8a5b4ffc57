//! The ranges of the command line's numeric options that are `usize` (clap's own range check
//! serves the `u64` ones); an out-of-range value is an error naming the range.

fn in_range(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number in {lo}..={hi}"))?;
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is not in {lo}..={hi}"))
    }
}

/// A worker count: 1 ..= 256.
pub fn workers(s: &str) -> Result<usize, String> {
    in_range(s, 1, 256)
}

/// How many entries to show: 1 ..= 100000.
pub fn top(s: &str) -> Result<usize, String> {
    in_range(s, 1, 100_000)
}

/// The processes of a local cluster: 1 ..= 64.
pub fn processes(s: &str) -> Result<usize, String> {
    in_range(s, 1, 64)
}
