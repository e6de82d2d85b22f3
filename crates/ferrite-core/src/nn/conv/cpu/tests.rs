//! The route each pass takes for the tutorial's layers and a few others, and every route's kernels
//! against float64 on every shape they support.

use super::*;
use crate::nn::conv::reference::{self, abs, assert_within_scale, params};
use crate::nn::conv::Conv2dParams;
use crate::testing::{assert_close, values};
use BackwardInputRoute::{Col2im, StridedPhases, Transposed};
use Route::{Direct, Im2col, TapClasses, Winograd};

/// 3x3 with padding 1 at `stride`.
fn three(stride: usize) -> Conv2dParams {
    params([stride, stride], [1, 1], [1, 1], 1)
}

/// The routes of the forward, the input gradient and the weight gradient.
type Routes = (Route, BackwardInputRoute, Route);

/// Input [n, c, h, w], weight [o, kh, kw], parameters, then the routes with the direct kernels
/// (AVX-512 or NEON) and without.
type RouteCase = ([usize; 4], [usize; 3], Conv2dParams, Routes, Routes);

/// Whether this CPU runs the direct kernels. Every aarch64 CPU has NEON: there they must run, so
/// that the routes and kernels below are checked on it.
fn direct_kernels() -> bool {
    let direct = Direct.supports(&reference::shape([1, 1, 3, 3], [1, 3, 3], three(1)));
    assert!(
        direct || !cfg!(target_arch = "aarch64"),
        "the direct kernels don't run on this aarch64 CPU"
    );
    direct
}

#[test]
fn the_tutorial_layers_take_these_routes() {
    let cases: [RouteCase; 14] = [
        // MyCNN, ResNet (with its downsampling layers) and VGG11 as trained, batch 100.
        (
            [100, 3, 32, 32],
            [16, 3, 3],
            three(1),
            (Direct, Transposed(Direct), Im2col),
            (Im2col, Col2im, Im2col),
        ),
        (
            [100, 16, 16, 16],
            [32, 3, 3],
            three(1),
            (Direct, Transposed(Direct), Direct),
            (Im2col, Col2im, Im2col),
        ),
        (
            [100, 16, 32, 32],
            [32, 3, 3],
            three(2),
            (Direct, StridedPhases, Direct),
            (Im2col, Col2im, Im2col),
        ),
        (
            [100, 32, 16, 16],
            [64, 3, 3],
            three(2),
            (Direct, StridedPhases, Direct),
            (Im2col, Col2im, Im2col),
        ),
        (
            [100, 64, 8, 8],
            [64, 3, 3],
            three(1),
            (Direct, Transposed(Direct), Direct),
            (Im2col, Transposed(Im2col), Im2col),
        ),
        (
            [100, 128, 8, 8],
            [256, 3, 3],
            three(1),
            (Winograd, Transposed(Winograd), Winograd),
            (Winograd, Transposed(Winograd), Winograd),
        ),
        (
            [100, 256, 8, 8],
            [256, 3, 3],
            three(1),
            (Winograd, Transposed(Winograd), Winograd),
            (Winograd, Transposed(Winograd), Winograd),
        ),
        (
            [100, 512, 4, 4],
            [512, 3, 3],
            three(1),
            (Winograd, Transposed(Winograd), Winograd),
            (Winograd, Transposed(Winograd), Winograd),
        ),
        (
            [100, 512, 2, 2],
            [512, 3, 3],
            three(1),
            (TapClasses, Transposed(TapClasses), TapClasses),
            (TapClasses, Transposed(TapClasses), TapClasses),
        ),
        // Fewer samples than Winograd takes.
        (
            [4, 128, 8, 8],
            [256, 3, 3],
            three(1),
            (Direct, Transposed(Direct), Im2col),
            (Im2col, Col2im, Im2col),
        ),
        // 1x1, at stride 1 and as ResNet's downsampling shortcut.
        (
            [100, 16, 8, 8],
            [32, 1, 1],
            params([1, 1], [0, 0], [1, 1], 1),
            (Im2col, Col2im, Im2col),
            (Im2col, Col2im, Im2col),
        ),
        (
            [100, 16, 32, 32],
            [32, 1, 1],
            params([2, 2], [0, 0], [1, 1], 1),
            (Im2col, StridedPhases, Im2col),
            (Im2col, Col2im, Im2col),
        ),
        // Dilated, and grouped.
        (
            [100, 16, 16, 16],
            [16, 3, 3],
            params([1, 1], [2, 2], [2, 2], 1),
            (Direct, Transposed(Direct), Direct),
            (Im2col, Transposed(Im2col), Im2col),
        ),
        (
            [100, 32, 16, 16],
            [32, 3, 3],
            params([1, 1], [1, 1], [1, 1], 4),
            (Direct, Transposed(Direct), Direct),
            (Im2col, Transposed(Im2col), Im2col),
        ),
    ];
    for (input, weight, p, with_direct, without) in cases {
        let s = reference::shape(input, weight, p);
        let want = if direct_kernels() {
            with_direct
        } else {
            without
        };
        let got = (
            forward_route(&s),
            backward_input_route(&s),
            backward_weight_route(&s),
        );
        assert_eq!(got, want, "{input:?} {weight:?} {p:?}");
    }
}

