//! CSV training logs and the terminal progress bar.
//!
//! [`CsvLog`] writes one line per logged step to `<dir>/<name>.csv` (`step` first, then the
//! numeric columns named at creation) and flushes it at once, so a crash loses nothing and the
//! file can be plotted ([`super::plot::plot_csv`]) while training runs. [`CsvLog::resume`] keeps
//! the rows up to the checkpoint's step and appends after them, so a resumed run never logs a
//! step twice. [`read_csv`] reads a log back.
//!
//! [`Progress`] shows step/total, the smoothed loss, it/s and the ETA: as an indicatif bar on a
//! terminal, as a plain line every few seconds otherwise (CI logs, `2> train.log`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thiserror::Error;

/// The first column of every log.
pub const STEP_COLUMN: &str = "step";

/// Errors while writing or reading a CSV log.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("cannot {action} '{path}': {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "invalid column name {0:?}: names must be non-empty, unique, not 'step', and free of commas, quotes and line breaks"
    )]
    InvalidColumn(String),
    #[error("'{path}' has the columns {found:?}, expected {expected:?}")]
    HeaderMismatch {
        path: PathBuf,
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("row for step {step} has {got} values, the log has {expected} columns after 'step'")]
    RowLength { step: u64, expected: usize, got: usize },
    #[error("'{path}' line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// An append-only CSV log of numeric columns keyed by step, flushed after every row.
///
/// The file is `<dir>/<name>.csv`; its header is `step` followed by the column names.
/// Values are written so that they parse back to the same `f64` (NaN as `NaN`, infinities as
/// `inf`/`-inf`).
#[derive(Debug)]
pub struct CsvLog {
    path: PathBuf,
    columns: Vec<String>,
    // Unbuffered on purpose: each row is one `write_all`, so a crash never leaves half a
    // buffer behind and readers see whole rows.
    file: File,
    last_row: Option<(u64, Vec<f64>)>,
}

impl CsvLog {
    /// Starts a fresh log at `<dir>/<name>.csv` (creating `dir`), replacing any previous file.
    pub fn create(dir: impl AsRef<Path>, name: &str, columns: &[&str]) -> Result<Self, LogError> {
        let columns = validate_columns(columns)?;
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
        let path = dir.join(format!("{name}.csv"));
        let mut file = File::create(&path).map_err(io_error("create", &path))?;
        file.write_all(header_line(&columns).as_bytes())
            .map_err(io_error("write", &path))?;
        Ok(Self {
            path,
            columns,
            file,
            last_row: None,
        })
    }

    /// [`CsvLog::create`] for a fresh run (`resume_step` `None`), [`CsvLog::resume`] for a run
    /// resumed after `Some(step)`.
    pub fn open(
        dir: impl AsRef<Path>,
        name: &str,
        columns: &[&str],
        resume_step: Option<u64>,
    ) -> Result<Self, LogError> {
        match resume_step {
            Some(step) => Self::resume(dir, name, columns, step),
            None => Self::create(dir, name, columns),
        }
    }

