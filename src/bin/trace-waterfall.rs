//! `trace-waterfall <spans file> [-o out.html]`: the traces of a spans file
//! (the OTLP file format the spans file and the `console` exporter write) as
//! one self-contained HTML page, a waterfall per trace, to open in any browser
//! (`distributed_tracing::otlp_file::waterfall_html` draws it).
//!
//! ```text
//! cargo install distributed-tracing --bin trace-waterfall
//! trace-waterfall ~/.local/state/distributed-tracing/my-service.spans.jsonl
//! ```
//!
//! The page goes to `-o`, by default beside the input with the extension
//! `.html` (`my-service.spans.html`), private to the user as the spans file
//! is. It prints how many spans and traces it drew, how many it left out (the
//! page's bounds: the most recent 10,000 spans of the file are drawn) and how
//! many lines it skipped, with the reader's messages (the first 20). It reads
//! a file of any size in bounded memory. Exit status: 0 when the page was
//! written, 1 when the input could not be read, held no span or the page could
//! not be written, 2 for a bad command line.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::collections::VecDeque;

use distributed_tracing::otlp_file::{read, Batch, WaterfallOptions};

const USAGE: &str = "usage: trace-waterfall <spans file> [-o out.html]";

/// How many messages of skipped lines are printed (then how many more).
const MAX_MESSAGES: usize = 20;

/// The spans a page draws at most (`WaterfallOptions::render`'s bound): the
/// most recent ones of the file are kept for it.
const PAGE_SPANS: usize = 10_000;

fn main() -> ExitCode {
    let (input, output) = match arguments(std::env::args_os().skip(1)) {
        Ok(Some(paths)) => paths,
        Ok(None) => {
            println!(
                "{USAGE}\nDraws the traces of a spans file (OTLP JSON lines) as one HTML page."
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("trace-waterfall: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let lines = match read(&input) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("trace-waterfall: {}: {e}", input.display());
            return ExitCode::FAILURE;
        }
    };
    // Bounded memory whatever the file's size: the most recent spans the
    // page can draw are kept (older lines are counted, then dropped), and the
    // first messages of skipped lines.
    let mut batches: VecDeque<Batch> = VecDeque::new();
    let (mut kept, mut older, mut read_lines) = (0usize, 0usize, 0usize);
    let (mut skipped, mut messages) = (0usize, Vec::new());
    for line in lines {
        match line {
            Ok(batch) => {
                read_lines += 1;
                kept += batch.spans.len();
                batches.push_back(batch);
                while batches
                    .front()
                    .is_some_and(|b| kept - b.spans.len() >= PAGE_SPANS)
                {
                    let dropped = batches.pop_front().map_or(0, |b| b.spans.len());
                    kept -= dropped;
                    older += dropped;
                }
            }
            Err(e) => {
                skipped += 1;
                if messages.len() < MAX_MESSAGES {
                    messages.push(e.to_string());
                }
            }
        }
    }
    let report_skipped = || {
        if skipped > 0 {
            println!("{} skipped", count(skipped, "line"));
            for message in &messages {
                println!("  {message}");
            }
            if skipped > messages.len() {
                println!("  and {} more", skipped - messages.len());
            }
        }
    };
    if kept == 0 {
        match (read_lines, skipped) {
            (0, 0) => eprintln!(
                "trace-waterfall: {} is empty: no spans to draw (nothing was exported to it yet?)",
                input.display()
            ),
            _ => {
                report_skipped();
                eprintln!("trace-waterfall: {}: no spans to draw", input.display());
            }
        }
        return ExitCode::FAILURE;
    }
    let batches: Vec<Batch> = batches.into();

    let name = input.file_name().unwrap_or(input.as_os_str());
    let page = WaterfallOptions::new()
        .title(format!("Traces of {}", name.to_string_lossy()))
        .render(&batches);
    if let Err(e) = write_page(&output, &page.html) {
        eprintln!("trace-waterfall: {}: {e}", output.display());
        return ExitCode::FAILURE;
    }

    println!(
        "{}: {} of {} drawn",
        output.display(),
        count(page.spans, "span"),
        count(page.traces, "trace")
    );
    if page.spans_left_out > 0 {
        println!(
            "{} left out ({} whole): a page draws at most 10,000 spans, 1,000 a trace",
            count(page.spans_left_out, "span"),
            count(page.traces_left_out, "trace")
        );
    }
    if page.duplicate_spans > 0 {
        println!(
            "{} not drawn twice (the same trace and span id)",
            count(page.duplicate_spans, "span")
        );
    }
    if older > 0 {
        println!(
            "{} of older lines left out: the page draws the most recent spans of the file",
            count(older, "span")
        );
    }
    report_skipped();
    ExitCode::SUCCESS
}

/// What the command line asks: the input and output paths, `None` for
/// `-h`/`--help`, or what is wrong with it.
type Arguments = Result<Option<(PathBuf, PathBuf)>, String>;

/// Reads the command line (without the program's name).
fn arguments(args: impl IntoIterator<Item = OsString>) -> Arguments {
    let (mut input, mut output) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(None),
            Some("-o" | "--output") => {
                let path = args.next().ok_or("-o needs a file")?;
                if output.replace(PathBuf::from(path)).is_some() {
                    return Err("-o given twice".to_owned());
                }
            }
            Some(option) if option.starts_with('-') && option != "-" => {
                return Err(format!("unknown option {option:?}"));
            }
            _ => {
                if input.replace(PathBuf::from(arg)).is_some() {
                    return Err("one spans file at a time".to_owned());
                }
            }
        }
    }
    let input: PathBuf = input.ok_or("which spans file?")?;
    let output = output.unwrap_or_else(|| default_output(&input));
    if output == input {
        return Err(format!(
            "the page would overwrite its input {}: give -o",
            input.display()
        ));
    }
    Ok(Some((input, output)))
}

/// Writes the page, private to the user on Unix (mode 0600) as the spans file
/// it shows is; a page that was there keeps its mode.
fn write_page(path: &Path, html: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(html.as_bytes())
}

/// `1 span`, `2 spans`.
fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// The input with the extension `.html`.
fn default_output(input: &Path) -> PathBuf {
    input.with_extension("html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn command_lines() {
        let ok = |i: &str, o: &str| -> Arguments { Ok(Some((PathBuf::from(i), PathBuf::from(o)))) };
        let cases: [(&[&str], Arguments, &str); 11] = [
            (&["a.spans.jsonl"], ok("a.spans.jsonl", "a.spans.html"), "the output beside the input"),
            (&["dir/spans"], ok("dir/spans", "dir/spans.html"), "an input without extension"),
            (&["a.jsonl", "-o", "b.html"], ok("a.jsonl", "b.html"), "-o after the input"),
            (&["--output", "b.html", "a.jsonl"], ok("a.jsonl", "b.html"), "--output before it"),
            (&["-h"], Ok(None), "help"),
            (&["a.jsonl", "--help"], Ok(None), "help anywhere"),
            (&[], Err("which spans file?".into()), "no input"),
            (&["a", "b"], Err("one spans file at a time".into()), "two inputs"),
            (&["a", "-o"], Err("-o needs a file".into()), "-o without its file"),
            (&["a", "-x"], Err("unknown option \"-x\"".into()), "an unknown option"),
            (&["a.html"], Err("the page would overwrite its input a.html: give -o".into()), "never over the input"),
        ];
        for (args, expected, reason) in cases {
            assert_eq!(arguments(args.iter().map(OsString::from)), expected, "{reason}");
        }
    }
}