/// Every route that supports each shape, for each pass, against float64 (see `check_every_route`).
#[test]
fn every_route_matches_float64() {
    let d1 = params([1, 1], [0, 0], [1, 1], 1);
    let cases: [([usize; 4], [usize; 3], Conv2dParams); 22] = [
        // The tutorial's layer kinds, with fewer samples and channels where they only cost time.
        ([2, 3, 32, 32], [16, 3, 3], three(1)),
        ([2, 16, 16, 16], [32, 3, 3], three(1)),
        ([2, 16, 32, 32], [32, 3, 3], three(2)),
        ([2, 64, 8, 8], [64, 3, 3], three(1)),
        ([3, 32, 4, 4], [48, 3, 3], three(1)),
        ([3, 16, 2, 2], [16, 3, 3], three(1)),
        // One sample, which the forward takes by im2col (up to 4 positions, `narrow`'s dot
        // products: here 4 + 1 + 1 + 1 rows by 4 positions, k = 180, or by 1 + 1, k = 84).
        ([1, 32, 4, 4], [48, 3, 3], three(1)),
        ([1, 20, 3, 3], [7, 3, 3], three(2)),
        ([1, 21, 2, 3], [7, 2, 2], d1),
        // Too few output channels for a block per thread: blocks of positions (496 + 496 here).
        ([1, 64, 32, 31], [16, 3, 3], three(1)),
        ([1, 16, 32, 32], [32, 3, 3], three(2)),
        // 1x1 at stride 1 and 2, 5x5, dilation with groups, groups, unequal padding.
        ([2, 6, 5, 7], [10, 1, 1], d1),
        ([2, 6, 9, 9], [4, 1, 1], params([2, 2], [0, 0], [1, 1], 1)),
        ([2, 3, 12, 11], [4, 5, 5], params([1, 1], [2, 1], [1, 1], 1)),
        ([2, 8, 9, 10], [12, 3, 3], params([1, 1], [2, 2], [2, 2], 2)),
        ([3, 8, 8, 8], [8, 3, 3], params([1, 1], [1, 1], [1, 1], 4)),
        ([2, 4, 7, 9], [5, 3, 3], params([1, 1], [1, 0], [1, 1], 1)),
        // Winograd's padding 0 and 2, and its chunks of 16 samples.
        ([17, 4, 6, 6], [5, 3, 3], params([1, 1], [0, 2], [1, 1], 1)),
        // Batches that make several im2col chunks, the last one partial.
        ([37, 8, 9, 8], [8, 3, 3], three(1)),
        ([37, 8, 9, 8], [8, 3, 3], params([2, 1], [1, 2], [1, 1], 1)),
        ([37, 8, 9, 8], [8, 3, 3], params([2, 2], [1, 2], [1, 1], 1)),
        // Padding wider than the kernel's span: no transposed convolution.
        ([2, 2, 3, 3], [3, 1, 2], params([1, 1], [1, 1], [1, 1], 1)),
    ];
    let mut ran = Vec::new();
    for (k, (input, weight, p)) in (0..).zip(cases) {
        ran.extend(check_every_route(
            &reference::shape(input, weight, p),
            4 * k,
        ));
    }
    // Every route ran somewhere (the direct ones where the CPU has them).
    let mut routes = [Winograd, TapClasses, Im2col]
        .map(|r| format!("{r:?}"))
        .to_vec();
    routes.extend(
        [Winograd, TapClasses, Im2col]
            .map(|r| format!("{:?}", Transposed(r)))
            .into_iter()
            .chain([format!("{Col2im:?}")]),
    );
    if direct_kernels() {
        routes.extend([
            format!("{Direct:?}"),
            format!("{:?}", Transposed(Direct)),
            format!("{StridedPhases:?}"),
        ]);
    }
    for route in routes {
        assert!(ran.contains(&route), "{route} never ran");
    }
}

