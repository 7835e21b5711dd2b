//! `--config file.toml`: the long flag names as keys, a top-level table for
//! the shared options and one table per command (`[solo]`, `[pool]`,
//! `[bench]`, `[profit]`, `[teach]`). The file becomes command-line
//! arguments placed before the user's own, and a flag the user gives
//! replaces the file's value, so flags always override the file. Keys are
//! checked against the real command definitions: an unknown key is an
//! error that names it.
//!
//! Without a command, `-c FILE` / `--config FILE` may also be a cpuminer
//! JSON config (a file starting with `{`): its keys are the long flag
//! names, as cpuminer reads them, and become arguments the same way.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Arg, ArgAction, Command};

/// Command tables a config file may have.
fn is_command_table(cmd: &Command, name: &str) -> bool {
    cmd.get_subcommands().any(|s| s.get_name() == name)
}

/// Find `--config PATH` (or `--config=PATH`) in raw arguments.
pub fn config_path(argv: &[String]) -> Option<String> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" || a == "-c" {
            return it.next().cloned();
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(p.to_string());
        }
        if let Some(p) = a.strip_prefix("-c").filter(|p| !p.is_empty()) {
            return Some(p.trim_start_matches('=').to_string());
        }
    }
    None
}

/// The subcommand named in raw arguments, if any: the first argument that
/// is a subcommand name and is not the value of a preceding option.
fn subcommand_of(cmd: &Command, argv: &[String]) -> Option<String> {
    let mut skip_value = false;
    for a in argv.iter().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        if a.starts_with('-') {
            if !a.contains('=') {
                let takes_value = find_arg(cmd, a)
                    .map(|arg| arg.get_action().takes_values())
                    .unwrap_or(false);
                skip_value = takes_value;
            }
            continue;
        }
        if is_command_table(cmd, a) {
            return Some(a.clone());
        }
        return None;
    }
    None
}

/// The argument a raw flag (`--name`, `-n`) refers to, among the top-level
/// ones and every subcommand's.
fn find_arg<'a>(cmd: &'a Command, flag: &str) -> Option<&'a Arg> {
    let all = cmd
        .get_arguments()
        .chain(cmd.get_subcommands().flat_map(|s| s.get_arguments()));
    let mut all = all.collect::<Vec<_>>().into_iter();
    if let Some(long) = flag.strip_prefix("--") {
        all.find(|a| {
            a.get_long() == Some(long) || a.get_all_aliases().unwrap_or_default().contains(&long)
        })
    } else {
        let c = flag.strip_prefix('-')?.chars().next()?;
        all.find(|a| a.get_short() == Some(c))
    }
}

/// Whether the user's arguments already give `arg`.
fn user_gives(argv: &[String], arg: &Arg) -> bool {
    argv.iter().skip(1).any(|a| {
        if let Some(rest) = a.strip_prefix("--") {
            let name = rest.split('=').next().unwrap_or(rest);
            arg.get_long() == Some(name)
                || arg.get_all_aliases().unwrap_or_default().contains(&name)
        } else if let (Some(rest), Some(short)) = (a.strip_prefix('-'), arg.get_short()) {
            rest.starts_with(short)
        } else {
            false
        }
    })
}

fn lookup<'a>(args: &[&'a Arg], key: &str) -> Option<&'a Arg> {
    args.iter().copied().find(|a| a.get_long() == Some(key))
}

fn value_args(key: &str, arg: &Arg, value: &toml::Value, table: &str) -> Result<Vec<String>> {
    let flag = format!("--{key}");
    let scalar = |v: &toml::Value| -> Result<String> {
        Ok(match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!("config key {table}{key}: unsupported value {other}"),
        })
    };
    // An option whose value is optional (`--cpu-affinity[=MASK]`): true is
    // the flag alone, a value is joined with `=`.
    let optional_value = arg.get_num_args().is_some_and(|r| r.min_values() == 0);
    if optional_value {
        return Ok(match value {
            toml::Value::Boolean(true) => vec![flag],
            toml::Value::Boolean(false) => vec![],
            v => vec![format!("{flag}={}", scalar(v)?)],
        });
    }
    Ok(match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => {
            if *b {
                vec![flag]
            } else {
                vec![]
            }
        }
        (ArgAction::SetTrue, _) => bail!("config key {table}{key} must be true or false"),
        (ArgAction::Count, toml::Value::Integer(n)) if (0..=3).contains(n) => {
            vec![flag; *n as usize]
        }
        (ArgAction::Count, _) => bail!("config key {table}{key} must be a number from 0 to 3"),
        (_, toml::Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                out.push(flag.clone());
                out.push(scalar(item)?);
            }
            out
        }
        (_, v) => vec![flag, scalar(v)?],
    })
}

