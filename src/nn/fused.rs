//! A fused forward of MoMask's post-norm encoder stack for the CPU backend.
//!
//! burn-flex runs a layer as ~25 separate ops, each allocating its output; the permutes that
//! split heads copy, and its GELU calls a scalar `erff` per element. At official size (8 layers,
//! width 384, batch 2 × 50 tokens) that overhead is as large as the matrix products. Here one
//! layer is four GEMMs (the `gemm` crate burn-flex itself uses; split across cores natively)
//! with their biases, residuals, GELU and LayerNorms applied in place, and attention done per head
//! on strided views of the packed QKV rows. Same math as [`super::attention`] in f32; only the
//! summation order differs (≤ 1e-6 relative), checked against the burn path in the tests.
//!
//! The weights are copied out of the burn modules once ([`FusedEncoder::from_layers`]); the
//! modules stay, so the burn path remains available (GPU, training).

use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};

use super::attention::TransformerEncoderLayer;

/// One post-norm layer's weights (`x · W` form, `[in, out]`) and vectors.
#[derive(Debug)]
struct FusedLayer {
    w_qkv: Weight,
    b_qkv: Vec<f32>,
    w_out: Weight,
    b_out: Vec<f32>,
    w1: Weight,
    b1: Vec<f32>,
    w2: Weight,
    b2: Vec<f32>,
    norm1: (Vec<f32>, Vec<f32>),
    norm2: (Vec<f32>, Vec<f32>),
}

/// The encoder stack in host memory.
#[derive(Debug)]
pub struct FusedEncoder {
    layers: Vec<FusedLayer>,
    d_model: usize,
    n_heads: usize,
    ff: usize,
    eps: f32,
}

/// Shared handle kept next to the burn modules (cheap to clone with the model).
pub type FusedHandle = Option<Arc<FusedEncoder>>;

fn host(t: Tensor<1>) -> Option<Vec<f32>> {
    t.try_into_data()
        .ok()?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
}

fn host2(t: Tensor<2>) -> Option<Vec<f32>> {
    t.try_into_data()
        .ok()?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
}

