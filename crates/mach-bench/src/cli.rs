//! Command-line parsing (no external parser: five options do not need one).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// Which kernel the measurements run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The embedded simulated NextBSD kernel (`mach-sim`), the default on every host.
    Sim,
    /// The real kernel: NextBSD's Mach IPC and `EVFILT_MACHPORT` (only in a NextBSD build).
    Native,
}

impl BackendChoice {
    /// The simulated kernel where this build has it (every host without Mach), else the native
    /// kernel (NextBSD builds, where `mach-async` is built for the real kernel).
    pub fn build_default() -> BackendChoice {
        if crate::env::HAS_SIM {
            BackendChoice::Sim
        } else {
            BackendChoice::Native
        }
    }

    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Sim => "sim",
            BackendChoice::Native => "native",
        }
    }
}

/// Options of a measurement run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `--json PATH`: write every figure as JSON.
    pub json: Option<PathBuf>,
    /// `--plot PATH`: write the latency CDF as SVG.
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

/// A command line that cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// An option this command does not have.
    UnknownOption(String),
    /// An option that needs a value was last, or given an empty one.
    MissingValue(&'static str),
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
            CliError::UnknownOption(o) => write!(f, "unknown option `{o}`"),
            CliError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            CliError::BadBackend(b) => {
                write!(f, "unknown backend `{b}` (expected `sim` or `native`)")
            }
            CliError::BadGroup(g) => write!(
                f,
                "unknown group `{g}` for --only (expected latency, throughput, idle or rpc)"
            ),
            CliError::Repeated(o) => write!(f, "option `{o}` given more than once"),
            CliError::Unexpected(a) => write!(f, "unexpected argument `{a}`"),
            CliError::NotUnicode(a) => write!(f, "argument {a:?} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for CliError {}

/// The `--help` text.
pub const USAGE: &str = "\
mach-bench: the three NextBSD Mach consumers (SCNotify, IOKitNotify, ipconfigd's MIG service)
end to end, then the old one-thread-per-port polling loop and NextBSD HEAD's libdispatch
sources (modelled, sim only) measured against MachRecvStream.

USAGE:
    mach-bench [OPTIONS]

OPTIONS:
    --quick              reduced sample counts and windows (under 15 s; every figure still reported)
    --json PATH          write every figure as JSON to PATH
    --plot PATH          write the latency CDF (old loop, dispatch, stream, floor) as SVG
    --markdown PATH      write the comparison as a Markdown table (the README's) to PATH
    --backend sim|native simulated NextBSD kernel (default on hosts without Mach) or the real
                         kernel (default and only choice in NextBSD builds)
    --no-demo            skip the end-to-end trace of the three consumers
    --only GROUP,...     measure only these groups: latency, throughput, idle, rpc
                         (figures of the others are reported as not measured)
    --compare PATH       print each headline figure of the run in PATH (a --json file)
                         beside this run's, as a Markdown before/after table
    -V, --version        print the version and the backend compiled in
    -h, --help           print this text

ENVIRONMENT:
    RUST_LOG             tracing filter for the run (e.g. mach_async=debug), printed to stderr
";

/// Parses the arguments that follow the program name.
pub fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = OsString>,
{
    let mut opts = Options::default();
    let mut seen_backend = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg
            .to_str()
            .ok_or_else(|| CliError::NotUnicode(arg.clone()))?;
        // `--opt=value` and `--opt value` are both accepted.
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (text, None),
        };
        let mut value = |name: &'static str| -> Result<OsString, CliError> {
            let v = match &inline {
                Some(v) => OsString::from(v),
                None => args.next().ok_or(CliError::MissingValue(name))?,
            };
            if v.is_empty() {
                return Err(CliError::MissingValue(name));
            }
            Ok(v)
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--quick" | "--no-demo" if inline.is_some() => {
                return Err(CliError::UnknownOption(text.to_string()))
            }
            "--quick" => opts.quick = true,
            "--no-demo" => opts.no_demo = true,
            "--json" => {
                let v = value("--json")?;
                if opts.json.replace(PathBuf::from(v)).is_some() {
                    return Err(CliError::Repeated("--json"));
                }
            }
            "--plot" => {
                let v = value("--plot")?;
                if opts.plot.replace(PathBuf::from(v)).is_some() {
                    return Err(CliError::Repeated("--plot"));
                }
            }
            "--compare" => {
                let v = value("--compare")?;
                if opts.compare.replace(PathBuf::from(v)).is_some() {
                    return Err(CliError::Repeated("--compare"));
                }
            }
            "--markdown" => {
                let v = value("--markdown")?;
                if opts.markdown.replace(PathBuf::from(v)).is_some() {
                    return Err(CliError::Repeated("--markdown"));
                }
            }
            "--only" => {
                let v = value("--only")?;
                let text = v.to_str().ok_or_else(|| CliError::NotUnicode(v.clone()))?;
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
                if opts.only.replace(groups).is_some() {
                    return Err(CliError::Repeated("--only"));
                }
            }
            "--backend" => {
                let v = value("--backend")?;
                if std::mem::replace(&mut seen_backend, true) {
                    return Err(CliError::Repeated("--backend"));
                }
                opts.backend = match v.to_str() {
                    Some("sim") => BackendChoice::Sim,
                    Some("native") => BackendChoice::Native,
                    _ => return Err(CliError::BadBackend(v.to_string_lossy().into_owned())),
                };
            }
            f if f.starts_with('-') => return Err(CliError::UnknownOption(text.to_string())),
            _ => return Err(CliError::Unexpected(text.to_string())),
        }
    }
    Ok(Command::Run(opts))
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
            Err(CliError::UnknownOption("--quick=yes".into()))
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
        // Messages name the offending argument.
        assert!(CliError::BadBackend("xnu".into())
            .to_string()
            .contains("xnu"));
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
