//! Command-line parsing, through [`lexopt`]; the `--help` text is generated from [`OPTIONS`], the
//! same table the tests check the parser against.
//!
//! This module depends on `env` (for [`BackendChoice`]), never the other way round.

pub use crate::env::BackendChoice;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

/// Options of a measurement run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `--json PATH`: write every figure as JSON.
    pub json: Option<PathBuf>,
    /// `--plot PATH`: write the latency CDF as SVG, and the headline ratios beside it
    /// ([`ratios_plot_path`]).
    pub plot: Option<PathBuf>,
    /// `--markdown PATH`: write the comparison as a Markdown table (what the README shows).
    pub markdown: Option<PathBuf>,
    /// `--quick`: the reduced set (all keys still present).
    pub quick: bool,
    /// `--backend sim|native`.
    pub backend: BackendChoice,
    /// `--no-demo`: skip the end-to-end trace of the three consumers.
    pub no_demo: bool,
    /// `--only GROUP,...`: run only these measurement groups (`None`: all).
    pub only: Option<Vec<Group>>,
    /// `--compare PATH`: a previous run's JSON to print the headline figures against.
    pub compare: Option<PathBuf>,
}

/// A group of measurements that `--only` can select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Delivery latency (old, stream, floor).
    Latency,
    /// Burst throughput.
    Throughput,
    /// Idle cost and shutdown at every port count.
    Idle,
    /// ipconfig RPC rates.
    Rpc,
}

impl Group {
    /// Every group, in run order.
    pub const ALL: [Group; 4] = [Group::Latency, Group::Throughput, Group::Idle, Group::Rpc];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Latency => "latency",
            Group::Throughput => "throughput",
            Group::Idle => "idle",
            Group::Rpc => "rpc",
        }
    }
}

