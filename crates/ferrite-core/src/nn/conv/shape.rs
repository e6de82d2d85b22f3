//! The sizes of a convolution: `Conv2dParams` (what the caller passes besides the operands) and
//! `ConvShape` (everything the kernels need), made by validating the operands.

use super::OP;
use crate::alloc;
use crate::autocast::{self, DeviceType};
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::checked_numel;
use crate::tensor::Tensor;

/// Everything of a convolution but its operands; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// The sizes of one convolution: NCHW input, weight [o, c / groups, kh, kw], output [n, o, oh, ow].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub groups: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

impl ConvShape {
    /// Validates the operands against each other and works out the output size.
    pub(super) fn new(
        input: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<ConvShape> {
        check_operands(input, weight, bias)?;
        let ([n, c, h, w], [o, wc, kh, kw]) = operand_dims(input, weight)?;
        check_params(params)?;
        check_channels(input, weight, bias, params.groups, c, [o, wc])?;
        let Conv2dParams {
            stride,
            padding,
            dilation,
            groups,
        } = params;
        let (span_h, span_w) = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1);
        let (padded_h, padded_w) = (h + 2 * padding[0], w + 2 * padding[1]);
        if padded_h < span_h || padded_w < span_w {
            return Err(Error::shape(
                OP,
                format!(
                    "the padded input is {padded_h} x {padded_w} per channel but the dilated kernel spans \
                     {span_h} x {span_w} ({}); the kernel can't be larger than the input",
                    operands(input, weight)
                ),
            ));
        }
        let (oh, ow) = (
            (padded_h - span_h) / stride[0] + 1,
            (padded_w - span_w) / stride[1] + 1,
        );
        // The kernels size their buffers by the output and the padded input: refuse sizes over the
        // allocation limit before any buffer is made. An empty batch still plans one sample's planes
        // (a plane 2^32 wide took minutes).
        for dims in [[n.max(1), o, oh, ow], [n.max(1), c, padded_h, padded_w]] {
            alloc::ensure_within_limit::<f32>(OP, checked_numel(OP, &dims)?)?;
        }
        Ok(ConvShape {
            n,
            c,
            h,
            w,
            o,
            groups,
            kh,
            kw,
            stride,
            padding,
            dilation,
            oh,
            ow,
        })
    }

    pub(super) fn cg(&self) -> usize {
        self.c / self.groups
    }

    pub(super) fn og(&self) -> usize {
        self.o / self.groups
    }

    pub(super) fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// Rows of one group's im2col matrix: the reduction dim of its gemm.
    pub(super) fn k(&self) -> usize {
        self.cg() * self.taps()
    }

    pub(super) fn hw(&self) -> usize {
        self.h * self.w
    }

    pub(super) fn ohw(&self) -> usize {
        self.oh * self.ow
    }

    /// A 1x1 kernel at stride 1 without padding reads the input planes as they are: no im2col.
    pub(super) fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// The convolution whose forward pass is this one's input gradient, at stride 1: `dx` is `dy`
    /// convolved with the weight flipped in space and with its channel dims swapped, padded by what
    /// this convolution's padding leaves of the kernel's span.
    pub(super) fn transposed(&self) -> Option<ConvShape> {
        let span = [
            self.dilation[0] * (self.kh - 1),
            self.dilation[1] * (self.kw - 1),
        ];
        if self.stride != [1, 1] || self.padding[0] > span[0] || self.padding[1] > span[1] {
            return None;
        }
        Some(ConvShape {
            c: self.o,
            h: self.oh,
            w: self.ow,
            o: self.c,
            padding: [span[0] - self.padding[0], span[1] - self.padding[1]],
            oh: self.h,
            ow: self.w,
            ..*self
        })
    }
}

/// "input [..] and weight [..]", for error messages.
fn operands(input: &Tensor, weight: &Tensor) -> String {
    format!(
        "input {} and weight {}",
        ShapeDisplay(input.shape()),
        ShapeDisplay(weight.shape())
    )
}

/// Every operand on the input's device, and float32 or bfloat16; outside autocast, all of the
/// input's dtype, as PyTorch requires ("Input type and weight type should be the same").
fn check_operands(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    let autocast = autocast::dtype(DeviceType::of(input.device())).is_some();
    let named = [("input", input), ("weight", weight)];
    for (name, t) in named.into_iter().chain(bias.map(|b| ("bias", b))) {
        input.same_device(OP, t)?;
        if !t.dtype().is_float() {
            return Err(Error::dtype(
                OP,
                "float32 or bfloat16 tensors",
                format!("{} ({})", t.dtype(), operands(input, weight)),
            ));
        }
        if !autocast && t.dtype() != input.dtype() {
            return Err(Error::dtype(
                OP,
                format!(
                    "the {name} in the input's dtype {} outside autocast (input type and {name} \
                     type should be the same)",
                    input.dtype()
                ),
                format!("{} ({})", t.dtype(), operands(input, weight)),
            ));
        }
    }
    Ok(())
}

/// The input's [n, c, h, w] (n = 1 unbatched) and the weight's [o, c / groups, kh, kw].
fn operand_dims(input: &Tensor, weight: &Tensor) -> Result<([usize; 4], [usize; 4])> {
    let (n, [c, h, w]) = match *input.shape() {
        [n, c, h, w] => (n, [c, h, w]),
        [c, h, w] => (1, [c, h, w]),
        _ => {
            return Err(Error::shape(
                OP,
                format!(
                    "expected a 3-D (unbatched) or 4-D (batched) input, got input of shape {}",
                    ShapeDisplay(input.shape())
                ),
            ))
        }
    };
    let &[o, wc, kh, kw] = weight.shape() else {
        return Err(Error::shape(
            OP,
            format!(
                "expected a 4-D weight [out_channels, in_channels / groups, kh, kw], got weight of shape {}",
                ShapeDisplay(weight.shape())
            ),
        ));
    };
    Ok(([n, c, h, w], [o, wc, kh, kw]))
}

fn check_params(params: Conv2dParams) -> Result<()> {
    let Conv2dParams {
        stride,
        dilation,
        groups,
        ..
    } = params;
    if stride.contains(&0) {
        return Err(Error::invalid(
            OP,
            format!("stride must be positive, got {stride:?}"),
        ));
    }
    if dilation.contains(&0) {
        return Err(Error::invalid(
            OP,
            format!("dilation must be positive, got {dilation:?}"),
        ));
    }
    if groups == 0 {
        return Err(Error::invalid(OP, "groups must be positive, got 0"));
    }
    Ok(())
}

/// The weight, the input's `c` channels and the bias agree with each other and with `groups`.
fn check_channels(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    groups: usize,
    c: usize,
    [o, wc]: [usize; 2],
) -> Result<()> {
    if weight.shape().contains(&0) {
        return Err(Error::shape(
            OP,
            format!(
                "expected a weight with no zero-size dim, got weight of shape {}",
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if o % groups != 0 {
        return Err(Error::shape(
            OP,
            format!(
                "expected the {o} output channels of weight {} to be divisible by groups {groups}",
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if c != wc * groups {
        return Err(Error::shape(
            OP,
            format!(
                "expected input{} to have {} channels (weight {} with groups {groups}), but got {c} channels",
                ShapeDisplay(input.shape()),
                wc * groups,
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if let Some(b) = bias.filter(|b| b.shape() != [o]) {
        return Err(Error::shape(
            OP,
            format!(
                "expected bias of shape [{o}] (one per output channel of weight {}), got {}",
                ShapeDisplay(weight.shape()),
                ShapeDisplay(b.shape())
            ),
        ));
    }
    Ok(())
}