/// Turn a config file into arguments for `argv`'s command, validating
/// every key of every table.
pub fn args_from_table(cmd: &Command, table: &toml::Table, argv: &[String]) -> Result<Vec<String>> {
    let top_args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some())
        .collect();
    let chosen = subcommand_of(cmd, argv).unwrap_or_else(|| "bench".to_string());
    let mut shared = Vec::new();
    let mut own = Vec::new();
    for (key, value) in table {
        if let toml::Value::Table(sub) = value {
            if !is_command_table(cmd, key) {
                bail!("unknown table [{key}] in the config file (tables are the command names: bench, remine, solo, pool, profit, teach)");
            }
            let sc = cmd.find_subcommand(key).expect("checked above");
            let sub_args: Vec<&Arg> = sc
                .get_arguments()
                .filter(|a| a.get_long().is_some())
                .collect();
            for (k, v) in sub {
                let arg = lookup(&sub_args, k)
                    .or_else(|| lookup(&top_args, k).filter(|a| a.is_global_set()))
                    .filter(|a| !matches!(a.get_long(), Some("help" | "version" | "config")))
                    .ok_or_else(|| {
                        anyhow!("unknown key {k:?} in table [{key}] of the config file")
                    })?;
                let vals = value_args(k, arg, v, &format!("[{key}] "))?;
                if key == &chosen && !user_gives(argv, arg) {
                    own.extend(vals);
                }
            }
        } else {
            let arg = lookup(&top_args, key)
                .filter(|a| !matches!(a.get_long(), Some("help" | "version" | "config")))
                .ok_or_else(|| anyhow!("unknown key {key:?} in the config file"))?;
            let vals = value_args(key, arg, value, "")?;
            if !user_gives(argv, arg) {
                shared.extend(vals);
            }
        }
    }
    // Rebuild: program, subcommand (when named), the file's arguments, then
    // the user's arguments without the subcommand name.
    let mut out = vec![argv.first().cloned().unwrap_or_else(|| "noncesweep".into())];
    let sub_named = subcommand_of(cmd, argv).is_some();
    if sub_named {
        out.push(chosen.clone());
    }
    out.extend(shared);
    if sub_named {
        out.append(&mut own);
    }
    let mut removed = false;
    for a in argv.iter().skip(1) {
        if sub_named && !removed && a == &chosen {
            removed = true;
            continue;
        }
        out.push(a.clone());
    }
    if !sub_named && !own.is_empty() {
        // `[bench]` keys with no command named: bench options are accepted
        // at the top level.
        out.extend(own);
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
}

fn parse_toml(text: &str, path: &Path) -> Result<toml::Table> {
    toml::from_str(text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))
}

/// A cpuminer JSON value as the TOML value [`value_args`] reads.
fn json_to_toml(v: &serde_json::Value, key: &str) -> Result<toml::Value> {
    Ok(match v {
        serde_json::Value::Bool(b) => toml::Value::Boolean(*b),
        serde_json::Value::String(s) => toml::Value::String(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .map(|i| json_to_toml(i, key))
                .collect::<Result<_>>()?,
        ),
        other => bail!("cpuminer config key {key:?}: unsupported value {other}"),
    })
}

/// Turn a cpuminer JSON config into arguments (no command: its keys are
/// top-level flags, cpuminer's and noncesweep's own). Flags the user
/// gives win over the file.
pub fn args_from_json(
    cmd: &Command,
    text: &str,
    path: &Path,
    argv: &[String],
) -> Result<Vec<String>> {
    if subcommand_of(cmd, argv).is_some() {
        bail!(
            "{} is a cpuminer JSON config, which works only without a command (`noncesweep -c FILE`); a command reads a TOML config",
            path.display()
        );
    }
    let json: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("config file {} is not valid JSON", path.display()))?;
    let serde_json::Value::Object(map) = json else {
        bail!("config file {} must hold one JSON object", path.display());
    };
    let top_args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some())
        .collect();
    let mut out = vec![argv.first().cloned().unwrap_or_else(|| "noncesweep".into())];
    for (key, value) in &map {
        let arg = lookup(&top_args, key)
            .filter(|a| !matches!(a.get_long(), Some("help" | "version" | "config")))
            .ok_or_else(|| {
                anyhow!(
                    "unknown key {key:?} in the cpuminer config {} (keys are long flag names such as \"url\", \"user\", \"threads\")",
                    path.display()
                )
            })?;
        if !user_gives(argv, arg) {
            out.extend(value_args(key, arg, &json_to_toml(value, key)?, "")?);
        }
    }
    out.extend(argv.iter().skip(1).cloned());
    Ok(out)
}

