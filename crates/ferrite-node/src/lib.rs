//! napi-rs wrappers over `ferrite-core`. Nothing here computes: each export converts its
//! arguments, calls the core once and converts the result or error back. The public API is the
//! hand-written TypeScript in `ts/`; this module's generated typings stay internal.

mod allocator;
mod autocast;
mod convert;
mod creation;
mod cuda;
mod data;
mod handle;
mod io;
mod nn;
mod optim;
mod panic_probe;
mod stay_loaded;
mod tensor;
mod trace;
mod vision;

pub use autocast::*;
pub use creation::*;
pub use cuda::*;
pub use handle::*;
pub use tensor::*;
pub use trace::*;
