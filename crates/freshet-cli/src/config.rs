//! Settings from a TOML file, under the environment and the command line.
//!
//! Every option of a command can be set in three places; the first that sets it wins:
//!
//! 1. the command line (`--batch-ms 500`);
//! 2. the environment: `FRESHET_` and the option's name in capitals with `_` for `-`
//!    (`FRESHET_BATCH_MS=500`);
//! 3. the file given by `--config FILE` (or `FRESHET_CONFIG`), in the table of the command:
//!
//! ```toml
//! [demo]
//! batch-ms = 500
//! rate = 20000
//! ui-addr = "127.0.0.1:4040"
//! ```
//!
//! then the option's default. A key the command does not have is an error that names it.
//!
//! The file's settings are turned into options placed before those of the command line, so
//! that they are checked exactly like them (ranges included).

use anyhow::{bail, Context};
use std::ffi::OsString;

/// The environment variable of option `--name`.
pub fn env_name(option: &str) -> String {
    format!("FRESHET_{}", option.to_uppercase().replace('-', "_"))
}

/// The command line with the settings of the config file (if any) added to it.
pub fn with_file_settings(
    args: Vec<OsString>,
    command: &clap::Command,
) -> anyhow::Result<Vec<OsString>> {
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let path = match text.iter().position(|a| a == "--config") {
        Some(i) => text.get(i + 1).cloned(),
        None => text
            .iter()
            .find_map(|a| a.strip_prefix("--config=").map(str::to_string)),
    }
    .or_else(|| std::env::var("FRESHET_CONFIG").ok());
    let Some(path) = path else {
        return Ok(args);
    };
    // The subcommand: the first argument that names one.
    let Some((at, sub)) = text
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, a)| command.find_subcommand(a).map(|s| (i, s)))
    else {
        return Ok(args);
    };
    let file = std::fs::read_to_string(&path)
        .with_context(|| format!("--config {path}: cannot read the file"))?;
    let table: toml::Table =
        toml::from_str(&file).with_context(|| format!("--config {path}: not valid TOML"))?;
    let name = sub.get_name();
    let Some(settings) = table.get(name) else {
        return Ok(args);
    };
    let Some(settings) = settings.as_table() else {
        bail!("--config {path}: `{name}` must be a table ([{name}])");
    };
    let known: Vec<String> = sub
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut added: Vec<OsString> = Vec::new();
    for (key, value) in settings {
        if !known.iter().any(|k| k == key) || key == "config" {
            bail!(
                "--config {path}: `{name}` has no option `{key}` (it has: {})",
                known.join(", ")
            );
        }
        let given = text
            .iter()
            .any(|a| a == &format!("--{key}") || a.starts_with(&format!("--{key}=")));
        if given || std::env::var_os(env_name(key)).is_some() {
            continue;
        }
        match value {
            toml::Value::Boolean(true) => added.push(format!("--{key}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => {
                added.push(format!("--{key}").into());
                added.push(s.into());
            }
            toml::Value::Integer(n) => {
                added.push(format!("--{key}").into());
                added.push(n.to_string().into());
            }
            toml::Value::Float(x) => {
                added.push(format!("--{key}").into());
                added.push(x.to_string().into());
            }
            other => bail!(
                "--config {path}: `{name}.{key}` must be a string, a number or a boolean, not {}",
                other.type_str()
            ),
        }
    }
    let mut out = args;
    out.splice(at + 1..at + 1, added);
    Ok(out)
}