impl Options {
    /// Whether `group` is to be measured.
    pub fn runs(&self, group: Group) -> bool {
        self.only.as_ref().map_or(true, |g| g.contains(&group))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            json: None,
            plot: None,
            markdown: None,
            quick: false,
            backend: BackendChoice::build_default(),
            no_demo: false,
            only: None,
            compare: None,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the demo and the measurements.
    Run(Options),
    /// Print the usage text.
    Help,
    /// Print the version (and the backend compiled in).
    Version,
}

/// A command line that cannot be understood (the binary exits with status 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// An option this command does not have.
    UnknownOption(String),
    /// An option that needs a value was last, or given an empty one.
    MissingValue(&'static str),
    /// A value given to an option that takes none (`--quick=yes`): the option, the value.
    UnexpectedValue(String, String),
    /// `--backend` with something other than `sim` or `native`.
    BadBackend(String),
    /// The same option twice.
    Repeated(&'static str),
    /// `--only` with a name that is not a group.
    BadGroup(String),
    /// A positional argument (the command takes none).
    Unexpected(String),
    /// An argument that is not valid UTF-8 where text is needed.
    NotUnicode(OsString),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownOption(o) => {
                write!(f, "unknown option `{o}`")?;
                if let Some(near) = nearest_option(o) {
                    write!(f, " (did you mean `{near}`?)")?;
                }
                Ok(())
            }
            CliError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            CliError::UnexpectedValue(o, v) => {
                write!(f, "option `{o}` takes no value (given `{v}`)")
            }
            CliError::BadBackend(b) => {
                write!(f, "unknown backend `{b}` (expected `sim` or `native`)")
            }
            CliError::BadGroup(g) => write!(
                f,
                "unknown group `{g}` for --only (expected latency, throughput, idle or rpc)"
            ),
            CliError::Repeated(o) => write!(f, "option `{o}` given more than once"),
            CliError::Unexpected(a) => {
                write!(
                    f,
                    "unexpected argument `{a}` (the command takes options only)"
                )
            }
            CliError::NotUnicode(a) => write!(f, "argument {a:?} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for CliError {}

/// One option of the command: what `--help` lists and the parser accepts.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The long name, with its dashes.
    pub long: &'static str,
    /// The short name, if any.
    pub short: Option<char>,
    /// The value's placeholder (`None`: a flag).
    pub value: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

const fn opt(
    long: &'static str,
    short: Option<char>,
    value: Option<&'static str>,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        long,
        short,
        value,
        help,
    }
}

/// Every option, in `--help` order.
pub const OPTIONS: &[OptionSpec] = &[
    opt(
        "--quick",
        None,
        None,
        "reduced samples and windows (15-20 s; every figure still reported)",
    ),
    opt(
        "--json",
        None,
        Some("PATH"),
        "write every figure as JSON to PATH",
    ),
    opt(
        "--plot",
        None,
        Some("PATH"),
        "write the latency CDF to PATH, the headline ratios to PATH-ratios.svg",
    ),
    opt(
        "--markdown",
        None,
        Some("PATH"),
        "write the comparison table (the README's) as Markdown to PATH",
    ),
    opt(
        "--backend",
        None,
        Some("sim|native"),
        "kernel to measure: simulated (default without Mach) or NextBSD's",
    ),
    opt(
        "--no-demo",
        None,
        None,
        "skip the end-to-end trace of the three consumers",
    ),
    opt(
        "--only",
        None,
        Some("GROUP,..."),
        "measure only these groups: latency, throughput, idle, rpc",
    ),
    opt(
        "--compare",
        None,
        Some("PATH"),
        "print headline figures beside those of PATH (a --json file)",
    ),
    opt(
        "--version",
        Some('V'),
        None,
        "print the version and the backend compiled in",
    ),
    opt("--help", Some('h'), None, "print this text"),
];

/// The `--help` text: what the command does, every option of [`OPTIONS`] on one line, the
/// environment and where progress goes.
pub fn usage() -> String {
    let mut out = String::from(
        "mach-bench: the three NextBSD Mach consumers (SCNotify, IOKitNotify, ipconfigd's MIG
service) end to end, then the old one-thread-per-port polling loop and NextBSD HEAD's
libdispatch sources (modelled, sim only) measured against MachRecvStream.

Usage: mach-bench [OPTIONS]

Options:
",
    );
    let column = OPTIONS.iter().map(spec_width).max().unwrap_or(0);
    for o in OPTIONS {
        let mut left = match o.short {
            Some(c) => format!("-{c}, {}", o.long),
            None => format!("    {}", o.long),
        };
        if let Some(v) = o.value {
            left.push(' ');
            left.push_str(v);
        }
        out.push_str(&format!("  {left:<column$}  {}\n", o.help));
    }
    out.push_str(&format!(
        "
Environment:
  {:<column$}  tracing filter, events printed to stderr (e.g. mach_async=debug)

Progress goes to stderr: a status line on a terminal, one plain line per step otherwise.
",
        "RUST_LOG"
    ));
    out
}

fn spec_width(o: &OptionSpec) -> usize {
    4 + o.long.len() + o.value.map_or(0, |v| v.len() + 1)
}

/// The option closest to a misspelt `name` (one or two edits away), for the error message.
fn nearest_option(name: &str) -> Option<&'static str> {
    let name = name.split('=').next().unwrap_or(name);
    OPTIONS
        .iter()
        .map(|o| (edit_distance(name, o.long), o.long))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, long)| long)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

/// Where `--plot PATH` writes the headline-ratio chart: beside `PATH`, its stem followed by
/// `-ratios` (`results/cdf.svg` → `results/cdf-ratios.svg`; `.svg` added when `PATH` has no
/// extension).
pub fn ratios_plot_path(plot: &Path) -> PathBuf {
    let mut name = plot
        .file_stem()
        .map_or_else(OsString::new, OsStr::to_os_string);
    name.push("-ratios.");
    name.push(plot.extension().unwrap_or(OsStr::new("svg")));
    plot.with_file_name(name)
}

/// Sets `slot` once; a second time is [`CliError::Repeated`].
fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), CliError> {
    if slot.replace(value).is_some() {
        return Err(CliError::Repeated(name));
    }
    Ok(())
}