impl FusedEncoder {
    /// Copies the weights out of `layers` (CPU device: the reads are synchronous). `None` if a
    /// layer lacks a bias or a LayerNorm shift: the reference layers always have them.
    pub fn from_layers(layers: &[TransformerEncoderLayer], n_heads: usize, eps: f32) -> Option<Self> {
        let first = layers.first()?;
        let [d_model, ff] = first.linear1.weight.val().dims();
        let bias = |l: &burn::nn::Linear| l.bias.as_ref().and_then(|b| host(b.val()));
        let weight = |l: &burn::nn::Linear| {
            let [k, n] = l.weight.val().dims();
            Some(Weight::new(host2(l.weight.val())?, k, n))
        };
        let norm = |n: &burn::nn::LayerNorm| Some((host(n.gamma.val())?, host(n.beta.as_ref()?.val())?));
        let fused = layers
            .iter()
            .map(|l| {
                Some(FusedLayer {
                    w_qkv: weight(&l.self_attn.in_proj)?,
                    b_qkv: bias(&l.self_attn.in_proj)?,
                    w_out: weight(&l.self_attn.out_proj)?,
                    b_out: bias(&l.self_attn.out_proj)?,
                    w1: weight(&l.linear1)?,
                    b1: bias(&l.linear1)?,
                    w2: weight(&l.linear2)?,
                    b2: bias(&l.linear2)?,
                    norm1: norm(&l.norm1)?,
                    norm2: norm(&l.norm2)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            layers: fused,
            d_model,
            n_heads,
            ff,
            eps,
        })
    }

    /// Runs the stack on `h: [B, L, D]` with `key_padded[b·L + j]` true where key j of sample b
    /// is padding (never attended to). Returns `[B, L, D]` on the same device, or `None` when
    /// `h` cannot be read synchronously (not on the CPU backend): the caller then uses burn's ops.
    pub fn forward(&self, h: &Tensor<3>, key_padded: &[bool]) -> Option<Tensor<3>> {
        let [b, l, d] = h.dims();
        if d != self.d_model || key_padded.len() != b * l {
            return None;
        }
        let mut x: Vec<f32> = h
            .clone()
            .try_into_data()
            .ok()?
            .convert::<f32>()
            .try_into_vec::<f32>()
            .ok()?;
        self.forward_host(&mut x, b, l, key_padded);
        Some(Tensor::from_data(TensorData::new(x, [b, l, d]), &h.device()))
    }

    /// The stack on host rows `x: [B·L, D]`, in place.
    pub fn forward_host(&self, x: &mut [f32], b: usize, l: usize, key_padded: &[bool]) {
        let (d, ff) = (self.d_model, self.ff);
        let rows = b * l;
        assert!(
            x.len() == rows * d && key_padded.len() == rows,
            "forward_host: input sizes"
        );
        let mut qkv = vec![0f32; rows * 3 * d];
        let mut attn = vec![0f32; rows * d];
        let mut hidden = vec![0f32; rows * ff];
        // One entry into the thread pool per forward: the ~40 splits inside are then cheap
        // `join`s between its workers instead of a wake-up of the calling thread each.
        in_pool(|| {
            for layer in &self.layers {
                // qkv = x·W_in + b_in
                matmul_acc(
                    &mut qkv,
                    x,
                    &layer.w_qkv,
                    rows,
                    Start::Bias(&layer.b_qkv),
                    End::Keep,
                );
                attention(&qkv, &mut attn, b, l, d, self.n_heads, key_padded);
                // x = norm1(x + attn·W_out + b_out)
                matmul_acc(
                    x,
                    &attn,
                    &layer.w_out,
                    rows,
                    Start::AddBias(&layer.b_out),
                    End::Keep,
                );
                layer_norm_rows(x, &layer.norm1.0, &layer.norm1.1, self.eps);
                // x = norm2(x + gelu(x·W1 + b1)·W2 + b2)
                matmul_acc(&mut hidden, x, &layer.w1, rows, Start::Bias(&layer.b1), End::Gelu);
                matmul_acc(x, &hidden, &layer.w2, rows, Start::AddBias(&layer.b2), End::Keep);
                layer_norm_rows(x, &layer.norm2.0, &layer.norm2.1, self.eps);
            }
        });
    }
}

/// Runs `f` on a worker of rayon's pool (natively), so nested [`parallel`] calls are joins.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(not(target_family = "wasm"))]
    {
        rayon::scope(|_| f())
    }
    #[cfg(target_family = "wasm")]
    {
        f()
    }
}

type Cols = std::ops::Range<usize>;

/// Calls `f` on disjoint ranges covering `0..n`: one per thread natively (binary `join`
/// splits), the whole range in wasm (single-threaded).
fn parallel(n: usize, f: &(impl Fn(Cols) + Sync)) {
    #[cfg(not(target_family = "wasm"))]
    {
        fn split(range: Cols, parts: usize, f: &(impl Fn(Cols) + Sync)) {
            if parts <= 1 || range.len() <= 1 {
                return f(range);
            }
            let left = parts / 2;
            let mid = range.start + range.len() * left / parts;
            rayon::join(
                || split(range.start..mid, left, f),
                || split(mid..range.end, parts - left, f),
            );
        }
        split(0..n, rayon::current_num_threads(), f)
    }
    #[cfg(target_family = "wasm")]
    f(0..n)
}

/// What a GEMM output starts from.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// `dst = bias` (per column), then `+= a·W`.
    Bias(&'a [f32]),
    /// `dst += bias` (a residual already in `dst`), then `+= a·W`.
    AddBias(&'a [f32]),
}

/// What is applied to a GEMM output.
#[derive(Clone, Copy, PartialEq)]
enum End {
    Keep,
    Gelu,
}

/// The `cols` part of each of the `m` rows (width `n`) at `dst`.
///
/// # Safety
/// `dst` holds m × n values and no one else accesses these columns meanwhile.
unsafe fn column_rows<'a>(
    dst: SendPtr,
    m: usize,
    n: usize,
    cols: &Cols,
) -> impl Iterator<Item = &'a mut [f32]> {
    let (c0, width) = (cols.start, cols.len());
    // SAFETY: row r's part [r·n + c0, r·n + c0 + width) lies inside and is disjoint from the
    // other rows' and other threads' parts (the caller's contract).
    (0..m).map(move |r| unsafe { std::slice::from_raw_parts_mut(dst.get().add(r * n + c0), width) })
}