/// Runs every route that supports `s` on values of seeds from `seed` on, for each pass, against
/// float64 (relative to the sum of the absolute products: Winograd's rounding scales with it);
/// the bias gradient too. Returns the routes that ran.
fn check_every_route(s: &ConvShape, seed: u64) -> Vec<String> {
    let x = values(s.n * s.c * s.h * s.w, seed);
    let w = values(s.o * s.cg() * s.taps(), seed + 1);
    let b = values(s.o, seed + 2);
    let dy = values(s.n * s.o * s.ohw(), seed + 3);
    let check = |what: String, got: Vec<f32>, want: Vec<f64>, scale: Vec<f64>| {
        assert_within_scale(&what, &got, &want, &scale, 1e-5);
    };
    let mut ran = Vec::new();
    let routes = [Winograd, Direct, TapClasses, Im2col];
    for route in routes.into_iter().filter(|route| route.supports(s)) {
        check(
            format!("{route:?} forward {s:?}"),
            route.forward(s, &x, &w, Some(&b)),
            reference::forward(s, &x, &w, Some(&b)),
            reference::forward(s, &abs(&x), &abs(&w), Some(&abs(&b))),
        );
        check(
            format!("{route:?} weight gradient {s:?}"),
            route.backward_weight(s, &x, &dy),
            reference::backward_weight(s, &x, &dy),
            reference::backward_weight(s, &abs(&x), &abs(&dy)),
        );
        ran.push(format!("{route:?}"));
    }
    let input_routes = routes
        .map(Transposed)
        .into_iter()
        .chain([StridedPhases, Col2im]);
    for route in input_routes.filter(|route| route.supports(s)) {
        check(
            format!("{route:?} input gradient {s:?}"),
            route.backward_input(s, &dy, &w),
            reference::backward_input(s, &w, &dy),
            reference::backward_input(s, &abs(&w), &abs(&dy)),
        );
        ran.push(format!("{route:?}"));
    }
    assert_close(
        &backward_bias(s, &dy),
        &reference::backward_bias(s, &dy),
        1e-5,
    );
    ran
}

/// The PyTorch fixture of test/conv-shapes.test.ts (test/fixtures/conv_shapes.json) names the
/// route each of its cases takes, with the direct kernels and at up to its batch size in threads
/// (the stride phases take a sample per thread): each must be the route Ferrite chooses. Without
/// the direct kernels, the routes that don't name them: every other choice comes out the same.
#[test]
fn the_pytorch_fixture_shapes_take_their_routes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/fixtures/conv_shapes.json"
    );
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dims = |v: &serde_json::Value| -> Vec<usize> {
        let dims = v.as_array().unwrap().iter();
        dims.map(|d| d.as_u64().unwrap() as usize).collect()
    };
    let direct = direct_kernels();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let (input, weight) = (dims(&case["input"]), dims(&case["weight"]));
        let number = |key: &str| case[key].as_u64().unwrap() as usize;
        let (stride, padding) = (number("stride"), number("padding"));
        let s = reference::shape(
            [input[0], input[1], input[2], input[3]],
            [weight[0], weight[2], weight[3]],
            params([stride; 2], [padding; 2], [1, 1], 1),
        );
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(s.n)
            .build()
            .unwrap();
        let got = threads.install(|| {
            [
                ("forward", format!("{:?}", forward_route(&s))),
                ("input", format!("{:?}", backward_input_route(&s))),
                ("weight", format!("{:?}", backward_weight_route(&s))),
            ]
        });
        for (pass, route) in got {
            let want = case["routes"][pass].as_str().unwrap();
            if direct || !(want.contains("Direct") || want == "StridedPhases") {
                assert_eq!(route, want, "{} {pass}", case["name"]);
            }
        }
    }
}

