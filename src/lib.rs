//! torrust-bake: environment -> validated config -> rendered deployment ->
//! reproducible, content-addressed release -> boot media -> provider.
//! docs/ARCHITECTURE.md has the picture and the module map.

// First, so that its macros are in scope in every module below.
#[macro_use]
pub mod output;

pub mod backup;
pub mod cli;
pub mod cloudinit;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod diff;
pub mod digest;
pub mod error;
pub mod health;
pub mod http;
pub mod images;
pub mod provider;
pub mod release;
pub mod render;
pub mod seed;
pub mod version;