/// Apply `--config` / `-c` (if given) to the raw arguments.
pub fn expand_args(cmd: &Command, argv: Vec<String>) -> Result<Vec<String>> {
    match config_path(&argv) {
        None => Ok(argv),
        Some(path) => {
            let path = Path::new(&path);
            let text = read(path)?;
            if text.trim_start().starts_with('{') {
                return args_from_json(cmd, &text, path, &argv);
            }
            args_from_table(cmd, &parse_toml(&text, path)?, &argv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn file_round_trips_into_options_and_flags_override() {
        let table: toml::Table = toml::from_str(
            r#"
            threads = 1
            backend = "soft"
            log-format = "json"
            [bench]
            seconds = 0.5
            json = true
            [remine]
            from = "0x10"
            "#,
        )
        .unwrap();
        let cmd = Cli::command();
        let args = args_from_table(&cmd, &table, &argv("noncesweep bench")).unwrap();
        let cli = Cli::try_parse_from(&args).unwrap();
        assert_eq!(cli.common.threads.map(|n| n.get()), Some(1));
        assert_eq!(cli.common.log_format, crate::cli::LogFormat::Json);
        match cli.command {
            Some(crate::cli::Command::Bench(b)) => {
                assert_eq!(b.seconds, 0.5);
                assert!(b.json);
            }
            other => panic!("{other:?}"),
        }
        // A flag on the command line wins over the file.
        let args = args_from_table(
            &cmd,
            &table,
            &argv("noncesweep --threads 2 bench --seconds 1"),
        )
        .unwrap();
        let cli = Cli::try_parse_from(&args).unwrap();
        assert_eq!(cli.common.threads.map(|n| n.get()), Some(2));
        match cli.command {
            Some(crate::cli::Command::Bench(b)) => assert_eq!(b.seconds, 1.0),
            other => panic!("{other:?}"),
        }
        // No command: bench options still apply.
        let args = args_from_table(&cmd, &table, &argv("noncesweep")).unwrap();
        let cli = Cli::try_parse_from(&args).unwrap();
        assert!(cli.bench.json);
    }

    #[test]
    fn pool_table_with_an_array_of_pools() {
        let table: toml::Table = toml::from_str(
            r#"
            threads = 1
            [pool]
            url = ["stratum+tcp://127.0.0.1:3333", "stratum+tcp://127.0.0.1:4444"]
            user = "me.worker"
            suggest-diff = 0.5
            version-mask = "0001e000"
            allow-reconnect-to = ["eu.other.example", "us.other.example"]
            "#,
        )
        .unwrap();
        let cmd = Cli::command();
        let args = args_from_table(&cmd, &table, &argv("noncesweep pool")).unwrap();
        let cli = Cli::try_parse_from(&args).unwrap();
        match &cli.command {
            Some(crate::cli::Command::Pool(p)) => {
                assert_eq!(p.urls.len(), 2);
                assert_eq!(p.user, "me.worker");
                assert_eq!(p.suggest_diff.map(|d| d.get()), Some(0.5));
                assert_eq!(p.version_mask, Some(0x0001_e000));
                assert_eq!(
                    p.allow_reconnect_to,
                    ["eu.other.example", "us.other.example"]
                );
            }
            other => panic!("{other:?}"),
        }
        // Pools on the command line replace the file's list.
        let args = args_from_table(
            &cmd,
            &table,
            &argv("noncesweep pool -o stratum+tcp://127.0.0.1:5555"),
        )
        .unwrap();
        let cli = Cli::try_parse_from(&args).unwrap();
        match &cli.command {
            Some(crate::cli::Command::Pool(p)) => assert_eq!(p.urls.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let cmd = Cli::command();
        for (text, want) in [
            ("thredas = 2", "\"thredas\""),
            ("[bench]\nsecs = 2", "\"secs\" in table [bench]"),
            ("[mine]\nx = 1", "unknown table [mine]"),
        ] {
            let table: toml::Table = toml::from_str(text).unwrap();
            let err = args_from_table(&cmd, &table, &argv("noncesweep bench"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
