use ferrite_core::nn::loss::Reduction;
use ferrite_core::{Device, Tensor};
use std::time::Instant;

fn time<F: FnMut()>(name: &str, iters: usize, mut f: F) {
    for _ in 0..3 { f(); }
    let t = Instant::now();
    for _ in 0..iters { f(); }
    println!("{name}: {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / iters as f64);
}

fn main() {
    let x = Tensor::randn(&[100, 32, 16, 16], Device::Cpu).unwrap();
    x.set_requires_grad(true).unwrap();
    let w = Tensor::ones(&[32], ferrite_core::DType::F32, Device::Cpu).unwrap();
    w.set_requires_grad(true).unwrap();
    let b = Tensor::zeros(&[32], ferrite_core::DType::F32, Device::Cpu).unwrap();
    b.set_requires_grad(true).unwrap();
    let rm = Tensor::zeros(&[32], ferrite_core::DType::F32, Device::Cpu).unwrap();
    let rv = Tensor::ones(&[32], ferrite_core::DType::F32, Device::Cpu).unwrap();
    let g = Tensor::randn(&[100, 32, 16, 16], Device::Cpu).unwrap();
    time("bn fwd train [100,32,16,16]", 50, || { x.batch_norm(Some(&rm), Some(&rv), Some(&w), Some(&b), true, 0.1, 1e-5).unwrap(); });
    time("bn fwd+bwd train [100,32,16,16]", 50, || {
        let y = x.batch_norm(Some(&rm), Some(&rv), Some(&w), Some(&b), true, 0.1, 1e-5).unwrap();
        y.backward(Some(&g), false).unwrap();
        for t in [&x, &w, &b] { t.set_grad(None).unwrap(); }
    });
    let x1 = Tensor::randn(&[1024, 512], Device::Cpu).unwrap();
    x1.set_requires_grad(true).unwrap();
    let w1 = Tensor::ones(&[512], ferrite_core::DType::F32, Device::Cpu).unwrap();
    w1.set_requires_grad(true).unwrap();
    let g1 = Tensor::randn(&[1024, 512], Device::Cpu).unwrap();
    time("bn1d fwd+bwd train [1024,512]", 50, || {
        x1.batch_norm(None, None, Some(&w1), None, true, 0.1, 1e-5).unwrap().backward(Some(&g1), false).unwrap();
        for t in [&x1, &w1] { t.set_grad(None).unwrap(); }
    });
    let logits = Tensor::randn(&[100, 10], Device::Cpu).unwrap();
    logits.set_requires_grad(true).unwrap();
    let t = Tensor::randint(0, 10, &[100], Device::Cpu).unwrap();
    time("ce fwd [100,10]", 2000, || { logits.cross_entropy(&t, Reduction::Mean, -100, 0.0).unwrap(); });
    time("ce fwd+bwd [100,10]", 2000, || { logits.cross_entropy(&t, Reduction::Mean, -100, 0.0).unwrap().backward(None, false).unwrap(); logits.set_grad(None).unwrap(); });
    let r = Tensor::randn(&[100, 32, 16, 16], Device::Cpu).unwrap();
    r.set_requires_grad(true).unwrap();
    time("relu fwd+bwd [100,32,16,16]", 50, || { r.relu().unwrap().backward(Some(&g), false).unwrap(); r.set_grad(None).unwrap(); });
    let s = Tensor::randn(&[256, 1000], Device::Cpu).unwrap();
    s.set_requires_grad(true).unwrap();
    let gs = Tensor::randn(&[256, 1000], Device::Cpu).unwrap();
    time("softmax fwd+bwd [256,1000]", 50, || { s.softmax(1).unwrap().backward(Some(&gs), false).unwrap(); s.set_grad(None).unwrap(); });
    time("log_softmax fwd+bwd [256,1000]", 50, || { s.log_softmax(1).unwrap().backward(Some(&gs), false).unwrap(); s.set_grad(None).unwrap(); });
    let xl = Tensor::randn(&[128, 784], Device::Cpu).unwrap();
    let wl = Tensor::randn(&[256, 784], Device::Cpu).unwrap(); wl.set_requires_grad(true).unwrap();
    let bl = Tensor::randn(&[256], Device::Cpu).unwrap(); bl.set_requires_grad(true).unwrap();
    let gl = Tensor::randn(&[128, 256], Device::Cpu).unwrap();
    time("linear fwd+bwd [128,784]x[256,784]", 50, || { xl.linear(&wl, Some(&bl)).unwrap().backward(Some(&gl), false).unwrap(); wl.set_grad(None).unwrap(); bl.set_grad(None).unwrap(); });
}