/// Applies `start` to columns `cols` of the m rows at `dst` (row width `n`).
///
/// # Safety
/// As [`column_rows`].
unsafe fn start_columns(dst: SendPtr, m: usize, n: usize, cols: Cols, start: Start) {
    // SAFETY: forwarded contract.
    for row in unsafe { column_rows(dst, m, n, &cols) } {
        match start {
            Start::Bias(bias) => row.copy_from_slice(&bias[cols.clone()]),
            Start::AddBias(bias) => {
                for (o, v) in row.iter_mut().zip(&bias[cols.clone()]) {
                    *o += v;
                }
            }
        }
    }
}

/// Applies `end` to columns `cols` of the m rows at `dst`.
///
/// # Safety
/// As [`column_rows`].
unsafe fn end_columns(dst: SendPtr, m: usize, n: usize, cols: Cols, end: End) {
    if end == End::Gelu {
        // SAFETY: forwarded contract.
        for row in unsafe { column_rows(dst, m, n, &cols) } {
            gelu_in_place(row);
        }
    }
}

/// A weight matrix `[k, n]` in the layout its GEMM reads: 32-column panels for the AVX-512
/// kernel ([`panel::avx512`]) where the CPU has it, 8-column panels for the SIMD128 kernel in wasm
/// ([`panel::simd128`]), else row-major for the `gemm` crate.
#[derive(Debug)]
struct Weight {
    k: usize,
    n: usize,
    data: Vec<f32>,
    /// `data` holds panels: AVX-512 ones on x86-64, SIMD128 ones in wasm.
    #[cfg_attr(
        not(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        )),
        allow(dead_code)
    )]
    panels: bool,
}

impl Weight {
    fn new(rows: Vec<f32>, k: usize, n: usize) -> Self {
        #[cfg(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        ))]
        if panel::runs_here() {
            return Self {
                k,
                n,
                data: panel::pack_panels(&rows, k, n, panel::KERNEL.nr),
                panels: true,
            };
        }
        Self {
            k,
            n,
            data: rows,
            panels: false,
        }
    }
}