    /// Continues the log of a run resumed from a checkpoint taken after `resume_step`.
    ///
    /// Rows with a step greater than `resume_step` were logged after that checkpoint and will
    /// be logged again, so they are dropped; the rest is kept and new rows are appended. An
    /// unterminated last line (a write cut short by a crash) is dropped too. A missing file is
    /// created; an existing one must have exactly this header ([`LogError::HeaderMismatch`]),
    /// unless `resume_step` is 0, where a log with other columns is replaced.
    pub fn resume(
        dir: impl AsRef<Path>,
        name: &str,
        columns: &[&str],
        resume_step: u64,
    ) -> Result<Self, LogError> {
        let dir = dir.as_ref();
        let path = dir.join(format!("{name}.csv"));
        if !path.exists() {
            return Self::create(dir, name, columns);
        }
        let validated = validate_columns(columns)?;
        let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
        let mut lines = complete_lines(&text);
        let found = match lines.next() {
            Some((_, header)) => split_header(header),
            None => Vec::new(),
        };
        let expected: Vec<String> = std::iter::once(STEP_COLUMN.to_string())
            .chain(validated.iter().cloned())
            .collect();
        if found != expected && resume_step == 0 {
            // Nothing of the old log would be kept anyway: a run from scratch with new columns.
            return Self::create(dir, name, columns);
        }
        if found != expected {
            return Err(LogError::HeaderMismatch {
                path,
                expected,
                found,
            });
        }

        let mut kept = header_line(&validated);
        let mut last_row = None;
        for (line_no, line) in lines {
            let values = parse_row(line, expected.len(), &path, line_no)?;
            let step = step_of(values[0]).ok_or_else(|| LogError::Parse {
                path: path.clone(),
                line: line_no,
                message: format!("step {} is not a non-negative integer", values[0]),
            })?;
            if step <= resume_step {
                kept.push_str(line);
                kept.push('\n');
                last_row = Some((step, values[1..].to_vec()));
            }
        }

        // Write the kept rows beside the log and rename over it, so that a crash here leaves
        // either the old log or the new one, never a truncated mix.
        let tmp = dir.join(format!("{name}.csv.tmp"));
        fs::write(&tmp, kept.as_bytes()).map_err(io_error("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_error("replace", &path))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error("open for appending", &path))?;
        Ok(Self {
            path,
            columns: validated,
            file,
            last_row,
        })
    }

    /// Appends the row for `step`; `values` are in the order of the columns given at creation.
    pub fn row(&mut self, step: u64, values: &[f64]) -> Result<(), LogError> {
        if values.len() != self.columns.len() {
            return Err(LogError::RowLength {
                step,
                expected: self.columns.len(),
                got: values.len(),
            });
        }
        let mut line = step.to_string();
        for &value in values {
            line.push(',');
            line.push_str(&format_value(value));
        }
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(io_error("write", &self.path))?;
        self.last_row = Some((step, values.to_vec()));
        Ok(())
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The column names after `step`.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The last row in the log (written or kept on resume): its step and values. A resumed
    /// trainer reads e.g. `elapsed_s` from it to continue the clock.
    pub fn last_row(&self) -> Option<(u64, &[f64])> {
        self.last_row
            .as_ref()
            .map(|(step, values)| (*step, values.as_slice()))
    }

    /// The last logged value of `column`, if any row has been logged or kept.
    pub fn last_value(&self, column: &str) -> Option<f64> {
        let index = self.columns.iter().position(|c| c == column)?;
        self.last_row.as_ref().map(|(_, values)| values[index])
    }
}

/// Reads a CSV log: the header (with `step` first) and one row of numbers per line (`step`
/// included, as `f64`). Empty cells read as NaN; an unterminated last line (a row being
/// written, or cut short by a crash) is ignored.
pub fn read_csv(path: impl AsRef<Path>) -> Result<(Vec<String>, Vec<Vec<f64>>), LogError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(io_error("read", path))?;
    let mut lines = complete_lines(&text);
    let Some((_, header)) = lines.next() else {
        return Err(LogError::Parse {
            path: path.to_path_buf(),
            line: 1,
            message: "no header line".into(),
        });
    };
    let header = split_header(header);
    let rows = lines
        .map(|(line_no, line)| parse_row(line, header.len(), path, line_no))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((header, rows))
}

fn validate_columns(columns: &[&str]) -> Result<Vec<String>, LogError> {
    let mut out: Vec<String> = Vec::with_capacity(columns.len());
    for &column in columns {
        let bad_char = column.chars().any(|c| matches!(c, ',' | '"' | '\n' | '\r'));
        if column.trim().is_empty() || bad_char || column == STEP_COLUMN || out.iter().any(|c| c == column) {
            return Err(LogError::InvalidColumn(column.to_string()));
        }
        out.push(column.to_string());
    }
    Ok(out)
}

fn header_line(columns: &[String]) -> String {
    let mut line = STEP_COLUMN.to_string();
    for column in columns {
        line.push(',');
        line.push_str(column);
    }
    line.push('\n');
    line
}

fn split_header(line: &str) -> Vec<String> {
    line.split(',').map(|c| c.trim().to_string()).collect()
}

/// Newline-terminated, non-blank lines with their 1-based line numbers, without `\r\n`.
fn complete_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    // Everything after the last '\n' is an unfinished write.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty())
}

fn parse_row(line: &str, width: usize, path: &Path, line_no: usize) -> Result<Vec<f64>, LogError> {
    let parse_error = |message: String| LogError::Parse {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let values = line
        .split(',')
        .map(|cell| {
            let cell = cell.trim();
            if cell.is_empty() {
                Ok(f64::NAN)
            } else {
                cell.parse::<f64>()
                    .map_err(|_| parse_error(format!("{cell:?} is not a number")))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if values.len() != width {
        return Err(parse_error(format!(
            "{} values, the header has {width} columns",
            values.len()
        )));
    }
    Ok(values)
}

fn step_of(value: f64) -> Option<u64> {
    (value >= 0.0 && value.fract() == 0.0 && value < u64::MAX as f64).then_some(value as u64)
}

/// Shortest text that parses back to `value`: plain decimals for ordinary magnitudes, exponent
/// form for tiny and huge ones (Rust's `Display` never uses an exponent, so `1e-12` would
/// otherwise be written with twelve zeros).
fn format_value(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-4..1e15).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// How [`Progress`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines every [`PLAIN_INTERVAL`] otherwise.
    Auto,
    /// An indicatif bar on stderr.
    Bar,
    /// One plain status line on stderr at the first update, then at most once per `every`.
    Plain { every: Duration },
    /// Nothing is shown; the statistics are still kept.
    Hidden,
}

/// Default interval between plain status lines when stderr is not a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

/// Default EMA weight of the past for the displayed loss.
pub const LOSS_SMOOTHING: f64 = 0.98;

/// The it/s estimate is an exponential average over this time scale, so it follows changes
/// in speed (evaluation pauses, thermal throttling) without jittering step to step.
const RATE_TIME_CONSTANT_S: f64 = 10.0;
/// Minimum time between two rate samples: single steps are too noisy to time.
const RATE_SAMPLE_S: f64 = 1.0;

/// Training progress over a fixed number of steps: step/total, smoothed loss, it/s, ETA and a
/// free message, as a bar on a terminal or periodic plain lines otherwise.
///
/// Steps count completed optimizer steps: a run resumed after step 1200 starts at 1200 and
/// calls [`Progress::update`] with 1201, 1202, … Dropping it finishes it like
/// [`Progress::finish`].
pub struct Progress {
    label: String,
    total: u64,
    start_step: u64,
    step: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    plain_every: Option<Duration>,
    last_plain: Option<Instant>,
    loss_beta: f64,
    loss_ema: f64,
    loss_weight: f64,
    rate: RateMeter,
    message: String,
    finished: bool,
}

impl Progress {
    /// Progress from `start_step` (0, or the resume step) to `total_steps`, shown as a bar if
    /// stderr is a terminal and as plain lines otherwise, each starting with `label` (e.g. the
    /// stage, `vq`; may be empty).
    pub fn new(total_steps: u64, start_step: u64, label: &str) -> Self {
        Self::with_mode(total_steps, start_step, label, ProgressMode::Auto)
    }

    /// Like [`Progress::new`] with an explicit [`ProgressMode`].
    pub fn with_mode(total_steps: u64, start_step: u64, label: &str, mode: ProgressMode) -> Self {
        let start_step = start_step.min(total_steps);
        let mode = match mode {
            ProgressMode::Auto if io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain {
                every: PLAIN_INTERVAL,
            },
            other => other,
        };
        let now = Instant::now();
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr());
            // The template is a compile-time constant; should it ever be rejected, the default
            // style still shows position and length.
            let template = "{prefix} {bar:30.cyan/blue} {pos:>7}/{len:7} {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            bar.set_position(start_step);
            bar
        });
        let plain_every = match mode {
            ProgressMode::Plain { every } => Some(every),
            _ => None,
        };
        Self {
            label: label.to_string(),
            total: total_steps,
            start_step,
            step: start_step,
            started: now,
            bar,
            plain_every,
            last_plain: None,
            loss_beta: LOSS_SMOOTHING,
            loss_ema: 0.0,
            loss_weight: 0.0,
            rate: RateMeter::new(now, start_step),
            message: String::new(),
            finished: false,
        }
    }

    /// Sets the EMA weight of the past for the displayed loss (0 shows the raw loss).
    pub fn with_loss_smoothing(mut self, beta: f64) -> Self {
        self.loss_beta = beta.clamp(0.0, 0.9999);
        self
    }

    /// Records that `step` steps are done and the last one had `loss` (non-finite losses are
    /// not averaged in), then redraws the bar or prints a plain line if one is due.
    pub fn update(&mut self, step: u64, loss: f64) {
        self.update_at(step, loss, Instant::now());
    }

    fn update_at(&mut self, step: u64, loss: f64, now: Instant) {
        self.step = step.min(self.total);
        if loss.is_finite() {
            // Bias-corrected EMA (as in Adam): the first values are not pulled towards 0.
            self.loss_ema = self.loss_beta * self.loss_ema + (1.0 - self.loss_beta) * loss;
            self.loss_weight = self.loss_beta * self.loss_weight + (1.0 - self.loss_beta);
        }
        self.rate.observe(now, self.step);
        self.redraw(now);
    }

    /// Replaces the free message shown after the statistics (e.g. `eval acc 0.41`).
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.message = message.into();
        if let Some(bar) = &self.bar {
            bar.set_message(self.bar_message(Instant::now()));
        }
    }