/// Parses the arguments that follow the program name (`--opt value` and `--opt=value` alike).
pub fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let mut opts = Options::default();
    let mut backend = None;
    let mut parser = lexopt::Parser::from_args(args);
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => return Err(flag_error(e)),
        };
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("quick") => opts.quick = true,
            Long("no-demo") => opts.no_demo = true,
            Long("json") => set_once(
                &mut opts.json,
                value(&mut parser, "--json")?.into(),
                "--json",
            )?,
            Long("plot") => set_once(
                &mut opts.plot,
                value(&mut parser, "--plot")?.into(),
                "--plot",
            )?,
            Long("markdown") => set_once(
                &mut opts.markdown,
                value(&mut parser, "--markdown")?.into(),
                "--markdown",
            )?,
            Long("compare") => set_once(
                &mut opts.compare,
                value(&mut parser, "--compare")?.into(),
                "--compare",
            )?,
            Long("only") => {
                let v = value(&mut parser, "--only")?;
                let groups = parse_groups(&v)?;
                set_once(&mut opts.only, groups, "--only")?;
            }
            Long("backend") => {
                let v = value(&mut parser, "--backend")?;
                let choice = v
                    .to_str()
                    .and_then(BackendChoice::from_name)
                    .ok_or_else(|| CliError::BadBackend(v.to_string_lossy().into_owned()))?;
                set_once(&mut backend, choice, "--backend")?;
            }
            Short(c) => return Err(CliError::UnknownOption(format!("-{c}"))),
            Long(name) => return Err(CliError::UnknownOption(format!("--{name}"))),
            Value(v) => {
                return Err(match v.into_string() {
                    Ok(text) => CliError::Unexpected(text),
                    Err(raw) => CliError::NotUnicode(raw),
                })
            }
        }
    }
    if let Some(b) = backend {
        opts.backend = b;
    }
    Ok(Command::Run(opts))
}

/// The value of an option that takes one: missing or empty is an error.
fn value(parser: &mut lexopt::Parser, name: &'static str) -> Result<OsString, CliError> {
    match parser.value() {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(CliError::MissingValue(name)),
    }
}

/// `--only`'s list: known group names, duplicates dropped, at least one.
fn parse_groups(v: &OsStr) -> Result<Vec<Group>, CliError> {
    let text = v
        .to_str()
        .ok_or_else(|| CliError::NotUnicode(v.to_os_string()))?;
    let mut groups = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let g = Group::ALL
            .into_iter()
            .find(|g| g.as_str() == name)
            .ok_or_else(|| CliError::BadGroup(name.to_string()))?;
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    if groups.is_empty() {
        return Err(CliError::MissingValue("--only"));
    }
    Ok(groups)
}

