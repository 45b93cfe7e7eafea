//! The RVQ-VAE (spec §2): a 1-D conv encoder that turns 4 frames into one latent vector, a
//! residual quantizer with Q codebooks, and the mirror-image conv decoder.
//!
//! Key names follow the reference: `encoder.model.*`, `decoder.model.*`,
//! `quantizer.layers.<q>.codebook`.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig1d;
use burn::nn::conv::Conv1d;
use burn::tensor::activation::{gelu, relu, silu};
use burn::tensor::{Int, Tensor, TensorData};

use super::weights::{LoadError, Loader};
use crate::config::{VqActivation, VqConfig};

/// A PyTorch `nn.Conv1d` with bias: `(c_in, c_out, kernel)` and `(stride, padding, dilation)`.
fn load_conv(
    l: &mut Loader,
    name: &str,
    (c_in, c_out, kernel): (usize, usize, usize),
    (stride, padding, dilation): (usize, usize, usize),
) -> Result<Conv1d, LoadError> {
    Ok(Conv1d {
        weight: Param::from_tensor(l.tensor(&format!("{name}.weight"), [c_out, c_in, kernel])?),
        bias: Some(Param::from_tensor(l.tensor(&format!("{name}.bias"), [c_out])?)),
        stride,
        kernel_size: kernel,
        dilation,
        groups: 1,
        padding: PaddingConfig1d::Explicit(padding, padding),
    })
}

/// Which activation a residual block applies (the reference's `vq_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Silu,
    Gelu,
}

impl Activation {
    fn apply(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Relu => relu(x),
            Self::Silu => silu(x),
            Self::Gelu => gelu(x),
        }
    }
}

impl From<VqActivation> for Activation {
    fn from(a: VqActivation) -> Self {
        match a {
            VqActivation::Relu => Self::Relu,
            VqActivation::Silu => Self::Silu,
            VqActivation::Gelu => Self::Gelu,
        }
    }
}

/// Pre-activation residual block: `x + conv2(act(conv1(act(x))))`, conv1 dilated.
#[derive(Module, Debug)]
pub struct ResConv1DBlock {
    pub conv1: Conv1d,
    pub conv2: Conv1d,
    #[module(skip)]
    pub activation: Activation,
}

impl ResConv1DBlock {
    fn load(
        l: &mut Loader,
        width: usize,
        dilation: usize,
        activation: Activation,
    ) -> Result<Self, LoadError> {
        Ok(Self {
            conv1: load_conv(l, "conv1", (width, width, 3), (1, dilation, dilation))?,
            conv2: load_conv(l, "conv2", (width, width, 1), (1, 0, 1))?,
            activation,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.conv1.forward(self.activation.apply(x.clone()));
        x + self.conv2.forward(self.activation.apply(h))
    }
}

/// `Resnet1D`: `depth` blocks with dilations rate^(depth−1) … 1 (reversed, in both encoder and decoder).
#[derive(Module, Debug)]
pub struct Resnet1D {
    pub blocks: Vec<ResConv1DBlock>,
}

impl Resnet1D {
    fn load(l: &mut Loader, c: &VqConfig) -> Result<Self, LoadError> {
        let blocks = c
            .dilations()
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                ResConv1DBlock::load(&mut l.sub(&format!("model.{i}")), c.width, d, c.vq_act.into())
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { blocks })
    }

    fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }
}

/// Encoder stage: stride-2 conv, then a Resnet1D (no activation in between).
#[derive(Module, Debug)]
pub struct DownStage {
    pub conv: Conv1d,
    pub res: Resnet1D,
}

/// Decoder stage: Resnet1D, nearest ×2 upsampling, then a k=3 conv.
#[derive(Module, Debug)]
pub struct UpStage {
    pub res: Resnet1D,
    pub conv: Conv1d,
}

/// Motion `[B, dim_pose, T]` → latents `[B, code_dim, T/4]`.
#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv1d,
    pub down: Vec<DownStage>,
    pub conv_out: Conv1d,
}

