//! `conv2d`, and the conversion of `[h, w]` arguments that the pooling exports share.

use ferrite_core::nn::conv::Conv2dParams;
use ferrite_core::trace::Op;
use ferrite_core::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::js_error;
use crate::handle::{run_op, TensorHandle};

/// `[h, w]` from a JS array of two non-negative integers.
pub(super) fn pair(
    op: &'static str,
    name: &str,
    values: &[i64],
) -> ferrite_core::Result<[usize; 2]> {
    match *values {
        [h, w] if h >= 0 && w >= 0 => Ok([h as usize, w as usize]),
        _ => Err(Error::invalid(
            op,
            format!("{name} must be two non-negative integers, got {values:?}"),
        )),
    }
}

// One argument per PyTorch parameter, so the TS options object maps onto it directly; js_name
// because napi's camelCase would spell it conv2D.
#[allow(clippy::too_many_arguments)]
#[napi(js_name = "conv2d")]
pub fn conv2d(
    env: Env,
    input: TensorHandle,
    weight: TensorHandle,
    bias: Option<TensorHandle>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
) -> Result<TensorHandle, String> {
    const OP: &str = "conv2d";
    let params = Conv2dParams {
        stride: pair(OP, "stride", &stride).map_err(js_error)?,
        padding: pair(OP, "padding", &padding).map_err(js_error)?,
        dilation: pair(OP, "dilation", &dilation).map_err(js_error)?,
        groups: usize::try_from(groups).map_err(|_| {
            js_error(Error::invalid(
                OP,
                format!("groups must be a positive integer, got {groups}"),
            ))
        })?,
    };
    run_op(
        &env,
        OP,
        Op::Conv2d(params),
        &[Some(input), Some(weight), bias],
    )
}
