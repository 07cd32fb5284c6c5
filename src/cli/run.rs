//! `simnet run`: run a scenario, render its trace, judge its expectations.

use super::CmdResult;
use super::progress::Progress;
use crate::Format;
use crate::keylog::KeyLogWriter;
use simnet_scenario::AppRegistry;
use simnet_scenario::units::parse_duration;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Arguments of `simnet run`.
#[derive(clap::Args)]
pub struct Args {
    /// The scenario file.
    file: PathBuf,
    /// Use this seed instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop at this simulated time (e.g. 500ms, 2s) instead of the scenario's time limit.
    #[arg(long, value_parser = parse_until)]
    until: Option<crate::SimDuration>,
    /// Run twice and report whether every output format is byte-identical.
    #[arg(long)]
    check_determinism: bool,
    /// Mermaid and SVG: only connections with this endpoint, e.g. `49152` or `client:49152`.
    #[arg(long)]
    connection: Option<crate::render::ConnectionSelector>,
    /// Mermaid: only events from this simulated time on (e.g. 1s).
    #[arg(long, value_parser = parse_until)]
    from: Option<crate::SimDuration>,
    /// Mermaid: only events up to this simulated time.
    #[arg(long, value_parser = parse_until)]
    to: Option<crate::SimDuration>,
    /// Mermaid: at most this many events (the diagram says where it stopped).
    #[arg(long)]
    max_events: Option<usize>,
    /// Mermaid and SVG (which keep the whole run before drawing it): stop the run once its trace holds more than this much memory, e.g. 256MiB or 4GiB (default 1GiB). The other formats are written as the run goes.
    #[arg(long, value_parser = parse_size)]
    max_trace_memory: Option<u64>,
    /// Change one value of the scenario, as if the file said so (repeatable): `link.latency=50ms` (every link), `link[2].loss=5%` (the second), `link[client-server].latency=1ms`, `app[client].requests=5`, `host[server].backlog=8`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    set: Vec<simnet_scenario::overrides::Setting>,
    /// Write the TLS secrets of the run to this file (SSLKEYLOGFILE format), so that Wireshark or tshark decrypt its capture: `tshark -r run.pcap -o tls.keylog_file:PATH`.
    #[arg(long, value_name = "PATH")]
    keylog: Option<PathBuf>,
    /// Pcap: capture at this host or router, as `tcpdump -i any` on it would: what it sent and what reached it (a router's incoming and outgoing copy of each packet, with their TTLs and a NAT's rewrites), instead of every packet where it was sent.
    #[arg(long, value_name = "NODE")]
    capture_at: Option<String>,
}

fn parse_setting(text: &str) -> Result<simnet_scenario::overrides::Setting, String> {
    simnet_scenario::overrides::parse_setting(text).map_err(|e| e.message)
}

fn parse_size(text: &str) -> Result<u64, String> {
    simnet_scenario::units::parse_size(text)
}

fn parse_until(text: &str) -> Result<crate::SimDuration, String> {
    parse_duration(text)
}

/// Refuses flags that contradict each other or would be silently ignored,
/// naming the flag and what is valid.
fn check_flags(args: &Args) -> Result<(), String> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        return Err(format!(
            "error: --from {from} is after --to {to}, so no event could be shown\n\
             help: give --from a time before --to, e.g. --from {to} --to {from}"
        ));
    }
    if args.max_events == Some(0) {
        return Err("error: --max-events 0 would show nothing\n\
                    help: give at least 1, e.g. --max-events 200"
            .to_string());
    }
    let mermaid_only = [
        ("--from", args.from.is_some()),
        ("--to", args.to.is_some()),
        ("--max-events", args.max_events.is_some()),
    ];
    for (flag, given) in mermaid_only {
        if given && args.format != Format::Mermaid {
            return Err(format!(
                "error: {flag} narrows only --format mermaid, not --format {}\n\
                 help: add --format mermaid, or drop {flag}",
                args.format.name()
            ));
        }
    }
    if args.connection.is_some() && !matches!(args.format, Format::Mermaid | Format::Svg) {
        return Err(format!(
            "error: --connection narrows only --format mermaid and --format svg, not --format {}\n\
             help: add --format mermaid or --format svg, or drop --connection",
            args.format.name()
        ));
    }
    if args.capture_at.is_some() && args.format != Format::Pcap {
        return Err(format!(
            "error: --capture-at writes a classic pcap, not --format {}\n\
             help: add --format pcap --out FILE",
            args.format.name()
        ));
    }
    if args.capture_at.is_some() && args.check_determinism {
        return Err(
            "error: --capture-at writes one capture; --check-determinism writes \
                    nothing\nhelp: drop one of the two"
                .to_string(),
        );
    }
    if args.max_trace_memory.is_some() && args.format.streams() {
        return Err(format!(
            "error: --max-trace-memory bounds only --format mermaid and --format svg, which keep \
             the whole run; --format {} is written as the run goes\n\
             help: drop --max-trace-memory, or narrow the run with --until",
            args.format.name()
        ));
    }
    if let Some(out) = &args.out
        && same_file(&args.file, out)
    {
        return Err(format!(
            "error: --out {} is the scenario file itself: writing there would destroy it\n\
             help: give another file, e.g. --out run.{}",
            out.display(),
            match args.format {
                Format::Text | Format::Summary => "txt",
                Format::Mermaid => "mmd",
                other => other.name(),
            }
        ));
    }
    if let Some(keylog) = &args.keylog {
        if same_file(&args.file, keylog) {
            return Err(format!(
                "error: --keylog {} is the scenario file itself: writing there would destroy it\n\
                 help: give another file, e.g. --keylog keys.log",
                keylog.display()
            ));
        }
        if args
            .out
            .as_ref()
            .is_some_and(|out| same_file(out, keylog) || out == keylog)
        {
            return Err(format!(
                "error: --keylog {} is also the --out file: one would overwrite the other\n\
                 help: give two files, e.g. --out run.pcap --keylog keys.log",
                keylog.display()
            ));
        }
        if args.check_determinism {
            return Err(
                "error: --keylog writes one run's secrets; --check-determinism writes \
                        nothing\nhelp: drop one of the two"
                    .to_string(),
            );
        }
    }
    Ok(())
}