    /// Prints a line above the bar (or as is in plain mode) without tearing the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.plain_every.is_some() => eprintln!("{}", line.as_ref()),
            None => {}
        }
    }

    /// Leaves the final state on screen (plain mode prints a last status line).
    pub fn finish(mut self) {
        self.finish_in_place();
    }

    fn finish_in_place(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = Instant::now();
        if let Some(bar) = &self.bar {
            bar.set_message(self.bar_message(now));
            bar.finish();
        } else if self.plain_every.is_some() {
            eprintln!("{}", self.status_line_at(now));
        }
    }

    /// Steps done so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The smoothed loss, once a finite loss has been seen.
    pub fn smoothed_loss(&self) -> Option<f64> {
        (self.loss_weight > 0.0).then(|| self.loss_ema / self.loss_weight)
    }

    /// Current speed in steps per second (0 before any step).
    pub fn it_per_s(&self) -> f64 {
        self.rate.rate(Instant::now(), self.step)
    }

    /// Time since this `Progress` was created (not including earlier runs before a resume).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Estimated time to reach the total, once the speed is known.
    pub fn eta(&self) -> Option<Duration> {
        self.eta_at(Instant::now())
    }

    /// The plain status line, e.g.
    /// `vq step 1200/50000 (2.4%) | loss 0.1234 | 12.3 it/s | elapsed 1m40s | ETA 1h06m | msg`.
    pub fn status_line(&self) -> String {
        self.status_line_at(Instant::now())
    }

    fn eta_at(&self, now: Instant) -> Option<Duration> {
        let rate = self.rate.rate(now, self.step);
        (rate > 0.0).then(|| Duration::from_secs_f64((self.total - self.step) as f64 / rate))
    }

    fn redraw(&mut self, now: Instant) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.step);
            bar.set_message(self.bar_message(now));
        } else if let Some(every) = self.plain_every {
            let due = self
                .last_plain
                .is_none_or(|last| now.duration_since(last) >= every);
            if due {
                self.last_plain = Some(now);
                eprintln!("{}", self.status_line_at(now));
            }
        }
    }

    /// The statistics after the bar (the bar itself shows step/total).
    fn bar_message(&self, now: Instant) -> String {
        self.statistics(now, false).join(" | ")
    }

    fn status_line_at(&self, now: Instant) -> String {
        let percent = if self.total == 0 {
            100.0
        } else {
            100.0 * self.step as f64 / self.total as f64
        };
        let mut head = format!("step {}/{} ({percent:.1}%)", self.step, self.total);
        if !self.label.is_empty() {
            head = format!("{} {head}", self.label);
        }
        let mut parts = vec![head];
        parts.extend(self.statistics(now, true));
        parts.join(" | ")
    }

    fn statistics(&self, now: Instant, with_elapsed: bool) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(loss) = self.smoothed_loss() {
            parts.push(format!("loss {}", format_loss(loss)));
        }
        let rate = self.rate.rate(now, self.step);
        if self.step > self.start_step && rate > 0.0 {
            parts.push(format_rate(rate));
        }
        if with_elapsed {
            parts.push(format!(
                "elapsed {}",
                format_duration(now.duration_since(self.started))
            ));
        }
        if self.step < self.total
            && let Some(eta) = self.eta_at(now)
        {
            parts.push(format!("ETA {}", format_duration(eta)));
        }
        if !self.message.is_empty() {
            parts.push(self.message.clone());
        }
        parts
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish_in_place();
    }
}