impl Encoder {
    fn load(l: &mut Loader, c: &VqConfig) -> Result<Self, LoadError> {
        let conv_in = load_conv(l, "model.0", (c.dim_pose, c.width, 3), (1, 1, 1))?;
        let mut down = Vec::new();
        for i in 0..c.down_t {
            let conv = load_conv(
                l,
                &format!("model.{}.0", 2 + i),
                (c.width, c.width, 2 * c.stride_t),
                (c.stride_t, c.stride_t / 2, 1),
            )?;
            let res = Resnet1D::load(&mut l.sub(&format!("model.{}.1", 2 + i)), c)?;
            down.push(DownStage { conv, res });
        }
        let conv_out = load_conv(
            l,
            &format!("model.{}", 2 + c.down_t),
            (c.width, c.code_dim, 3),
            (1, 1, 1),
        )?;
        Ok(Self {
            conv_in,
            down,
            conv_out,
        })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut x = relu(self.conv_in.forward(x));
        for stage in &self.down {
            x = stage.res.forward(stage.conv.forward(x));
        }
        self.conv_out.forward(x)
    }
}

/// Latents `[B, code_dim, N]` → normalised motion `[B, dim_pose, 4N]`.
#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv1d,
    pub up: Vec<UpStage>,
    pub conv_mid: Conv1d,
    pub conv_out: Conv1d,
}

impl Decoder {
    fn load(l: &mut Loader, c: &VqConfig) -> Result<Self, LoadError> {
        let conv_in = load_conv(l, "model.0", (c.code_dim, c.width, 3), (1, 1, 1))?;
        let mut up = Vec::new();
        for i in 0..c.down_t {
            let res = Resnet1D::load(&mut l.sub(&format!("model.{}.0", 2 + i)), c)?;
            let conv = load_conv(l, &format!("model.{}.2", 2 + i), (c.width, c.width, 3), (1, 1, 1))?;
            up.push(UpStage { res, conv });
        }
        let conv_mid = load_conv(
            l,
            &format!("model.{}", 2 + c.down_t),
            (c.width, c.width, 3),
            (1, 1, 1),
        )?;
        let conv_out = load_conv(
            l,
            &format!("model.{}", 4 + c.down_t),
            (c.width, c.dim_pose, 3),
            (1, 1, 1),
        )?;
        Ok(Self {
            conv_in,
            up,
            conv_mid,
            conv_out,
        })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut x = relu(self.conv_in.forward(x));
        for stage in &self.up {
            x = stage.conv.forward(upsample_nearest_2x(stage.res.forward(x)));
        }
        let x = relu(self.conv_mid.forward(x));
        self.conv_out.forward(x)
    }
}

/// `out[i] = in[i / 2]` along the last axis.
fn upsample_nearest_2x(x: Tensor<3>) -> Tensor<3> {
    let [b, c, l] = x.dims();
    x.reshape([b, c, l, 1]).repeat_dim(3, 2).reshape([b, c, 2 * l])
}

/// The RVQ-VAE: encoder, Q codebooks, decoder.
#[derive(Module, Debug)]
pub struct RvqVae {
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// All codebooks stacked `[Q·nb_code + 1, code_dim]`; the last row is zero so that id −1
    /// ("no code") gathers a zero vector without a branch.
    pub codebooks: Param<Tensor<2>>,
    pub nb_code: usize,
    pub num_quantizers: usize,
}

impl RvqVae {
    pub fn load(l: &mut Loader, c: &VqConfig) -> Result<Self, LoadError> {
        let encoder = Encoder::load(&mut l.sub("encoder"), c)?;
        let decoder = Decoder::load(&mut l.sub("decoder"), c)?;
        let mut books = Vec::with_capacity((c.num_quantizers * c.nb_code + 1) * c.code_dim);
        for q in 0..c.num_quantizers {
            books.extend(l.values(
                &format!("quantizer.layers.{q}.codebook"),
                &[c.nb_code, c.code_dim],
            )?);
        }
        books.extend(std::iter::repeat_n(0.0, c.code_dim));
        let rows = c.num_quantizers * c.nb_code + 1;
        let codebooks = Tensor::<2>::from_data(TensorData::new(books, [rows, c.code_dim]), l.device());
        Ok(Self {
            encoder,
            decoder,
            codebooks: Param::from_tensor(codebooks),
            nb_code: c.nb_code,
            num_quantizers: c.num_quantizers,
        })
    }

