//! `host-gateway`: the GB/T 32960 platform gateway and its command-line tools.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use host_gateway::cli_codec::{self, DecodeOptions};
use host_gateway::cli_security::{
    CipherMode, DataUnitKey, EncodeOptions, PaddingArg, PrivateKey, PublicKey, VerifyOptions,
};

#[derive(Parser)]
#[command(
    name = "host-gateway",
    version,
    about = "GB/T 32960 (2016 and 2025) platform gateway and codec tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: TCP listeners, the embedded store and the admin API.
    Serve(host_gateway::server::ServeArgs),
    /// Run a fleet of simulated T-Boxes against a gateway.
    Sim(host_gateway::sim::SimArgs),
    /// Decode a frame given as hex (`-` reads stdin) or a capture file, printing JSON.
    ///
    /// Signatures of 2025 real-time, reissue and activation frames are checked: `body.signature`
    /// gains `valid` (true, false, "unsupported", "no_key") and `key` ("argument", "frame" or
    /// null). An activation without --public-key is checked with the key it carries.
    Decode {
        /// The frame as hex (spaces allowed), or `-` to read hex from stdin.
        hex: Option<String>,
        /// A binary capture of back-to-back frames: prints one JSON object a line.
        #[arg(long, conflicts_with = "hex")]
        file: Option<PathBuf>,
        /// Pretty-print the JSON (single frames only).
        #[arg(long)]
        pretty: bool,
        /// Verify signatures with this public key: a PEM file (SubjectPublicKeyInfo of SM2,
        /// P-256 or RSA, or PKCS#1 RSA), a DER file, or the key as hex in the activation's wire
        /// form (SM2 X||Y, RSA modulus + 3-byte exponent, P-256 SEC1).
        #[arg(long, value_name = "PEM")]
        public_key: Option<String>,
        /// The 0xFF marker of real-time/reissue reports is signed too (the literal reading of
        /// T7, notes A1); by default it is not (rtm_con, sunsky74, the shared vectors).
        #[arg(long)]
        marker_included: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Encode a frame from its JSON (`-` reads stdin), printing upper-case hex.
    ///
    /// With --private-key, a 2025 real-time, reissue or activation frame is signed (any
    /// signature in the JSON is replaced). With --key, the data unit is then encrypted with the
    /// cipher the JSON's `encryption` names ("sm4" 5 or "aes" 3): sign, then encrypt (A15).
    Encode {
        /// The JSON object, or `-` to read it from stdin.
        json: String,
        /// Sign with this private key: a PEM file (PKCS#8 `PRIVATE KEY` of SM2, P-256 or RSA, as
        /// `openssl genpkey` writes it; also SEC1 `EC PRIVATE KEY` or `SM2 PRIVATE KEY`, and
        /// PKCS#1 `RSA PRIVATE KEY`).
        #[arg(long, value_name = "PEM")]
        private_key: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
}

/// The data-unit key and how to apply it (header encryption byte 0x03 AES, 0x05 SM4).
#[derive(Args)]
struct KeyArgs {
    /// Data-unit key as hex: 16 bytes for SM4, 16, 24 or 32 for AES. The cipher is the
    /// frame's (decode: the header's encryption byte; encode: the JSON's `encryption`).
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// Block-cipher mode (the standard names none).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = CipherMode::Ecb, requires = "key")]
    cipher_mode: CipherMode,
    /// IV for --cipher-mode cbc (required there: the standard defines no IV), as hex, or
    /// `key` to use the key itself; for cbc-iv-prefix, the IV to encrypt with (fresh each time).
    #[arg(long, value_name = "HEX", requires = "key")]
    iv: Option<String>,
    /// Padding of the last block.
    #[arg(long, value_enum, value_name = "PADDING", default_value_t = PaddingArg::Pkcs7, requires = "key")]
    padding: PaddingArg,
}

impl KeyArgs {
    fn load(&self) -> Result<Option<DataUnitKey>> {
        self.key
            .as_deref()
            .map(|k| DataUnitKey::new(k, self.cipher_mode, self.iv.as_deref(), self.padding))
            .transpose()
    }
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
        Command::Serve(args) => host_gateway::server::run(args)?,
        Command::Sim(args) => host_gateway::sim::run(args)?,
        Command::Decode {
            hex,
            file,
            pretty,
            public_key,
            marker_included,
            key,
        } => {
            let opts = DecodeOptions {
                verify: VerifyOptions {
                    public_key: public_key.as_deref().map(PublicKey::load).transpose()?,
                    marker_included,
                },
                key: key.load()?,
            };
            match (hex, file) {
                (_, Some(path)) => {
                    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    let stats = cli_codec::decode_stream_with(&bytes, &opts, &mut out)?;
                    out.flush()?;
                    if stats.frames == 0 {
                        bail!(
                            "no frame found in {} ({} byte(s) discarded)",
                            path.display(),
                            stats.discarded_bytes
                        );
                    }
                    if stats.discarded_bytes > 0 || stats.undecodable > 0 {
                        eprintln!(
                            "decoded {} frame(s); {} byte(s) discarded, {} frame(s) with an undecodable data unit",
                            stats.frames, stats.discarded_bytes, stats.undecodable
                        );
                    }
                }
                (Some(hex), None) => {
                    let bytes = cli_codec::parse_hex(&read_arg(&hex)?)?;
                    let json = cli_codec::decode_frame_with(&bytes, &opts)?;
                    if pretty {
                        serde_json::to_writer_pretty(&mut out, &json)?;
                    } else {
                        serde_json::to_writer(&mut out, &json)?;
                    }
                    writeln!(out)?;
                }
                (None, None) => bail!("give a frame as hex, `-` for stdin, or --file CAPTURE"),
            }
        }
        Command::Encode { json, private_key, key } => {
            let mut opts = EncodeOptions {
                private_key: private_key
                    .as_deref()
                    .map(|p| PrivateKey::load(&p.to_string_lossy()))
                    .transpose()?,
                key: key.load()?,
            };
            let value: serde_json::Value =
                serde_json::from_str(&read_arg(&json)?).context("the input is not valid JSON")?;
            let bytes = cli_codec::encode_frame_with(&value, &mut opts)?;
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
