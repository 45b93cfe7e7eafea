//! PNG contact sheets: a tiny anti-aliased rasterizer drawing stick figures.
//!
//! Each row is one motion: `columns` snapshots evenly spaced in time, seen from a 3/4 front
//! view (camera tracking the pelvis, with a world-fixed floor grid so travel is visible), and a
//! last cell with the top view of the whole clip (pelvis path, heading ticks, foot contacts).
//! Left limbs are blue, right limbs red, the spine dark grey; foot joints in ground contact
//! are drawn green.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::SynthError;
use super::math::{V3, v3};
use super::metrics::contact_threshold;
use crate::motion::joints::JointPositions;
use crate::motion::skeleton::HML_PARENTS;

const CELL_W: usize = 150;
const CELL_H: usize = 200;
/// Pixels per metre in the snapshot cells.
const SCALE: f64 = 84.0;

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![[1.0, 1.0, 1.0]; w * h],
        }
    }

    fn blend(&mut self, x: i64, y: i64, c: [f32; 3], a: f32) {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h || a <= 0.0 {
            return;
        }
        let p = &mut self.px[y as usize * self.w + x as usize];
        for k in 0..3 {
            p[k] = p[k] * (1.0 - a) + c[k] * a;
        }
    }

    fn rect(&mut self, x0: usize, y0: usize, w: usize, h: usize, c: [f32; 3]) {
        for y in y0..(y0 + h).min(self.h) {
            for x in x0..(x0 + w).min(self.w) {
                self.px[y * self.w + x] = c;
            }
        }
    }

    /// Anti-aliased thick segment, clipped to the rectangle `clip`.
    fn line(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        r: f64,
        c: [f32; 3],
        clip: (usize, usize, usize, usize),
    ) {
        let (cx0, cy0, cx1, cy1) = clip;
        let x0 = (a.0.min(b.0) - r - 1.0).floor().max(cx0 as f64) as i64;
        let x1 = (a.0.max(b.0) + r + 1.0).ceil().min(cx1 as f64 - 1.0) as i64;
        let y0 = (a.1.min(b.1) - r - 1.0).floor().max(cy0 as f64) as i64;
        let y1 = (a.1.max(b.1) + r + 1.0).ceil().min(cy1 as f64 - 1.0) as i64;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let l2 = dx * dx + dy * dy;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if l2 < 1e-12 {
                    0.0
                } else {
                    (((px - a.0) * dx + (py - a.1) * dy) / l2).clamp(0.0, 1.0)
                };
                let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py);
                let d = (qx * qx + qy * qy).sqrt();
                let cov = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                self.blend(x, y, c, cov);
            }
        }
    }

    fn dot(&mut self, p: (f64, f64), r: f64, c: [f32; 3], clip: (usize, usize, usize, usize)) {
        self.line(p, p, r, c, clip);
    }

    fn save(&self, path: &Path) -> Result<(), SynthError> {
        let f = File::create(path).map_err(|e| SynthError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut enc = png::Encoder::new(BufWriter::new(f), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| SynthError::Png(e.to_string()))?;
        let data: Vec<u8> = self
            .px
            .iter()
            .flat_map(|p| p.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect();
        wr.write_image_data(&data)
            .map_err(|e| SynthError::Png(e.to_string()))?;
        wr.finish().map_err(|e| SynthError::Png(e.to_string()))?;
        Ok(())
    }
}

const BLUE: [f32; 3] = [0.15, 0.35, 0.85];
const RED: [f32; 3] = [0.85, 0.2, 0.15];
const GREY: [f32; 3] = [0.25, 0.25, 0.28];
const GREEN: [f32; 3] = [0.1, 0.7, 0.2];
const GRID: [f32; 3] = [0.82, 0.84, 0.88];

fn color_of(j: usize) -> [f32; 3] {
    match j {
        1 | 4 | 7 | 10 | 13 | 16 | 18 | 20 => BLUE,
        2 | 5 | 8 | 11 | 14 | 17 | 19 | 21 => RED,
        _ => GREY,
    }
}

/// Orthographic 3/4 camera: azimuth `az` (0 = in front of a body facing +Z), elevation `el`.
struct Camera {
    right: V3,
    up: V3,
}

impl Camera {
    fn new(az: f64, el: f64) -> Self {
        let c = v3(az.sin() * el.cos(), el.sin(), az.cos() * el.cos());
        let f = -c;
        let right = f.cross(V3::UP).norm();
        let up = right.cross(f).norm();
        Self { right, up }
    }
    fn project(&self, p: V3) -> (f64, f64) {
        (p.dot(self.right), p.dot(self.up))
    }
}

fn joint(j: &JointPositions, f: usize, k: usize) -> V3 {
    let p = j.get(f, k);
    v3(p[0] as f64, p[1] as f64, p[2] as f64)
}

fn draw_snapshot(cv: &mut Canvas, j: &JointPositions, f: usize, x0: usize, y0: usize, cam: &Camera) {
    let clip = (x0, y0, x0 + CELL_W, y0 + CELL_H);
    let root = joint(j, f, 0);
    let center = v3(root.x, 0.0, root.z);
    let (cx, cy) = cam.project(center);
    let ox = x0 as f64 + CELL_W as f64 * 0.5;
    let oy = y0 as f64 + CELL_H as f64 - 22.0;
    let to_px = |p: V3| {
        let (u, v) = cam.project(p);
        (ox + (u - cx) * SCALE, oy - (v - cy) * SCALE)
    };
    // World-fixed floor grid (0.5 m) around the pelvis.
    let g0x = (root.x / 0.5).round() * 0.5;
    let g0z = (root.z / 0.5).round() * 0.5;
    for k in -3..=3 {
        let o = k as f64 * 0.5;
        cv.line(
            to_px(v3(g0x + o, 0.0, g0z - 1.5)),
            to_px(v3(g0x + o, 0.0, g0z + 1.5)),
            0.4,
            GRID,
            clip,
        );
        cv.line(
            to_px(v3(g0x - 1.5, 0.0, g0z + o)),
            to_px(v3(g0x + 1.5, 0.0, g0z + o)),
            0.4,
            GRID,
            clip,
        );
    }
    // Shadow of the feet and pelvis.
    for k in [0usize, 7, 8, 10, 11] {
        let p = joint(j, f, k);
        cv.dot(to_px(v3(p.x, 0.0, p.z)), 2.0, [0.7, 0.7, 0.72], clip);
    }
    // Bones, back to front (farther from the camera first).
    let mut order: Vec<usize> = (1..22).collect();
    let depth = |k: usize| {
        let p = joint(j, f, k);
        -(p.dot(cam.right.cross(cam.up)))
    };
    order.sort_by(|a, b| {
        depth(*b)
            .partial_cmp(&depth(*a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for k in order {
        let p = HML_PARENTS[k] as usize;
        cv.line(
            to_px(joint(j, f, p)),
            to_px(joint(j, f, k)),
            2.2,
            color_of(k),
            clip,
        );
    }
    let head = to_px(joint(j, f, 15));
    cv.dot(head, 7.0, GREY, clip);
    cv.dot(head, 5.2, [0.95, 0.93, 0.88], clip);
    for k in [7usize, 8, 10, 11] {
        let p = joint(j, f, k);
        if p.y < contact_threshold(k) {
            cv.dot(to_px(p), 2.6, GREEN, clip);
        }
    }
    // Time bar.
    let frac = if j.frames > 1 {
        f as f64 / (j.frames - 1) as f64
    } else {
        0.0
    };
    cv.rect(x0 + 10, y0 + CELL_H - 8, CELL_W - 20, 3, [0.88, 0.88, 0.88]);
    cv.rect(
        x0 + 10,
        y0 + CELL_H - 8,
        ((CELL_W - 20) as f64 * frac) as usize + 1,
        3,
        [0.4, 0.4, 0.45],
    );
}

fn draw_top(cv: &mut Canvas, j: &JointPositions, x0: usize, y0: usize) {
    let clip = (x0, y0, x0 + CELL_W, y0 + CELL_H);
    let (mut lo, mut hi) = (v3(f64::MAX, 0.0, f64::MAX), v3(f64::MIN, 0.0, f64::MIN));
    for f in 0..j.frames {
        for k in [0usize, 10, 11] {
            let p = joint(j, f, k);
            lo = v3(lo.x.min(p.x), 0.0, lo.z.min(p.z));
            hi = v3(hi.x.max(p.x), 0.0, hi.z.max(p.z));
        }
    }
    let span = (hi.x - lo.x).max(hi.z - lo.z).max(1.0) + 0.4;
    let s = (CELL_W.min(CELL_H) as f64 - 16.0) / span;
    let mid = (lo + hi) * 0.5;
    // Seen from above with +Z up on the image and +X (the body's left at frame 0) to the left.
    let to_px = |p: V3| {
        (
            x0 as f64 + CELL_W as f64 * 0.5 - (p.x - mid.x) * s,
            y0 as f64 + CELL_H as f64 * 0.5 - (p.z - mid.z) * s,
        )
    };
    cv.rect(x0 + 2, y0 + 2, CELL_W - 4, CELL_H - 4, [0.96, 0.97, 0.99]);
    for f in 0..j.frames {
        for k in [7usize, 8, 10, 11] {
            let p = joint(j, f, k);
            if p.y < contact_threshold(k) {
                cv.dot(to_px(p), 1.2, if k == 7 || k == 10 { BLUE } else { RED }, clip);
            }
        }
    }
    for f in 1..j.frames {
        cv.line(to_px(joint(j, f - 1, 0)), to_px(joint(j, f, 0)), 0.8, GREY, clip);
    }
    for f in (0..j.frames).step_by(10) {
        let r = joint(j, f, 0);
        let across = (joint(j, f, 1) - joint(j, f, 2)) + (joint(j, f, 16) - joint(j, f, 17));
        let fwd = V3::UP.cross(across).flat().norm();
        cv.line(to_px(r), to_px(r + fwd * (14.0 / s)), 0.9, GREEN, clip);
    }
    cv.dot(to_px(joint(j, 0, 0)), 2.5, GREEN, clip);
}

/// Writes a contact sheet of `motions` (one row each, `columns` snapshots plus a top view).
pub fn contact_sheet(path: &Path, motions: &[&JointPositions], columns: usize) -> Result<(), SynthError> {
    contact_sheet_view(path, motions, columns, 35.0)
}

/// [`contact_sheet`] with the camera azimuth in degrees (0: in front of a body facing +Z,
/// 90: at its left side).
pub fn contact_sheet_view(
    path: &Path,
    motions: &[&JointPositions],
    columns: usize,
    azimuth_deg: f64,
) -> Result<(), SynthError> {
    let columns = columns.max(1);
    if motions.is_empty() {
        return Err(SynthError::Invalid(
            "contact sheet needs at least one motion".into(),
        ));
    }
    let mut cv = Canvas::new(CELL_W * (columns + 1), CELL_H * motions.len());
    let cam = Camera::new(azimuth_deg.to_radians(), 0.2);
    for (r, m) in motions.iter().enumerate() {
        if m.joints != 22 || m.frames == 0 {
            return Err(SynthError::Invalid("contact sheet needs 22-joint motions".into()));
        }
        let y0 = r * CELL_H;
        for c in 0..columns {
            let f = if columns == 1 {
                0
            } else {
                c * (m.frames - 1) / (columns - 1)
            };
            draw_snapshot(&mut cv, m, f, c * CELL_W, y0, &cam);
        }
        draw_top(&mut cv, m, columns * CELL_W, y0);
        cv.rect(0, y0, cv.w, 1, [0.6, 0.6, 0.6]);
    }
    cv.save(path)
}

/// Writes `<dir>/<family>.png` for every family (and `sequence`), `samples` rows each, from
/// motions drawn with `seed`; `only` restricts to one family. Returns the written paths.
pub fn family_previews(
    dir: &Path,
    seed: u64,
    samples: usize,
    columns: usize,
    only: Option<&str>,
) -> Result<Vec<PathBuf>, SynthError> {
    std::fs::create_dir_all(dir).map_err(|e| SynthError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    let mut out = Vec::new();
    for name in super::family_names() {
        if only.is_some_and(|o| o != *name) {
            continue;
        }
        let allowed = vec![name.to_string()];
        let mut js = Vec::new();
        for i in 0..samples {
            let b = super::corpus::build_motion(seed, i as u64 * 7919 + 1, &allowed, 1.0)?;
            js.push(b.joints);
        }
        let refs: Vec<&JointPositions> = js.iter().collect();
        let p = dir.join(format!("{name}.png"));
        match std::env::var("SYNTH_AZ").ok().and_then(|v| v.parse::<f64>().ok()) {
            Some(az) => contact_sheet_view(&p, &refs, columns, az)?,
            None => contact_sheet(&p, &refs, columns)?,
        }
        out.push(p);
    }
    Ok(out)
}
