//! `host-gateway`: the GB/T 32960 platform gateway and its command-line tools.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use host_gateway::cli_codec;

#[derive(Parser)]
#[command(name = "host-gateway", version, about = "GB/T 32960 (2016 and 2025) platform gateway and codec tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a frame given as hex (`-` reads stdin) or a capture file, printing JSON.
    Decode {
        /// The frame as hex (spaces allowed), or `-` to read hex from stdin.
        hex: Option<String>,
        /// A binary capture of back-to-back frames: prints one JSON object a line.
        #[arg(long, conflicts_with = "hex")]
        file: Option<PathBuf>,
        /// Pretty-print the JSON (single frames only).
        #[arg(long)]
        pretty: bool,
    },
    /// Encode a frame from its JSON (`-` reads stdin), printing upper-case hex.
    Encode {
        /// The JSON object, or `-` to read it from stdin.
        json: String,
    },
}

fn read_arg(arg: &str) -> Result<String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading stdin")?;
        Ok(s)
    } else {
        Ok(arg.to_owned())
    }
}

fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Decode { hex, file: Some(path), .. } => {
            debug_assert!(hex.is_none());
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let stats = cli_codec::decode_stream(&bytes, &mut out)?;
            out.flush()?;
            if stats.frames == 0 {
                bail!("no frame found in {} ({} byte(s) discarded)", path.display(), stats.discarded_bytes);
            }
            if stats.discarded_bytes > 0 || stats.undecodable > 0 {
                eprintln!(
                    "decoded {} frame(s); {} byte(s) discarded, {} frame(s) with an undecodable data unit",
                    stats.frames, stats.discarded_bytes, stats.undecodable
                );
            }
        }
        Command::Decode { hex: Some(hex), pretty, .. } => {
            let bytes = cli_codec::parse_hex(&read_arg(&hex)?)?;
            let json = cli_codec::decode_frame(&bytes)?;
            if pretty {
                serde_json::to_writer_pretty(&mut out, &json)?;
            } else {
                serde_json::to_writer(&mut out, &json)?;
            }
            writeln!(out)?;
        }
        Command::Decode { .. } => bail!("give a frame as hex, `-` for stdin, or --file CAPTURE"),
        Command::Encode { json } => {
            let value: serde_json::Value =
                serde_json::from_str(&read_arg(&json)?).context("the input is not valid JSON")?;
            let bytes = cli_codec::encode_frame(&value)?;
            writeln!(out, "{}", hex::encode_upper(bytes))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