/// Steps per second as an exponential average of rates measured over ≥ 1 s windows; before
/// the first window closes, the average since the start.
#[derive(Debug, Clone)]
struct RateMeter {
    start_time: Instant,
    start_step: u64,
    sample_time: Instant,
    sample_step: u64,
    rate: Option<f64>,
}

impl RateMeter {
    fn new(now: Instant, step: u64) -> Self {
        Self {
            start_time: now,
            start_step: step,
            sample_time: now,
            sample_step: step,
            rate: None,
        }
    }

    fn observe(&mut self, now: Instant, step: u64) {
        let dt = now.saturating_duration_since(self.sample_time).as_secs_f64();
        if dt < RATE_SAMPLE_S {
            return;
        }
        let sample = step.saturating_sub(self.sample_step) as f64 / dt;
        let alpha = 1.0 - (-dt / RATE_TIME_CONSTANT_S).exp();
        self.rate = Some(match self.rate {
            Some(rate) => rate + alpha * (sample - rate),
            None => sample,
        });
        self.sample_time = now;
        self.sample_step = step;
    }

    fn rate(&self, now: Instant, step: u64) -> f64 {
        if let Some(rate) = self.rate {
            return rate;
        }
        let dt = now.saturating_duration_since(self.start_time).as_secs_f64();
        if dt > 0.0 {
            step.saturating_sub(self.start_step) as f64 / dt
        } else {
            0.0
        }
    }
}

