//! `conv2d`, and the conversion of `[h, w]` arguments that the pooling exports share.

use ferrite_core::nn::conv::Conv2dParams;
use ferrite_core::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::guard;
use crate::handle::{wrap, TensorHandle};

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
    let (input, weight) = (input.get(OP)?, weight.get(OP)?);
    let bias = bias.map(|b| b.get(OP)).transpose()?;
    guard(OP, || {
        let params = Conv2dParams {
            stride: pair(OP, "stride", &stride)?,
            padding: pair(OP, "padding", &padding)?,
            dilation: pair(OP, "dilation", &dilation)?,
            groups: usize::try_from(groups).map_err(|_| {
                Error::invalid(
                    OP,
                    format!("groups must be a positive integer, got {groups}"),
                )
            })?,
        };
        input.conv2d(&weight, bias.as_ref(), params)
    })
    .map(|t| wrap(&env, t))
}
