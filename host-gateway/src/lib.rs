//! The GB/T 32960 platform gateway: the library behind the `host-gateway` binary.

pub mod cli_codec;
pub mod cli_security;
pub mod json_encode;
pub mod limits;
pub mod server;
pub mod sim;
