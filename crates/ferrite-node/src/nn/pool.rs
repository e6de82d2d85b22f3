//! `maxPool2d`, `avgPool2d` and `adaptiveAvgPool2d` (named explicitly: napi's camelCase would end
//! them in `Pool2D`).

use ferrite_core::trace::Op;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::conv::pair;
use crate::convert::js_error;
use crate::handle::{run_op, TensorHandle};

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
    let op = Op::MaxPool2d {
        kernel: pair(OP, "kernel size", &kernel).map_err(js_error)?,
        stride: pair(OP, "stride", &stride).map_err(js_error)?,
        padding: pair(OP, "padding", &padding).map_err(js_error)?,
        dilation: pair(OP, "dilation", &dilation).map_err(js_error)?,
        ceil_mode,
    };
    run_op(&env, OP, op, &[Some(input)])
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
    let op = Op::AvgPool2d {
        kernel: pair(OP, "kernel size", &kernel).map_err(js_error)?,
        stride: pair(OP, "stride", &stride).map_err(js_error)?,
        padding: pair(OP, "padding", &padding).map_err(js_error)?,
        ceil_mode,
        count_include_pad,
    };
    run_op(&env, OP, op, &[Some(input)])
}

#[napi(js_name = "adaptiveAvgPool2d")]
pub fn adaptive_avg_pool2d(
    env: Env,
    input: TensorHandle,
    output_size: Vec<i64>,
) -> Result<TensorHandle, String> {
    const OP: &str = "adaptive_avg_pool2d";
    let output_size = pair(OP, "output size", &output_size).map_err(js_error)?;
    run_op(
        &env,
        OP,
        Op::AdaptiveAvgPool2d { output_size },
        &[Some(input)],
    )
}