/// Whether two paths name the same file, comparing canonical paths (the
/// output need not exist yet: then its folder is canonicalized).
fn same_file(input: &std::path::Path, output: &std::path::Path) -> bool {
    let Ok(input) = input.canonicalize() else {
        return false;
    };
    let output = output.canonicalize().or_else(|_| {
        let dir = match output.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize()?,
            _ => std::env::current_dir()?,
        };
        Ok::<_, std::io::Error>(dir.join(output.file_name().unwrap_or_default()))
    });
    output.is_ok_and(|o| o == input)
}

/// Runs the scenario.
pub fn execute(args: Args, registry: &AppRegistry) -> CmdResult {
    check_flags(&args)?;
    let scenario =
        simnet_scenario::load_with(&args.file, &args.set, registry).map_err(|e| e.to_string())?;
    for w in &scenario.warnings {
        err!("{w}");
    }
    let until = args.until.map(|d| crate::SimTime::ZERO + d);

    if args.check_determinism {
        let first = crate::run_scenario(&scenario, args.seed, until);
        let second = crate::run_scenario(&scenario, args.seed, until);
        let mut same = true;
        for format in Format::ALL {
            let a = crate::render(&first, format);
            let b = crate::render(&second, format);
            let verdict = if a == b { "identical" } else { "DIFFERENT" };
            same &= a == b;
            outln!("{:<8} {:>10} bytes  {verdict}", format.name(), a.len());
        }
        return Ok(if same {
            outln!("deterministic: two runs gave byte-identical output in every format");
            ExitCode::SUCCESS
        } else {
            outln!("NOT deterministic: see the formats marked DIFFERENT");
            ExitCode::from(1)
        });
    }

    if args.format.is_binary() && args.out.is_none() {
        return Err(format!(
            "error: --format {} writes binary data; give a file with --out",
            args.format.name()
        ));
    }
    // Open the output file before running, so that a path that cannot be
    // written is reported at once, not after a long run.
    let mut out_file = match &args.out {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            format!(
                "error: --out: cannot write {}: {e}\nhelp: give a file in a folder you can write to",
                path.display()
            )
        })?),
        None => None,
    };
    let keylog = match &args.keylog {
        Some(path) => Some(KeyLogWriter::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                format!(
                    "error: --keylog: cannot write {}: {e}\nhelp: give a file in a folder you can write to",
                    path.display()
                )
            })?,
        ))),
        None => None,
    };
    let mut progress = Progress::new(until.unwrap_or(scenario.time_limit));
    if args.format.streams() {
        return stream(&args, &scenario, until, out_file, keylog, progress);
    }
    let run = crate::run_scenario_watched(
        &scenario,
        args.seed,
        until,
        args.format.capture(),
        args.max_trace_memory
            .unwrap_or(crate::RunLimits::DEFAULT_MAX_TRACE_BYTES),
        &mut |w| progress.tick(w),
    );
    progress.finish();
    if let Some(sel) = &args.connection {
        sel.check(&run.trace.topology)
            .map_err(|e| format!("error: --connection: {e}"))?;
    }
    let options = crate::RenderOptions {
        connection: args.connection.clone(),
        from: args.from.map(|d| crate::SimTime::ZERO + d),
        to: args.to.map(|d| crate::SimTime::ZERO + d),
        max_events: args.max_events,
    };
    let mut output = crate::render_with(&run, args.format, &options);
    let limit = crate::render::mermaid::MERMAID_DEFAULT_MAX_TEXT_SIZE;
    if args.format == Format::Mermaid && output.len() > limit {
        let narrowed = options.connection.is_some()
            || options.from.is_some()
            || options.to.is_some()
            || options.max_events.is_some();
        if narrowed {
            errln!(
                "warning: the diagram has {} characters; Mermaid refuses more than {limit} by \
                 default. Narrow it further with --connection, --from/--to or --max-events.",
                output.len(),
            );
        } else {
            // A diagram Mermaid refuses to draw is of no use to anyone: keep
            // the longest prefix of the run that fits, and say so.
            let full = output.len();
            let (events, fitted) = longest_fitting_prefix(limit, |n| {
                let opts = crate::RenderOptions {
                    max_events: Some(n),
                    ..options.clone()
                };
                crate::render_with(&run, args.format, &opts)
            });
            output = fitted;
            errln!(
                "warning: the whole diagram would have {full} characters, more than Mermaid's \
                 default limit of {limit}: showing the first {events} events. Choose what to \
                 show with --connection, --from/--to or --max-events (a large --max-events \
                 gives the whole run)."
            );
        }
    }
    if let Some(mut keylog) = keylog {
        run.trace.replay(&mut keylog);
        finish_keylog(&args, keylog)?;
    }
    let verdicts = crate::verdicts(&run);
    let failed = run.outcomes.iter().any(|o| !o.passed);

    match (&args.out, out_file.as_mut()) {
        (Some(path), Some(file)) => {
            file.write_all(&output)
                .and_then(|()| file.flush())
                .map_err(|e| format!("error: --out: cannot write {}: {e}", path.display()))?;
            out!("{verdicts}");
        }
        _ => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&output);
            // Every textual output ends its last line, so whatever follows
            // (the verdicts, a shell prompt) starts on a line of its own.
            if !args.format.is_binary() && output.last().is_some_and(|b| *b != b'\n') {
                let _ = writeln!(stdout);
            }
            // Verdicts follow the text timeline and the summary tables, after
            // a blank line; other formats keep standard output
            // machine-readable and report on standard error, once standard
            // output has been flushed so that a terminal shows them in order.
            if matches!(args.format, Format::Text | Format::Summary) {
                if !verdicts.is_empty() {
                    let _ = writeln!(stdout);
                }
                let _ = write!(stdout, "{verdicts}");
            } else {
                let _ = stdout.flush();
                err!("{verdicts}");
            }
        }
    }
    Ok(exit_code(
        run.trace.end_reason(),
        &run.trace.topology,
        failed,
    ))
}