/// `dst[m, n] = end(start(dst) + a[m, k] · w[k, n])`, row-major activations; each thread owns
/// a block of output columns and applies `start` and `end` to it.
fn matmul_acc(dst: &mut [f32], a: &[f32], w: &Weight, m: usize, start: Start, end: End) {
    let (k, n) = (w.k, w.n);
    assert!(
        dst.len() == m * n && a.len() == m * k,
        "matmul_acc: operand sizes"
    );
    let dst = SendPtr(dst.as_mut_ptr());
    // Columns `c0..c1` of every row: the start, the product, the end. Blocks of different
    // threads cover disjoint columns (the safety argument of every `unsafe` below).
    let block = |c0: usize, c1: usize| {
        // SAFETY: see above.
        unsafe { start_columns(dst, m, n, c0..c1, start) };
        #[cfg(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        ))]
        if w.panels {
            let nr = panel::KERNEL.nr;
            // SAFETY: sizes checked above; `Weight::new` packed `data` (k × nr a panel) only where
            // `panel::runs_here`; c0 is a panel boundary (blocks are 32-column units, a multiple
            // of nr; wasm runs one block, 0..n).
            unsafe {
                panel::panel_matmul(
                    panel::KERNEL,
                    dst.get(),
                    a.as_ptr(),
                    m,
                    k,
                    n,
                    w.data.as_ptr(),
                    c0 / nr..c1.div_ceil(nr),
                )
            };
            // SAFETY: see above.
            unsafe { end_columns(dst, m, n, c0..c1, end) };
            return;
        }
        // SAFETY: the slices hold m·n, m·k and k·n values, addressed with row strides n, k and
        // n and unit column strides; columns c0..c1 lie inside.
        unsafe {
            gemm::gemm(
                m,
                c1 - c0,
                k,
                dst.get().add(c0),
                1,
                n as isize,
                true,
                a.as_ptr(),
                1,
                k as isize,
                w.data.as_ptr().add(c0),
                1,
                n as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        };
        // SAFETY: see above.
        unsafe { end_columns(dst, m, n, c0..c1, end) };
    };
    if m * n * k < 1 << 20 {
        return block(0, n);
    }
    // Units of 32 columns (one AVX-512 panel), split across threads.
    const UNIT: usize = 32;
    parallel(n.div_ceil(UNIT), &|r: Cols| {
        if !r.is_empty() {
            block(r.start * UNIT, (r.end * UNIT).min(n))
        }
    });
}

/// Register-blocked GEMMs over weights packed once into column panels, where a kernel exists:
/// AVX-512 on x86-64 (detected at run time), SIMD128 in wasm.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod panel {
    use super::Cols;

    /// `[k, n]` row-major → panels `[n / nr][k][nr]`, the last one zero-padded: the layout of the
    /// register-blocked kernels below, which then stream each panel once per row tile.
    pub fn pack_panels(w: &[f32], k: usize, n: usize, nr: usize) -> Vec<f32> {
        let panels = n.div_ceil(nr);
        let mut out = vec![0f32; panels * k * nr];
        for p in 0..panels {
            let cols = (n - p * nr).min(nr);
            for kk in 0..k {
                let src = &w[kk * n + p * nr..][..cols];
                out[(p * k + kk) * nr..][..cols].copy_from_slice(src);
            }
        }
        out
    }

    /// A row tile of a panel kernel: `c[rows, cols] += a[rows, k] · panel` (`lda`/`ldc` row strides).
    pub type PanelTile = unsafe fn(usize, usize, *const f32, usize, *const f32, *mut f32, usize, usize);

    /// A panel kernel: its row tile for 1..=`mr` rows over panels of `nr` columns.
    #[derive(Clone, Copy)]
    pub struct Kernel {
        pub tile: PanelTile,
        pub nr: usize,
        pub mr: usize,
    }

    /// This target's kernel: AVX-512 on x86-64 (where [`runs_here`]), SIMD128 in wasm.
    #[cfg(target_arch = "x86_64")]
    pub const KERNEL: Kernel = Kernel {
        tile: avx512::tile_rows,
        nr: avx512::NR,
        mr: avx512::MR,
    };
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub const KERNEL: Kernel = Kernel {
        tile: simd128::tile_rows,
        nr: simd128::NR,
        mr: simd128::MR,
    };

    /// Whether [`KERNEL`] may run on this CPU: x86-64 detects AVX-512F at run time; a wasm
    /// module built with SIMD128 only instantiates where it is supported.
    pub fn runs_here() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(target_arch = "wasm32")]
        true
    }

    /// `c[m, n] += a[m, k] · W` for the panels `p0..p1` of `W` (`pack_panels` with `nr` columns),
    /// in row tiles of up to `mr` rows.
    ///
    /// # Safety
    /// `kernel` may run on this CPU; `c` holds m × n and `a` m × k row-major values; `w` is
    /// `pack_panels`' output for this k, n and nr; no other thread writes these panels' columns.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn panel_matmul(
        Kernel { tile, nr, mr }: Kernel,
        c: *mut f32,
        a: *const f32,
        m: usize,
        k: usize,
        n: usize,
        w: *const f32,
        panels: Cols,
    ) {
        for p in panels {
            let cols = (n - p * nr).min(nr);
            let mut r = 0;
            while r < m {
                let rows = (m - r).min(mr);
                // SAFETY: offsets stay inside the operands (the function's contract).
                unsafe {
                    tile(
                        rows,
                        k,
                        a.add(r * k),
                        k,
                        w.add(p * k * nr),
                        c.add(r * n + p * nr),
                        n,
                        cols,
                    )
                };
                r += rows;
            }
        }
    }

    /// Defines a kernel module's `tile_rows`: its `tile::<R>` for 1..=MR rows (the literals list
    /// R < MR), as [`panel_matmul`] calls it.
    macro_rules! tile_rows {
        ($(#[$attr:meta])* ; $($rows:literal)*) => {
            /// [`tile`] for 1..=[`MR`] rows.
            ///
            /// # Safety
            /// [`tile`]'s contract for `rows` rows.
            #[allow(clippy::too_many_arguments)]
            $(#[$attr])*
            pub unsafe fn tile_rows(
                rows: usize,
                k: usize,
                a: *const f32,
                lda: usize,
                panel: *const f32,
                c: *mut f32,
                ldc: usize,
                cols: usize,
            ) {
                // SAFETY: forwarded contract.
                unsafe {
                    match rows {
                        $($rows => tile::<$rows>(k, a, lda, panel, c, ldc, cols),)*
                        _ => tile::<MR>(k, a, lda, panel, c, ldc, cols),
                    }
                }
            }
        };
    }
    pub(crate) use tile_rows;

    /// A register-blocked AVX-512 GEMM over weights packed once into 32-column panels. The `gemm`
    /// crate re-packs both operands on every call; with the weights packed at load, the 8-layer
    /// stacks (whose weights do not fit in cache) run ~10–25 % faster natively.
    #[cfg(target_arch = "x86_64")]
    pub mod avx512 {
        use std::arch::x86_64::*;

        /// Columns per panel: two zmm registers.
        pub const NR: usize = 32;
        /// Rows per register tile: 12 × 2 accumulators + 2 weight vectors fit in 32 zmm registers.
        pub const MR: usize = 12;

        /// `c[R, cols] += a[R, k] · panel`, R ≤ MR rows (`lda`/`ldc` row strides).
        #[target_feature(enable = "avx512f")]
        unsafe fn tile<const R: usize>(
            k: usize,
            a: *const f32,
            lda: usize,
            panel: *const f32,
            c: *mut f32,
            ldc: usize,
            cols: usize,
        ) {
            // SAFETY (whole body): the caller guarantees R rows of `a` with k values, `panel` of
            // k × NR values and R rows of `c` with `cols` writable values; masks cover only `cols`.
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); 2]; R];
                for kk in 0..k {
                    let w0 = _mm512_loadu_ps(panel.add(kk * NR));
                    let w1 = _mm512_loadu_ps(panel.add(kk * NR + 16));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let x = _mm512_set1_ps(*a.add(r * lda + kk));
                        acc[0] = _mm512_fmadd_ps(x, w0, acc[0]);
                        acc[1] = _mm512_fmadd_ps(x, w1, acc[1]);
                    }
                }
                let mask = |from: usize| -> __mmask16 {
                    let live = cols.saturating_sub(from).min(16);
                    ((1u32 << live) - 1) as __mmask16
                };
                let (m0, m1) = (mask(0), mask(16));
                for (r, acc) in acc.iter().enumerate() {
                    let row = c.add(r * ldc);
                    let v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), acc[0]);
                    _mm512_mask_storeu_ps(row, m0, v0);
                    let v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row.add(16)), acc[1]);
                    _mm512_mask_storeu_ps(row.add(16), m1, v1);
                }
            }
        }

        // SAFETY (of the generated `tile_rows`): also needs a CPU with AVX-512F.
        super::tile_rows!(; 1 2 3 4 5 6 7 8 9 10 11);
    }

    /// The same register-blocked GEMM over 8-column panels with wasm SIMD128: 4 rows × 2 vectors of
    /// accumulators stay within the 16 xmm registers V8 allocates from. In Chromium it runs the
    /// official-size layers' GEMMs 1.2–1.7× faster than the `gemm` crate, which re-packs both
    /// operands on every call (`momask bench` and the browser bench page show the effect).
    ///
    /// With the crate feature `relaxed-simd` (the package's second module, loaded where the
    /// browser has relaxed SIMD) the multiply-add is one `f32x4.relaxed_madd` (fused where the CPU
    /// has FMA, as the native kernel): 1.10–1.14× on the official-size transformer passes in
    /// Chromium. Only these functions are compiled with the feature: burn's SIMD dependency
    /// (macerator) does not build with it enabled crate-wide.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub mod simd128 {
        use core::arch::wasm32::*;

        /// Columns per panel: two f32x4 vectors.
        pub const NR: usize = 8;
        /// Rows per register tile (also with FMA: 5 or 6 rows ran 1.1–1.3× slower in Chromium,
        /// V8 then spills accumulators).
        pub const MR: usize = 4;

        /// `acc + x · w`.
        #[cfg(not(feature = "relaxed-simd"))]
        #[inline(always)]
        fn madd(x: v128, w: v128, acc: v128) -> v128 {
            f32x4_add(acc, f32x4_mul(x, w))
        }

        /// `acc + x · w`, rounded once where the CPU fuses it.
        #[cfg(feature = "relaxed-simd")]
        #[target_feature(enable = "relaxed-simd")]
        #[inline]
        fn madd(x: v128, w: v128, acc: v128) -> v128 {
            f32x4_relaxed_madd(x, w, acc)
        }

        /// `c[R, cols] += a[R, k] · panel`, R ≤ MR rows (`lda`/`ldc` row strides).
        ///
        /// # Safety
        /// R rows of `a` with k values, `panel` of k × NR values and R rows of `c` with `cols`
        /// writable values.
        #[cfg_attr(not(feature = "relaxed-simd"), inline(always))]
        #[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"), inline)]
        unsafe fn tile<const R: usize>(
            k: usize,
            a: *const f32,
            lda: usize,
            panel: *const f32,
            c: *mut f32,
            ldc: usize,
            cols: usize,
        ) {
            // SAFETY (whole body): the function's contract; only `cols` columns of `c` are touched.
            unsafe {
                let mut acc = [[f32x4_splat(0.0); 2]; R];
                for kk in 0..k {
                    let w0 = v128_load(panel.add(kk * NR) as *const v128);
                    let w1 = v128_load(panel.add(kk * NR + 4) as *const v128);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let x = v128_load32_splat(a.add(r * lda + kk) as *const u32);
                        acc[0] = madd(x, w0, acc[0]);
                        acc[1] = madd(x, w1, acc[1]);
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let row = c.add(r * ldc);
                    if cols == NR {
                        let v0 = f32x4_add(v128_load(row as *const v128), acc[0]);
                        v128_store(row as *mut v128, v0);
                        let v1 = f32x4_add(v128_load(row.add(4) as *const v128), acc[1]);
                        v128_store(row.add(4) as *mut v128, v1);
                    } else {
                        let mut lanes = [0f32; NR];
                        v128_store(lanes.as_mut_ptr() as *mut v128, acc[0]);
                        v128_store(lanes.as_mut_ptr().add(4) as *mut v128, acc[1]);
                        for (j, v) in lanes.iter().enumerate().take(cols) {
                            *row.add(j) += v;
                        }
                    }
                }
            }
        }

        super::tile_rows!(#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))] ; 1 2 3);
    }
}

