//! Times the building blocks of one masked-transformer step on the CPU backend
//! (development aid for `momask bench`).
use std::time::Instant;

use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Distribution, Tensor};

fn time<F: FnMut() -> Tensor<3>>(name: &str, reps: usize, mut f: F) {
    let _ = f().into_data();
    let t = Instant::now();
    for _ in 0..reps {
        let _ = f().into_data();
    }
    println!(
        "{name:<28} {:>8.3} ms",
        t.elapsed().as_secs_f64() * 1000.0 / reps as f64
    );
}

fn main() {
    let d = Device::flex();
    let x = Tensor::<3>::random([2, 50, 384], Distribution::Normal(0.0, 1.0), &d);
    let w = Tensor::<2>::random([384, 1152], Distribution::Normal(0.0, 0.05), &d);
    let w1 = Tensor::<2>::random([384, 1024], Distribution::Normal(0.0, 0.05), &d);
    let w2 = Tensor::<2>::random([1024, 384], Distribution::Normal(0.0, 0.05), &d);
    time("qkv linear 100x384x1152", 50, || {
        x.clone().matmul(w.clone().unsqueeze())
    });
    time("qkv 2d 100x384x1152", 50, || {
        x.clone()
            .reshape([100, 384])
            .matmul(w.clone())
            .reshape([2, 50, 1152])
    });
    time("ffn1 100x384x1024", 50, || {
        x.clone()
            .reshape([100, 384])
            .matmul(w1.clone())
            .reshape([2, 50, 1024])
    });
    let h = Tensor::<3>::random([2, 50, 1024], Distribution::Normal(0.0, 1.0), &d);
    time("ffn2 100x1024x384", 50, || {
        h.clone()
            .reshape([100, 1024])
            .matmul(w2.clone())
            .reshape([2, 50, 384])
    });
    time("gelu 100x1024", 50, || gelu(h.clone()));
    let q = Tensor::<4>::random([2, 6, 50, 64], Distribution::Normal(0.0, 1.0), &d);
    time("scores bmm", 50, || {
        q.clone().matmul(q.clone().swap_dims(2, 3)).reshape([12, 50, 50])
    });
    let s = Tensor::<4>::random([2, 6, 50, 50], Distribution::Normal(0.0, 1.0), &d);
    time("softmax", 50, || softmax(s.clone(), 3).reshape([12, 50, 50]));
    let qkv = Tensor::<3>::random([2, 50, 1152], Distribution::Normal(0.0, 1.0), &d);
    time("split heads permute", 50, || {
        qkv.clone()
            .reshape([2, 50, 3, 6, 64])
            .permute([2, 0, 3, 1, 4])
            .narrow(0, 0, 1)
            .reshape([12, 50, 64])
    });
}