/// A run a safety bound cut short is not a result: say why on standard
/// error (after everything else, so it is the last thing seen) and fail,
/// whatever its expectations said; otherwise fail if an expectation did.
fn exit_code(end: Option<crate::EndReason>, topology: &crate::Topology, failed: bool) -> ExitCode {
    if let Some(crate::EndReason::EventLimit(n)) = end {
        let _ = std::io::stdout().flush();
        errln!(
            "warning: the run stopped at its event limit ({n} events) before its time limit: \
             what it shows ends there\n\
             help: raise `max_events` at the top of the scenario file"
        );
    }
    if let Some(reason) = end.filter(|r| r.is_failure()) {
        let _ = std::io::stdout().flush();
        let raise = match reason {
            crate::EndReason::MemoryLimit(_) => "; or allow more with --max-trace-memory",
            _ => "",
        };
        errln!(
            "error: the run was stopped: {}{raise}",
            reason.describe(topology)
        );
        return ExitCode::from(3);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs a format that is written as the run goes: straight to the `--out`
/// file or standard output, the verdicts after it as the stored path
/// prints them.
fn stream(
    args: &Args,
    scenario: &crate::scenario::Scenario,
    until: Option<crate::SimTime>,
    out_file: Option<std::fs::File>,
    keylog: Option<KeyLogWriter<KeyLogFile>>,
    mut progress: Progress,
) -> CmdResult {
    let to_file = out_file.is_some();
    let out: crate::StreamOutput = match out_file {
        Some(file) => Box::new(std::io::BufWriter::with_capacity(1 << 16, file)),
        None => Box::new(EndsLine::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))),
    };
    // The sinks run on a thread of their own: the ones read after the run
    // are shared with it.
    let keylog = keylog.map(|k| Arc::new(Mutex::new(k)));
    let mut extra: Vec<Box<dyn crate::TraceSink + Send>> = match &keylog {
        Some(k) => vec![Box::new(k.clone())],
        None => Vec::new(),
    };
    // A capture at one node is a sink of its own beside the judge; the
    // run's own format writer then writes nowhere.
    let (format, out, capture) = match &args.capture_at {
        Some(name) => {
            let node = capture_node(scenario, args.seed, until, name)?;
            let capture = Arc::new(Mutex::new(crate::render::NodeCapture::new(out, node)));
            extra.push(Box::new(capture.clone()));
            let nowhere: crate::StreamOutput = Box::new(std::io::sink());
            (Format::Pcap, nowhere, Some(capture))
        }
        None => (args.format, out, None),
    };
    let result = crate::run_scenario_streamed_with(
        scenario,
        args.seed,
        until,
        format,
        out,
        extra,
        &mut |w| progress.tick(w),
    );
    let result = match (result, capture) {
        (Ok(run), Some(capture)) => Arc::try_unwrap(capture)
            .map_err(|_| std::io::Error::other("the capture outlived its run"))
            .and_then(|c| c.into_inner().unwrap_or_else(|p| p.into_inner()).finish())
            .map(|_| run),
        (result, _) => result,
    };
    progress.finish();
    if let Some(k) = keylog {
        let k = Arc::try_unwrap(k)
            .map_err(|_| "error: --keylog: the writer outlived its run".to_string())?
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        finish_keylog(args, k)?;
    }
    let run = match result {
        Ok(run) => run,
        // Standard output closed early (`| head`): nothing more to say there.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && !to_file => {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            let target = match &args.out {
                Some(path) => format!("--out: cannot write {}", path.display()),
                None => "cannot write standard output".to_string(),
            };
            return Err(format!("error: {target}: {e}"));
        }
    };
    let verdicts = run.verdicts();
    if to_file {
        out!("{verdicts}");
    } else if matches!(args.format, Format::Text | Format::Summary) {
        if !verdicts.is_empty() {
            outln!();
        }
        out!("{verdicts}");
    } else {
        let _ = std::io::stdout().flush();
        err!("{verdicts}");
    }
    let failed = run.outcomes.iter().any(|o| !o.passed);
    Ok(exit_code(run.end, &run.topology, failed))
}

