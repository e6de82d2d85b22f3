use ferrite_core::{DType, Device, Tensor};
use std::time::Instant;
fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let x = Tensor::randn(&[100, 32, 16, 16], Device::Cpu).unwrap();
    x.set_requires_grad(true).unwrap();
    let w = Tensor::ones(&[32], DType::F32, Device::Cpu).unwrap();
    w.set_requires_grad(true).unwrap();
    let b = Tensor::zeros(&[32], DType::F32, Device::Cpu).unwrap();
    b.set_requires_grad(true).unwrap();
    let g = Tensor::randn(&[100, 32, 16, 16], Device::Cpu).unwrap();
    let s = Tensor::randn(&[256, 1000], Device::Cpu).unwrap();
    s.set_requires_grad(true).unwrap();
    let gs = Tensor::randn(&[256, 1000], Device::Cpu).unwrap();
    let xl = Tensor::randn(&[128, 784], Device::Cpu).unwrap();
    let wl = Tensor::randn(&[256, 784], Device::Cpu).unwrap();
    wl.set_requires_grad(true).unwrap();
    let bl = Tensor::randn(&[256], Device::Cpu).unwrap();
    bl.set_requires_grad(true).unwrap();
    let gl = Tensor::randn(&[128, 256], Device::Cpu).unwrap();
    let x1 = Tensor::randn(&[1024, 512], Device::Cpu).unwrap();
    x1.set_requires_grad(true).unwrap();
    let w1 = Tensor::ones(&[512], DType::F32, Device::Cpu).unwrap();
    w1.set_requires_grad(true).unwrap();
    let g1 = Tensor::randn(&[1024, 512], Device::Cpu).unwrap();
    let t = Instant::now();
    for _ in 0..300 {
        match what.as_str() {
            "softmax" => s.softmax(1).unwrap().backward(Some(&gs), false).unwrap(),
            "linear" => xl.linear(&wl, Some(&bl)).unwrap().backward(Some(&gl), false).unwrap(),
            "bn1d" => x1.batch_norm(None, None, Some(&w1), None, true, 0.1, 1e-5).unwrap().backward(Some(&g1), false).unwrap(),
            "relu" => x.relu().unwrap().backward(Some(&g), false).unwrap(),
            _ => x.batch_norm(None, None, Some(&w), Some(&b), true, 0.1, 1e-5).unwrap().backward(Some(&g), false).unwrap(),
        }
        for t in [&x, &w, &b, &s, &wl, &bl, &x1, &w1] { t.set_grad(None).unwrap(); }
    }
    println!("{what}: {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / 300.0);
}
