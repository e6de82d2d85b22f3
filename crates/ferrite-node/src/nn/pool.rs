//! `maxPool2d`, `avgPool2d` and `adaptiveAvgPool2d` (named explicitly: napi's camelCase would end
//! them in `Pool2D`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::conv::pair;
use crate::handle::{apply, TensorHandle};

#[napi(js_name = "maxPool2d")]
pub fn max_pool2d(
    env: Env,
    input: TensorHandle,
    kernel: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    ceil_mode: bool,
) -> Result<TensorHandle, String> {
    const OP: &str = "max_pool2d";
    apply(&env, input, OP, |x| {
        x.max_pool2d(
            pair(OP, "kernel size", &kernel)?,
            pair(OP, "stride", &stride)?,
            pair(OP, "padding", &padding)?,
            pair(OP, "dilation", &dilation)?,
            ceil_mode,
        )
    })
}

#[napi(js_name = "avgPool2d")]
pub fn avg_pool2d(
    env: Env,
    input: TensorHandle,
    kernel: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
) -> Result<TensorHandle, String> {
    const OP: &str = "avg_pool2d";
    apply(&env, input, OP, |x| {
        x.avg_pool2d(
            pair(OP, "kernel size", &kernel)?,
            pair(OP, "stride", &stride)?,
            pair(OP, "padding", &padding)?,
            ceil_mode,
            count_include_pad,
        )
    })
}

#[napi(js_name = "adaptiveAvgPool2d")]
pub fn adaptive_avg_pool2d(
    env: Env,
    input: TensorHandle,
    output_size: Vec<i64>,
) -> Result<TensorHandle, String> {
    const OP: &str = "adaptive_avg_pool2d";
    apply(&env, input, OP, |x| {
        x.adaptive_avg_pool2d(pair(OP, "output size", &output_size)?)
    })
}