/// The host or router `--capture-at` names, or an error listing them.
fn capture_node(
    scenario: &crate::scenario::Scenario,
    seed: Option<u64>,
    until: Option<crate::SimTime>,
    name: &str,
) -> Result<crate::HostId, String> {
    let world = scenario.world(seed, until);
    world.host_id(name).ok_or_else(|| {
        let hosts = &world.trace().topology.hosts;
        let mut names: Vec<&str> = hosts.iter().take(12).map(|h| h.name.as_str()).collect();
        if hosts.len() > names.len() {
            names.push("...");
        }
        format!(
            "error: --capture-at: the scenario has no host or router named `{name}`\n\
             help: its nodes are: {}",
            names.join(", ")
        )
    })
}

/// The `--keylog` file.
type KeyLogFile = std::io::BufWriter<std::fs::File>;

/// Flushes the key log, and says on standard error how many secrets it
/// holds (none: the run had no TLS, which the user should know).
fn finish_keylog(args: &Args, keylog: KeyLogWriter<KeyLogFile>) -> Result<(), String> {
    let path = args.keylog.as_deref().unwrap_or(std::path::Path::new(""));
    let lines = keylog
        .finish()
        .map_err(|e| format!("error: --keylog: cannot write {}: {e}", path.display()))?;
    if lines == 0 {
        errln!(
            "warning: --keylog {}: the run derived no TLS secrets (no application spoke TLS); \
             the file is empty",
            path.display()
        );
    }
    Ok(())
}

/// Standard output that ends its last line: whatever follows (the
/// verdicts, a shell prompt) starts on a line of its own, as the stored path
/// does it.
struct EndsLine<W: Write> {
    inner: W,
    last: Option<u8>,
}

impl<W: Write> EndsLine<W> {
    fn new(inner: W) -> EndsLine<W> {
        EndsLine { inner, last: None }
    }
}

impl<W: Write> Write for EndsLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for EndsLine<W> {
    fn drop(&mut self) {
        if self.last.is_some_and(|b| b != b'\n') {
            let _ = self.inner.write_all(b"\n");
        }
        let _ = self.inner.flush();
    }
}

/// The largest event count whose diagram, as `render` draws it, has at most
/// `limit` characters, and that diagram (binary search: a diagram only grows
/// with the events it shows).
fn longest_fitting_prefix(limit: usize, render: impl Fn(usize) -> Vec<u8>) -> (usize, Vec<u8>) {
    let (mut lo, mut hi) = (1usize, 1usize);
    let mut best = render(1);
    loop {
        let out = render(hi);
        if out.len() > limit {
            break;
        }
        best = out;
        lo = hi;
        hi *= 2;
        if hi > 1 << 24 {
            return (lo, best);
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let out = render(mid);
        if out.len() <= limit {
            best = out;
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, best)
}