/// Each route's activated forward, with and without a bias, gives the bits of its forward then
/// the standalone activation op: the sums are the same, and the activation is the same float32
/// function of each (relu keeps NaN). Odd widths, channel counts off the tiles' 8 and 16 and
/// batch 1 cover the tiles' edges; every route runs somewhere.
#[test]
fn every_route_applies_each_activation_as_the_standalone_op() {
    let cases: [([usize; 4], [usize; 3], Conv2dParams); 10] = [
        ([1, 3, 11, 9], [5, 3, 3], three(1)),
        ([3, 3, 13, 12], [17, 3, 3], three(1)),
        ([2, 9, 15, 13], [20, 3, 3], three(2)),
        ([1, 16, 16, 16], [32, 3, 3], three(1)),
        ([2, 70, 8, 8], [12, 3, 3], three(1)),
        ([17, 4, 6, 7], [21, 3, 3], params([1, 1], [0, 2], [1, 1], 1)),
        ([3, 16, 2, 2], [19, 3, 3], three(1)),
        ([37, 8, 9, 7], [8, 3, 3], three(1)),
        ([1, 6, 5, 7], [10, 1, 1], params([1, 1], [0, 0], [1, 1], 1)),
        ([3, 8, 8, 9], [8, 3, 3], params([1, 1], [1, 1], [1, 1], 4)),
    ];
    let activations = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::Silu,
    ];
    let mut ran = Vec::new();
    for (k, (input, weight, p)) in (0..).zip(cases) {
        let s = reference::shape(input, weight, p);
        // Scaled so that relu6 clips above 6 too, with a NaN that relu must keep.
        let mut x: Vec<f32> = values(s.n * s.c * s.h * s.w, 3 * k)
            .iter()
            .map(|v| v * 3.0)
            .collect();
        x[s.w + 1] = f32::NAN;
        let w = values(s.o * s.cg() * s.taps(), 3 * k + 1);
        let b = values(s.o, 3 * k + 2);
        let routes = [Winograd, Direct, TapClasses, Im2col];
        for route in routes.into_iter().filter(|route| route.supports(&s)) {
            for bias in [None, Some(&b[..])] {
                let y =
                    crate::tensor::Tensor::from_f32(route.forward(&s, &x, &w, bias), &[y_len(&s)])
                        .unwrap();
                for activation in activations {
                    let want = activation.compose(y.clone()).unwrap().to_vec_f32().unwrap();
                    let got = route.forward_activated(&s, &x, &w, bias, activation);
                    let what = format!("{route:?} {activation:?} bias {} {s:?}", bias.is_some());
                    assert_eq!(bits(&got), bits(&want), "{what}");
                }
            }
            ran.push(route);
        }
        // The route `forward_activated` picks, as the others.
        let got = forward_activated(&s, &x, &w, Some(&b), Activation::Silu);
        let want = forward_route(&s).forward_activated(&s, &x, &w, Some(&b), Activation::Silu);
        assert_eq!(bits(&got), bits(&want), "{s:?}");
    }
    let mut routes = vec![Winograd, TapClasses, Im2col];
    if direct_kernels() {
        routes.push(Direct);
    }
    for route in routes {
        assert!(ran.contains(&route), "{route:?} never ran");
    }
}

fn y_len(s: &ConvShape) -> usize {
    s.n * s.o * s.ohw()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

#[test]
fn one_sample_forwards_go_by_im2col() {
    // The tutorial's layers at batch 1 (an inference server's usual case): one gemm over the
    // sample's output plane streams the weight once. Grouped layers keep the batched routes.
    for ([c, hw], o, stride) in [
        ([3, 32], 16, 1),
        ([16, 32], 32, 2),
        ([32, 16], 64, 2),
        ([64, 8], 64, 1),
        ([3, 32], 64, 1),
        ([128, 8], 256, 1),
        ([256, 4], 512, 1),
        ([512, 4], 512, 1),
        ([512, 2], 512, 1),
    ] {
        let one = reference::shape([1, c, hw, hw], [o, 3, 3], three(stride));
        assert_eq!(forward_route(&one), Im2col, "{one:?}");
    }
    let grouped = reference::shape(
        [1, 16, 16, 16],
        [16, 3, 3],
        params([1, 1], [1, 1], [1, 1], 4),
    );
    assert_eq!(forward_route(&grouped), batched_route(&grouped));
}