/// The errors `lexopt` reports between options: a value given to a flag (`--quick=yes`).
fn flag_error(e: lexopt::Error) -> CliError {
    match e {
        lexopt::Error::UnexpectedValue { option, value } => {
            CliError::UnexpectedValue(option, value.to_string_lossy().into_owned())
        }
        // `next` reports nothing else; should a later lexopt, its message is the clearest.
        other => CliError::Unexpected(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn no_arguments_is_the_default_run() {
        assert_eq!(p(&[]), Ok(Command::Run(Options::default())));
    }

    #[test]
    fn every_option_parses_in_both_spellings() {
        let expected = Options {
            json: Some("out.json".into()),
            plot: Some("cdf.svg".into()),
            markdown: Some("table.md".into()),
            quick: true,
            backend: BackendChoice::Native,
            no_demo: true,
            only: None,
            compare: Some("before.json".into()),
        };
        assert_eq!(
            p(&[
                "--json",
                "out.json",
                "--quick",
                "--plot",
                "cdf.svg",
                "--backend",
                "native",
                "--no-demo",
                "--markdown",
                "table.md",
                "--compare",
                "before.json"
            ]),
            Ok(Command::Run(expected.clone()))
        );
        assert_eq!(
            p(&[
                "--json=out.json",
                "--plot=cdf.svg",
                "--backend=native",
                "--quick",
                "--no-demo",
                "--markdown=table.md",
                "--compare=before.json"
            ]),
            Ok(Command::Run(expected))
        );
        assert_eq!(p(&["--quick", "--help"]), Ok(Command::Help));
        assert_eq!(p(&["-h"]), Ok(Command::Help));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["--quick", "-V"]), Ok(Command::Version));
    }

    #[test]
    fn only_selects_groups() {
        let Ok(Command::Run(o)) = p(&["--only", "idle,latency,idle"]) else {
            panic!()
        };
        assert_eq!(o.only, Some(vec![Group::Idle, Group::Latency]));
        assert!(o.runs(Group::Idle) && o.runs(Group::Latency));
        assert!(!o.runs(Group::Rpc) && !o.runs(Group::Throughput));
        assert!(Options::default().runs(Group::Rpc));
        assert_eq!(
            p(&["--only", "speed"]),
            Err(CliError::BadGroup("speed".into()))
        );
        assert_eq!(p(&["--only", ","]), Err(CliError::MissingValue("--only")));
    }

    #[test]
    fn bad_command_lines_are_typed_errors() {
        assert_eq!(p(&["--json"]), Err(CliError::MissingValue("--json")));
        assert_eq!(p(&["--plot="]), Err(CliError::MissingValue("--plot")));
        assert_eq!(
            p(&["--backend", "xnu"]),
            Err(CliError::BadBackend("xnu".into()))
        );
        assert_eq!(
            p(&["--fast"]),
            Err(CliError::UnknownOption("--fast".into()))
        );
        assert_eq!(
            p(&["--quick=yes"]),
            Err(CliError::UnexpectedValue("--quick".into(), "yes".into()))
        );
        assert_eq!(
            p(&["--no-demo=1"]),
            Err(CliError::UnexpectedValue("--no-demo".into(), "1".into()))
        );
        assert_eq!(p(&["-x"]), Err(CliError::UnknownOption("-x".into())));
        assert_eq!(
            p(&["--only", "rpc", "--only", "idle"]),
            Err(CliError::Repeated("--only"))
        );
        assert_eq!(
            p(&["results.json"]),
            Err(CliError::Unexpected("results.json".into()))
        );
        assert_eq!(
            p(&["--json", "a", "--json", "b"]),
            Err(CliError::Repeated("--json"))
        );
        assert_eq!(
            p(&["--backend", "sim", "--backend", "sim"]),
            Err(CliError::Repeated("--backend"))
        );
        // Messages name the offending argument, and a near miss names the option meant.
        assert!(CliError::BadBackend("xnu".into())
            .to_string()
            .contains("xnu"));
        assert_eq!(
            CliError::UnknownOption("--jsno".into()).to_string(),
            "unknown option `--jsno` (did you mean `--json`?)"
        );
        assert_eq!(
            CliError::UnknownOption("--frobnicate".into()).to_string(),
            "unknown option `--frobnicate`"
        );
    }

    #[test]
    fn help_lists_every_option_the_parser_takes_on_one_line_each() {
        let text = usage();
        for o in OPTIONS {
            // One line per option, with its help.
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.split_whitespace().take(2).any(|w| w == o.long))
                .collect();
            assert_eq!(lines.len(), 1, "{} in\n{text}", o.long);
            assert!(lines[0].ends_with(o.help), "{}", lines[0]);
            // The parser knows it (a sample value where it takes one).
            let sample = match o.long {
                "--backend" => "sim",
                "--only" => "rpc",
                _ => "x",
            };
            let args: Vec<&str> = match o.value {
                Some(_) => vec![o.long, sample],
                None => vec![o.long],
            };
            assert!(p(&args).is_ok(), "{args:?}: {:?}", p(&args));
            if let Some(c) = o.short {
                assert!(p(&[&format!("-{c}")]).is_ok(), "-{c}");
            }
        }
        // And nothing the help does not list: every `--word` in the text is an option.
        for word in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
            if let Some(name) = word.strip_prefix("--") {
                let name = name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
                assert!(
                    OPTIONS.iter().any(|o| o.long == format!("--{name}")),
                    "help names --{name}"
                );
            }
        }
        // Descriptions fit one 100-column line.
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn the_ratio_chart_goes_beside_the_plot() {
        assert_eq!(
            ratios_plot_path(Path::new("results/cdf.svg")),
            PathBuf::from("results/cdf-ratios.svg")
        );
        assert_eq!(
            ratios_plot_path(Path::new("plot")),
            PathBuf::from("plot-ratios.svg")
        );
        assert_eq!(
            ratios_plot_path(Path::new("/tmp/a.b.SVG")),
            PathBuf::from("/tmp/a.b-ratios.SVG")
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_kept_and_non_utf8_flags_rejected() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![b'f', 0xff]);
        let cmd = parse(vec![OsString::from("--json"), raw.clone()]).unwrap();
        assert_eq!(
            cmd,
            Command::Run(Options {
                json: Some(raw.clone().into()),
                ..Options::default()
            })
        );
        assert_eq!(parse(vec![raw.clone()]), Err(CliError::NotUnicode(raw)));
    }
}