/// A pointer handed to worker threads that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every user writes a region no other thread touches (column blocks, head columns).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// Through a method, so closures capture the wrapper (Send), not its raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}
/// Multi-head self-attention on packed rows `qkv: [B·L, 3D]` (q | k | v) into `out: [B·L, D]`,
/// one (sample, head) pair per task. Padded keys get weight exactly 0, as the reference's −1e9
/// bias gives after `exp` underflows.
fn attention(qkv: &[f32], out: &mut [f32], b: usize, l: usize, d: usize, heads: usize, key_padded: &[bool]) {
    debug_assert_eq!(qkv.len(), b * l * 3 * d);
    debug_assert_eq!(out.len(), b * l * d);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let one = |task: usize, scores: &mut Vec<f32>| {
        let (s, h) = (task / heads, task % heads);
        let padded = &key_padded[s * l..(s + 1) * l];
        // SAFETY: each (sample, head) task writes only its own rows × head columns of `out`.
        unsafe { attend_head(qkv, out_ptr, s, h, l, d, heads, padded, scores) }
    };
    let tasks = b * heads;
    #[cfg(not(target_family = "wasm"))]
    if rayon::current_num_threads() > 1 && tasks > 1 {
        use rayon::prelude::*;
        (0..tasks)
            .into_par_iter()
            .for_each_init(|| vec![0f32; l * l], |scores, t| one(t, scores));
        return;
    }
    let mut scores = vec![0f32; l * l];
    for t in 0..tasks {
        one(t, &mut scores);
    }
}

