//! Saving and loading named tensors as safetensors files.

use std::collections::HashMap;
use std::path::Path;

use ferrite_core::{io, Error};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{guard, js_error};
use crate::handle::{wrap, TensorHandle};

/// One entry of a loaded file (only ever sent to JS).
#[napi(object, object_from_js = false)]
pub struct NamedTensor {
    pub name: String,
    pub tensor: TensorHandle,
}

/// Writes `tensors` under `names` (same length) to `path`, replacing it whole or not at all.
#[napi]
pub fn save_safetensors(
    names: Vec<String>,
    tensors: Vec<TensorHandle>,
    path: String,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), String> {
    if names.len() != tensors.len() {
        return Err(js_error(Error::Internal {
            op: "save",
            detail: format!("{} names for {} tensors", names.len(), tensors.len()),
        }));
    }
    let named = names
        .into_iter()
        .zip(tensors)
        .map(|(name, t)| Ok((name, t.get("save")?)))
        .collect::<Result<Vec<_>, String>>()?;
    guard("save", || {
        io::save_safetensors(&named, Path::new(&path), metadata)
    })
}

/// Every tensor of the safetensors file at `path`, sorted by name.
#[napi]
pub fn load_safetensors(env: Env, path: String) -> Result<Vec<NamedTensor>, String> {
    let loaded = guard("load", || io::load_safetensors(Path::new(&path)))?;
    Ok(loaded
        .into_iter()
        .map(|(name, t)| NamedTensor {
            name,
            tensor: wrap(&env, t),
        })
        .collect())
}

/// The string metadata stored in the header of the safetensors file at `path`.
#[napi]
pub fn load_safetensors_metadata(path: String) -> Result<HashMap<String, String>, String> {
    guard("load", || io::load_safetensors_metadata(Path::new(&path)))
}
