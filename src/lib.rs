//! torrust-bake: environment -> validated config -> rendered deployment ->
//! reproducible, content-addressed release. See DESIGN.md for the picture.

pub mod bundle;
pub mod cli;
pub mod cloudinit;
pub mod commands;
pub mod config;
pub mod diff;
pub mod health;
pub mod http;
pub mod images;
pub mod render;
pub mod seed;