    /// Codebook `q` as `[nb_code, code_dim]`.
    pub fn codebook(&self, q: usize) -> Tensor<2> {
        self.codebooks.val().narrow(0, q * self.nb_code, self.nb_code)
    }

    /// Sum of code vectors `[B, N, code_dim]` for ids `[B, N, q_in]` (q_in ≤ Q; −1 = no code).
    pub fn latents_from_ids(&self, ids: &[i64], b: usize, n: usize, q_in: usize) -> Tensor<3> {
        let zero_row = (self.num_quantizers * self.nb_code) as i64;
        let flat: Vec<i64> = ids
            .chunks(q_in)
            .flat_map(|codes| {
                codes.iter().enumerate().map(move |(q, &id)| {
                    if id < 0 {
                        zero_row
                    } else {
                        (q * self.nb_code) as i64 + id
                    }
                })
            })
            .collect();
        let device = self.codebooks.val().device();
        let code_dim = self.codebooks.val().dims()[1];
        let index = Tensor::<1, Int>::from_data(TensorData::new(flat, [b * n * q_in]), &device);
        let gathered = self
            .codebooks
            .val()
            .select(0, index)
            .reshape([b, n, q_in, code_dim]);
        // Sum layer by layer in order, like the reference's accumulation.
        let mut sum = gathered.clone().narrow(2, 0, 1);
        for q in 1..q_in {
            sum = sum + gathered.clone().narrow(2, q, 1);
        }
        sum.reshape([b, n, code_dim])
    }

    /// `forward_decoder`: ids `[B, N, q_in]` → normalised features `[B, 4N, dim_pose]`.
    pub fn decode_ids(&self, ids: &[i64], b: usize, n: usize, q_in: usize) -> Tensor<3> {
        let latents = self.latents_from_ids(ids, b, n, q_in).swap_dims(1, 2);
        self.decoder.forward(latents).swap_dims(1, 2)
    }

    /// Encoder output `[B, code_dim, N]` for normalised motion `[B, T, dim_pose]`.
    pub fn encode_latents(&self, motion: Tensor<3>) -> Tensor<3> {
        self.encoder.forward(motion.swap_dims(1, 2))
    }

    /// `RVQVAE.encode`: ids `[B, N, Q]` (row-major `Vec`), nearest code per layer on the residual
    /// using `|x|² − 2x·c + |c|²` in f32, as the reference.
    pub async fn encode(&self, motion: Tensor<3>) -> Result<(Vec<i64>, [usize; 3]), crate::Error> {
        let z = self.encode_latents(motion); // [B, C, N]
        let [b, c, n] = z.dims();
        let mut residual = z.swap_dims(1, 2).reshape([b * n, c]);
        let mut per_layer: Vec<Vec<i64>> = Vec::with_capacity(self.num_quantizers);
        for q in 0..self.num_quantizers {
            let book = self.codebook(q);
            let dist = residual.clone().powi_scalar(2).sum_dim(1)
                - residual.clone().matmul(book.clone().transpose()) * 2.0
                + book.clone().powi_scalar(2).sum_dim(1).reshape([1, self.nb_code]);
            let idx = dist.argmin(1).reshape([b * n]);
            let chosen = book.select(0, idx.clone());
            residual = residual - chosen;
            per_layer.push(crate::nn::read_i64(idx).await?);
        }
        let mut ids = vec![0i64; b * n * self.num_quantizers];
        for (q, layer) in per_layer.iter().enumerate() {
            for (i, &id) in layer.iter().enumerate() {
                ids[i * self.num_quantizers + q] = id;
            }
        }
        Ok((ids, [b, n, self.num_quantizers]))
    }
}