/// `softmax(Q Kᵀ / √dh) V` for sample `s`, head `h`, written to `out`'s rows of that sample at
/// the head's columns.
///
/// # Safety
/// `out` must point to `[B·L, D]` floats, and no other thread may write this sample's rows at
/// this head's columns meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn attend_head(
    qkv: &[f32],
    out: SendPtr,
    s: usize,
    h: usize,
    l: usize,
    d: usize,
    heads: usize,
    padded: &[bool],
    scores: &mut Vec<f32>,
) {
    let dh = d / heads;
    let stride = 3 * d as isize;
    let rows = &qkv[s * l * 3 * d..(s + 1) * l * 3 * d];
    let (q, k, v) = (rows.as_ptr(), rows[d..].as_ptr(), rows[2 * d..].as_ptr());
    scores.resize(l * l, 0.0);
    // SAFETY: the q/k/v views stay inside `rows` (l rows of stride 3D, dh columns from the
    // head's offset); `scores` holds l × l.
    unsafe {
        gemm::gemm(
            l,
            l,
            dh,
            scores.as_mut_ptr(),
            1,
            l as isize,
            false,
            q.add(h * dh),
            1,
            stride,
            k.add(h * dh),
            stride,
            1,
            0.0f32,
            1.0f32 / (dh as f32).sqrt(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    for row in scores.chunks_exact_mut(l) {
        let mut max = f32::NEG_INFINITY;
        for (x, &p) in row.iter_mut().zip(padded) {
            if p {
                *x = f32::NEG_INFINITY;
            }
            max = max.max(*x);
        }
        let mut sum = 0f32;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
    // SAFETY: `out` rows s·L.. of width D at this head's dh columns (the caller's contract).
    unsafe {
        gemm::gemm(
            l,
            dh,
            l,
            out.get().add(s * l * d + h * dh),
            1,
            d as isize,
            false,
            scores.as_ptr(),
            1,
            l as isize,
            v.add(h * dh),
            1,
            stride,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// LayerNorm over each row (biased variance, as PyTorch), rows split across threads.
fn layer_norm_rows(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    let rows = x.len() / n;
    let ptr = SendPtr(x.as_mut_ptr());
    parallel(rows, &|r: Cols| {
        // SAFETY: `parallel` hands out disjoint row ranges inside 0..rows.
        let x = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(r.start * n), r.len() * n) };
        for row in x.chunks_exact_mut(n) {
            let mean = row.iter().sum::<f32>() / n as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), bb) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * inv * g + bb;
            }
        }
    });
}

/// erf GELU, `0.5·x·(1 + erf(x/√2))`, with a branch-free erf so the loop vectorises.
pub(crate) fn gelu_in_place(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf(x) = x·P(x²)/Q(x²) on |x| ≤ 3.925 (beyond it erf rounds to ±1 in f32); a rational fit
/// made for this crate (least squares, then checked in f32 arithmetic): max abs error 3.7e-7,
/// against libm's erff (burn-flex's GELU) which is within a few ulps but scalar and branchy.
#[inline(always)]
// P[0] is the fit's value, not 2/√π rounded: the coefficients were fitted together.
#[allow(clippy::approx_constant)]
fn erf(x: f32) -> f32 {
    const P: [f32; 6] = [
        1.128_379_1,
        0.189_417_97,
        0.052_660_942,
        0.003_736_114_8,
        0.000_286_485_74,
        2.086_867_9e-6,
    ];
    const Q: [f32; 6] = [
        1.0,
        0.501_199_54,
        0.113_740_28,
        0.014_906_639,
        0.001_159_699_9,
        3.855_764e-5,
    ];
    let c = x.clamp(-3.925, 3.925);
    let t = c * c;
    let p = ((((P[5] * t + P[4]) * t + P[3]) * t + P[2]) * t + P[1]) * t + P[0];
    let q = ((((Q[5] * t + Q[4]) * t + Q[3]) * t + Q[2]) * t + Q[1]) * t + Q[0];
    (c * p / q).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::model::MoMask;
    use burn::tensor::{Bool, Device, Int};

    /// Mask- and residual-transformer logits through the fused stack vs burn's ops, on a padded
    /// batch (sample 1 shorter), for the fixture's and the demo model's sizes.
    #[test]
    fn fused_encoder_matches_burn_ops() {
        for config in [ModelConfig::fixture_small(), ModelConfig::demo()] {
            let device = Device::flex();
            let mut model = MoMask::random(config, 7, &device).expect("random model");
            let (b, n) = (2usize, 13usize);
            let v = model.config.mask.num_tokens as i64;
            let ids: Vec<i64> = (0..b * n).map(|i| (i as i64 * 37) % (v + 1)).collect();
            let lengths = [n, 9];
            let padded: Vec<bool> = (0..b * n).map(|i| i % n >= lengths[i / n]).collect();
            let cond_dim = model.config.mask.clip_dim;
            let cond_values: Vec<f32> = (0..b * cond_dim)
                .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let run = |model: &MoMask| {
                let ids = Tensor::<1, Int>::from_ints(ids.as_slice(), &device).reshape([b, n]);
                let cond = Tensor::<1>::from_floats(cond_values.as_slice(), &device).reshape([b, cond_dim]);
                let pad = Tensor::<1, Bool>::from_bool(TensorData::new(padded.clone(), [b * n]), &device)
                    .reshape([b, n]);
                let mask = model.mask.forward(ids.clone(), cond.clone(), pad.clone());
                let history = model.res.embed_layer(
                    Tensor::zeros([b, n, model.config.res.code_dim], &device),
                    0,
                    ids.clamp(0, v - 1),
                );
                let res = model.res.forward(history, 1, cond, pad);
                let read = |t: Tensor<3>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
                (read(mask), read(res))
            };
            assert!(model.set_fused_cpu(true));
            let fused = run(&model);
            assert!(!model.set_fused_cpu(false));
            let plain = run(&model);
            for (name, a, r) in [("mask", &fused.0, &plain.0), ("res", &fused.1, &plain.1)] {
                let scale = r.iter().fold(0f32, |m, x| m.max(x.abs()));
                let worst = a.iter().zip(r).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    worst <= 1e-5 * scale.max(1.0),
                    "{name}: max |Δ| {worst:e} (scale {scale})"
                );
            }
        }
    }

    /// Both GEMM layouts (AVX-512 panels where available, row-major `gemm`) against a naive
    /// product, with partial panels, remainder row tiles, the multi-threaded split and both
    /// starts/ends.
    #[test]
    fn matmul_layouts_match_naive() {
        for (m, k, n) in [(13, 37, 70), (100, 384, 1152), (1, 5, 3), (25, 64, 33)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 23) as f32 - 11.0) / 9.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 19) as f32 - 9.0) / 13.0).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 / n as f32 - 0.5).collect();
            let residual: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32 * 0.25).collect();
            for (start, end) in [("bias", End::Gelu), ("add", End::Keep)] {
                let mut want = vec![0f32; m * n];
                for r in 0..m {
                    for c in 0..n {
                        let mut acc = 0f64;
                        for kk in 0..k {
                            acc += a[r * k + kk] as f64 * w[kk * n + c] as f64;
                        }
                        let base = if start == "add" { residual[r * n + c] } else { 0.0 };
                        let v = (acc as f32) + base + bias[c];
                        want[r * n + c] = if end == End::Gelu {
                            let mut g = [v];
                            gelu_in_place(&mut g);
                            g[0]
                        } else {
                            v
                        };
                    }
                }
                let packed = Weight::new(w.clone(), k, n);
                let rows = Weight {
                    k,
                    n,
                    data: w.clone(),
                    panels: false,
                };
                for weight in [&packed, &rows] {
                    let mut got = if start == "add" {
                        residual.clone()
                    } else {
                        vec![0f32; m * n]
                    };
                    let st = if start == "add" {
                        Start::AddBias(&bias)
                    } else {
                        Start::Bias(&bias)
                    };
                    matmul_acc(&mut got, &a, weight, m, st, end);
                    let worst = got.iter().zip(&want).fold(0f32, |x, (g, e)| x.max((g - e).abs()));
                    let tol = 1e-5 * (k as f32).sqrt() * 10.0;
                    assert!(
                        worst <= tol,
                        "{m}x{k}x{n} {start} panels={}: |Δ| {worst:e}",
                        weight.panels
                    );
                }
            }
        }
    }

    #[test]
    fn erf_matches_libm_within_4e7() {
        let mut worst = 0f32;
        let mut x = -6.0f32;
        while x <= 6.0 {
            worst = worst.max((erf(x) - libm_erf(x)).abs());
            x += 1e-4;
        }
        assert!(worst <= 4e-7, "max |erf − libm| = {worst:e}");
    }

    /// f64 reference erf: Taylor series below 3, Laplace's continued fraction for erfc above.
    fn libm_erf(x: f32) -> f32 {
        erf_f64(x as f64) as f32
    }

    fn erf_f64(x: f64) -> f64 {
        // Taylor series for |x| < 3, complementary asymptotic continued fraction beyond.
        let ax = x.abs();
        let r = if ax < 3.0 {
            let mut term = ax;
            let mut sum = ax;
            let x2 = ax * ax;
            for n in 1..200 {
                term *= -x2 / n as f64;
                let add = term / (2 * n + 1) as f64;
                sum += add;
                if add.abs() < 1e-17 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) = exp(−x²)/√π / (x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …))))
            let mut f = ax;
            for n in (1..80).rev() {
                f = ax + (n as f64 / 2.0) / f;
            }
            1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / f
        };
        r.copysign(x)
    }
}