fn format_loss(loss: f64) -> String {
    let magnitude = loss.abs();
    if loss == 0.0 || (1e-3..1e4).contains(&magnitude) {
        format!("{loss:.4}")
    } else {
        format!("{loss:.3e}")
    }
}

/// `12.3 it/s`, or `4.2 s/it` for slow steps, which read better the other way round.
fn format_rate(rate: f64) -> String {
    if rate >= 1.0 {
        format!("{rate:.1} it/s")
    } else {
        format!("{:.1} s/it", 1.0 / rate)
    }
}

/// `42s`, `3m05s`, `1h02m`, `2d03h`.
fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400);
    if days > 0 {
        format!("{days}d{:02}h", hours % 24)
    } else if hours > 0 {
        format!("{hours}h{:02}m", minutes % 60)
    } else if minutes > 0 {
        format!("{minutes}m{:02}s", seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let unique = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir =
                std::env::temp_dir().join(format!("momask-train-log-{tag}-{}-{unique}", std::process::id()));
            fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const COLUMNS: [&str; 3] = ["loss", "lr", "elapsed_s"];

    #[test]
    fn write_then_read_round_trips_every_value() {
        let dir = TempDir::new("roundtrip");
        let mut log = CsvLog::create(&dir.0, "vq", &COLUMNS).unwrap();
        let rows = [
            (1, [0.5, 2e-4, 0.25]),
            (2, [f64::NAN, 1e-12, 1.0 / 3.0]),
            (3, [f64::INFINITY, -3.5e20, 0.0]),
        ];
        for (step, values) in &rows {
            log.row(*step, values).unwrap();
        }
        assert_eq!(log.path(), dir.0.join("vq.csv"));
        assert_eq!(log.last_value("elapsed_s"), Some(0.0));

        let (header, read) = read_csv(log.path()).unwrap();
        assert_eq!(header, ["step", "loss", "lr", "elapsed_s"]);
        assert_eq!(read.len(), rows.len());
        for ((step, values), row) in rows.iter().zip(&read) {
            assert_eq!(row[0], *step as f64);
            for (want, got) in values.iter().zip(&row[1..]) {
                assert!(want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()));
            }
        }
        let text = fs::read_to_string(log.path()).unwrap();
        assert!(
            text.starts_with("step,loss,lr,elapsed_s\n1,0.5,0.0002,0.25\n"),
            "{text}"
        );
        assert!(text.contains("1e-12"), "tiny values use exponent form: {text}");
    }

    #[test]
    fn resume_drops_rows_after_the_checkpoint_and_appends() {
        let dir = TempDir::new("resume");
        let mut log = CsvLog::create(&dir.0, "trans", &COLUMNS).unwrap();
        for step in 1..=10 {
            log.row(step * 100, &[1.0 / step as f64, 1e-3, step as f64])
                .unwrap();
        }
        drop(log);

        // The checkpoint was taken at step 600; steps 700..1000 will be redone.
        let mut log = CsvLog::resume(&dir.0, "trans", &COLUMNS, 600).unwrap();
        assert_eq!(log.last_row().map(|(step, _)| step), Some(600));
        assert_eq!(log.last_value("elapsed_s"), Some(6.0));
        for step in 7..=8 {
            log.row(step * 100, &[0.0, 1e-3, step as f64 + 0.5]).unwrap();
        }
        let (_, rows) = read_csv(log.path()).unwrap();
        let steps: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(steps, [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0]);
        assert_eq!(rows[6][3], 7.5);
        assert!(!dir.0.join("trans.csv.tmp").exists());
    }

    #[test]
    fn resume_drops_a_torn_last_line_and_creates_missing_logs() {
        let dir = TempDir::new("torn");
        let path = dir.0.join("len.csv");
        fs::write(&path, "step,loss\n1,0.5\n2,0.4\n3,0.3").unwrap();
        // read_csv ignores the unfinished row too.
        assert_eq!(read_csv(&path).unwrap().1.len(), 2);
        let mut log = CsvLog::resume(&dir.0, "len", &["loss"], 10).unwrap();
        log.row(3, &[0.25]).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "step,loss\n1,0.5\n2,0.4\n3,0.25\n"
        );

        let fresh = CsvLog::resume(&dir.0, "new", &["loss"], 500).unwrap();
        assert!(fresh.last_row().is_none());
        assert_eq!(fs::read_to_string(fresh.path()).unwrap(), "step,loss\n");
    }

    #[test]
    fn typed_errors() {
        let dir = TempDir::new("errors");
        let mut log = CsvLog::create(&dir.0, "a", &["loss"]).unwrap();
        assert!(matches!(
            log.row(1, &[1.0, 2.0]),
            Err(LogError::RowLength {
                step: 1,
                expected: 1,
                got: 2
            })
        ));
        log.row(1, &[0.5]).unwrap();
        assert!(matches!(
            CsvLog::resume(&dir.0, "a", &["loss", "acc"], 1),
            Err(LogError::HeaderMismatch { .. })
        ));
        // From step 0 nothing would be kept: the log starts over with the new columns.
        let fresh = CsvLog::resume(&dir.0, "a", &["loss", "acc"], 0).unwrap();
        assert_eq!(fs::read_to_string(fresh.path()).unwrap(), "step,loss,acc\n");
        for bad in [&["step"][..], &["a,b"], &[""], &["x", "x"]] {
            assert!(matches!(
                CsvLog::create(&dir.0, "b", bad),
                Err(LogError::InvalidColumn(_))
            ));
        }
        assert!(matches!(
            read_csv(dir.0.join("missing.csv")),
            Err(LogError::Io { .. })
        ));
        fs::write(dir.0.join("bad.csv"), "step,loss\n1,abc\n").unwrap();
        assert!(matches!(
            read_csv(dir.0.join("bad.csv")),
            Err(LogError::Parse { line: 2, .. })
        ));
        fs::write(dir.0.join("short.csv"), "step,loss\n1\n").unwrap();
        assert!(matches!(
            read_csv(dir.0.join("short.csv")),
            Err(LogError::Parse { .. })
        ));
    }

    #[test]
    fn progress_statistics() {
        let mut progress =
            Progress::with_mode(1000, 100, "vq", ProgressMode::Hidden).with_loss_smoothing(0.5);
        assert_eq!(progress.step(), 100);
        assert_eq!(progress.smoothed_loss(), None);
        let t0 = progress.started;
        progress.update_at(101, 4.0, t0 + Duration::from_millis(100));
        // Bias correction: the first loss is shown as is.
        assert_eq!(progress.smoothed_loss(), Some(4.0));
        progress.update_at(102, f64::NAN, t0 + Duration::from_millis(200));
        progress.update_at(103, 2.0, t0 + Duration::from_millis(300));
        assert!((progress.smoothed_loss().unwrap() - (0.25 * 4.0 + 0.5 * 2.0) / 0.75).abs() < 1e-12);
        // 20 steps in the first 2 s (the first window), then 10 it/s: the rate tracks it.
        progress.update_at(120, 1.0, t0 + Duration::from_secs(2));
        assert!((progress.rate.rate(t0, 120) - 10.0).abs() < 1e-9);
        let mut t = t0 + Duration::from_secs(2);
        for step in (130..=600).step_by(10) {
            t += Duration::from_secs(1);
            progress.update_at(step, 1.0, t);
        }
        assert!((progress.rate.rate(t, 600) - 10.0).abs() < 1e-6);
        assert_eq!(progress.eta_at(t).map(|d| d.as_secs()), Some(40));
        progress.set_message("eval acc 0.41");
        let line = progress.status_line_at(t);
        assert!(
            line.starts_with("vq step 600/1000 (60.0%) | loss 1.0000 | 10.0 it/s | elapsed"),
            "{line}"
        );
        assert!(line.ends_with("| ETA 40s | eval acc 0.41"), "{line}");
    }

    #[test]
    fn progress_clamps_and_formats() {
        let progress = Progress::with_mode(10, 50, "", ProgressMode::Hidden);
        assert_eq!(progress.step(), 10);
        assert_eq!(format_duration(Duration::from_secs(42)), "42s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(
            format_duration(Duration::from_secs(2 * 86400 + 3 * 3600)),
            "2d03h"
        );
        assert_eq!(format_rate(0.25), "4.0 s/it");
        assert_eq!(format_loss(1.5e-5), "1.500e-5");
        // Plain mode prints without panicking, bar mode draws to stderr (hidden if not a tty).
        let mut plain = Progress::with_mode(
            3,
            0,
            "plain",
            ProgressMode::Plain {
                every: Duration::ZERO,
            },
        );
        plain.update(1, 0.5);
        plain.println("checkpoint saved");
        plain.finish();
        let mut bar = Progress::with_mode(3, 1, "bar", ProgressMode::Bar);
        bar.update(2, 0.5);
        bar.set_message("x");
    }
}
