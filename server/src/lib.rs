//! Reel's server as a library: the binary (`main.rs`) is a thin CLI over
//! these modules, and the integration tests, the fuzz targets and the load
//! benchmark reach the same code the server runs.

pub mod access;
pub mod api;
pub mod archive;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod client;
pub mod config;
pub mod digest;
pub mod filters;
pub mod index;
pub mod insights;
pub mod layout;
pub mod metrics;
pub mod migrate;
pub mod password;
pub mod projects;
pub mod ratelimit;
pub mod repro;
pub mod retention;
pub mod serve;
pub mod signin;
pub mod store;
pub mod support;
pub mod ui;
pub mod validate;
