//! Captions: a small template grammar with synonyms and parameter wording, plus a word-list
//! part-of-speech tagger producing HumanML3D's `caption#word/POS ...#from#to` lines.
//!
//! Two template sets exist. [`Style::Train`] is used for the train and val splits;
//! [`Style::Test`] uses paraphrase frames, subjects, verbs and number wording that never occur
//! in training, to measure generalisation to unseen wording.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::families::Part;
use super::rng::Rng;

/// Which template set to draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Train,
    Test,
}

/// A verb phrase: base-form verb plus the rest ("walk", "forward slowly").
#[derive(Debug, Clone, PartialEq)]
struct Vp {
    verb: &'static str,
    rest: String,
}

fn vp(verb: &'static str, rest: impl Into<String>) -> Vp {
    Vp {
        verb,
        rest: rest.into(),
    }
}

/// Count wording (training style). Shared with the tests through [`parse_count`].
pub fn count_word(n: i64, style: Style) -> String {
    match style {
        Style::Train => match n {
            1 => "once".into(),
            2 => "twice".into(),
            n => format!("{} times", number_word(n)),
        },
        Style::Test => match n {
            1 => "one time".into(),
            n => format!("{n} times"),
        },
    }
}

/// "one squat", "three squats".
fn count_noun(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("one {noun}")
    } else {
        format!("{} {noun}s", number_word(n))
    }
}

fn number_word(n: i64) -> String {
    match n {
        1 => "one".into(),
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        5 => "five".into(),
        6 => "six".into(),
        7 => "seven".into(),
        8 => "eight".into(),
        9 => "nine".into(),
        10 => "ten".into(),
        n => n.to_string(),
    }
}

/// Repetition count stated in a caption, if any ("once", "twice", "three times", "4 times").
pub fn parse_count(caption: &str) -> Option<i64> {
    let words: Vec<&str> = caption
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        match *w {
            "once" => return Some(1),
            "twice" => return Some(2),
            "times" | "time" if i > 0 => {
                let prev = words[i - 1];
                if let Ok(n) = prev.parse::<i64>() {
                    return Some(n);
                }
                for n in 1..=10 {
                    if number_word(n) == prev {
                        return Some(n);
                    }
                }
            }
            _ => {}
        }
    }
    // "does four jumping jacks", "5 squats".
    for w in &words {
        if let Ok(n) = w.parse::<i64>() {
            return Some(n);
        }
        for n in 1..=10 {
            if number_word(n) == *w {
                return Some(n);
            }
        }
    }
    None
}

fn speed_adv(rng: &mut Rng, speed: &str, style: Style) -> &'static str {
    match (speed, style) {
        ("slow", Style::Train) => rng.pick_str(&["slowly", "slowly", "at a slow pace"]),
        ("fast", Style::Train) => rng.pick_str(&["quickly", "fast", "briskly"]),
        ("slow", Style::Test) => rng.pick_str(&["unhurriedly", "at a leisurely pace"]),
        ("fast", Style::Test) => rng.pick_str(&["rapidly", "hurriedly"]),
        _ => "",
    }
}

fn hand_words(side: &str, rng: &mut Rng, style: Style) -> String {
    match (side, style) {
        ("both", Style::Train) => rng.pick_str(&["both hands", "both arms"]).to_string(),
        ("both", Style::Test) => "each of their hands".into(),
        (s, Style::Train) => format!(
            "{} {}",
            rng.pick_str(&["the", "the", "their", "his"]),
            [s, " ", rng.pick_str(&["hand", "arm"])].concat()
        ),
        (s, Style::Test) => format!("the {s} palm"),
    }
}

fn dir_words(d: &str, style: Style) -> &'static str {
    match (d, style) {
        ("left", Style::Train) => "to the left",
        ("right", Style::Train) => "to the right",
        ("left", Style::Test) => "toward the left side",
        ("right", Style::Test) => "toward the right side",
        _ => "",
    }
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verb phrases for one part (each a complete predicate).
fn phrases(p: &Part, rng: &mut Rng, st: Style) -> Vec<Vp> {
    let train = st == Style::Train;
    let side = p.str("side");
    let dir = p.str("direction");
    let n = p.int("count");
    let cw = count_word(n, st);
    match p.family {
        "walk" => {
            let adv = speed_adv(rng, p.str("speed"), st);
            if train {
                vec![
                    vp("walk", join(&["forward", adv])),
                    vp("walk", join(&[adv, "in a straight line"])),
                    vp(rng.pick_str(&["walk", "step"]), join(&["ahead", adv])),
                ]
            } else {
                vec![
                    vp("stroll", join(&["straight ahead", adv])),
                    vp("proceed", join(&["on foot", adv])),
                ]
            }
        }
        "walk_backward" => {
            let adv = speed_adv(rng, p.str("speed"), st);
            if train {
                vec![
                    vp("walk", join(&["backward", adv])),
                    vp("walk", join(&["backwards", adv])),
                    vp("step", "back a few steps"),
                ]
            } else {
                vec![
                    vp("retreat", join(&["in reverse", adv])),
                    vp("back", "up on foot"),
                ]
            }
        }
        "walk_sideways" => {
            let d = dir_words(dir, st);
            if train {
                vec![
                    vp("walk", join(&["sideways", d])),
                    vp("sidestep", d),
                    vp("shuffle", join(&["sideways", d])),
                ]
            } else {
                vec![
                    vp("slide", join(&["laterally", d])),
                    vp("move", join(&["crabwise", d])),
                ]
            }
        }
        "walk_curve" => {
            let d = dir_words(dir, st);
            if train {
                vec![
                    vp("walk", format!("forward and curves {d}")),
                    vp("walk", format!("in a curve {d}")),
                    vp("walk", format!("along an arc bending {d}")),
                ]
            } else {
                vec![vp("follow", format!("a bending path veering {d}"))]
            }
        }
        "walk_circle" => {
            let d = if train {
                dir.to_string()
            } else if dir == "counterclockwise" {
                "anticlockwise".to_string()
            } else {
                "in the direction of a clock's hands".to_string()
            };
            if train {
                vec![
                    vp("walk", format!("in a circle {d}")),
                    vp("walk", format!("around in a full circle {d}")),
                    vp("circle", format!("around {d}")),
                ]
            } else {
                vec![vp("loop", format!("around a round path {d}"))]
            }
        }
        "walk_turn" => {
            let a = p.int("angle");
            let turn = if a >= 180 {
                if train {
                    "turns around".to_string()
                } else {
                    "does an about-face".to_string()
                }
            } else if train {
                format!(
                    "turns {}",
                    if a <= 60 {
                        format!("slightly {}", dir_words(dir, st))
                    } else {
                        format!("{} {}", dir_words(dir, st), if a > 100 { "sharply" } else { "" })
                            .trim()
                            .to_string()
                    }
                )
            } else {
                format!("changes direction {}", dir_words(dir, st))
            };
            if train {
                vec![
                    vp("walk", format!("forward and {turn}")),
                    vp("walk", format!("ahead, {turn} and keeps walking")),
                ]
            } else {
                vec![vp("stroll", format!("ahead then {turn}"))]
            }
        }
        "jog" | "run" | "sprint" => {
            let (verbs, advs): (&[&'static str], &[&str]) = match (p.family, st) {
                ("jog", Style::Train) => (&["jog"], &["forward", "in place ahead", "at an easy pace"]),
                ("run", Style::Train) => (&["run"], &["forward", "ahead", "quickly forward"]),
                ("sprint", Style::Train) => (
                    &["sprint", "run"],
                    &[
                        "forward as fast as possible",
                        "forward at full speed",
                        "ahead very fast",
                    ],
                ),
                ("jog", Style::Test) => (&["trot"], &["along lightly"]),
                ("run", Style::Test) => (&["race", "dash"], &["onward"]),
                _ => (&["bolt", "dash"], &["forward at top speed"]),
            };
            let mut v: Vec<Vp> = advs
                .iter()
                .map(|a| vp(rng.pick_str(verbs), a.to_string()))
                .collect();
            if p.str("path") == "curve" {
                for x in v.iter_mut() {
                    x.rest = format!("{} and curves {}", x.rest, dir_words(p.str("direction"), st));
                }
            }
            v.retain(|x| !x.rest.contains("in place ahead"));
            v
        }
        "march" => {
            let place = p.int("in_place") == 1;
            let wh = if place { "in place" } else { "forward" };
            if train {
                vec![
                    vp("march", format!("{wh} lifting the knees high")),
                    vp("march", format!("{wh} with high knees")),
                    vp("walk", format!("{wh} raising the knees high")),
                ]
            } else {
                vec![vp(
                    "parade",
                    format!("{wh} pulling each knee up toward the chest"),
                )]
            }
        }
        "tiptoe" => {
            if train {
                vec![
                    vp("walk", "forward on tiptoes"),
                    vp("tiptoe", "forward"),
                    vp("walk", "on the toes"),
                ]
            } else {
                vec![vp("creep", "along on the balls of the feet")]
            }
        }
        "sneak" => {
            if train {
                vec![
                    vp("sneak", "forward crouched"),
                    vp("walk", "forward crouching low"),
                    vp("sneak", "forward carefully"),
                ]
            } else {
                vec![
                    vp("prowl", "ahead hunched over"),
                    vp("stalk", "forward stealthily"),
                ]
            }
        }
        "jump" => {
            if train {
                vec![
                    vp("jump", format!("up {cw}")),
                    vp("jump", format!("in place {cw}")),
                    vp("hop", format!("up and down {cw} with both feet")),
                ]
            } else {
                vec![
                    vp("leap", format!("vertically {cw}")),
                    vp("bounce", format!("off the ground {cw}")),
                ]
            }
        }
        "jump_forward" => {
            if train {
                vec![
                    vp("jump", format!("forward {cw}")),
                    vp("leap", format!("forward {cw}")),
                    vp("jump", format!("ahead with both feet {cw}")),
                ]
            } else {
                vec![vp("bound", format!("ahead {cw}"))]
            }
        }
        "hop" => {
            let leg = if train {
                format!("the {side} leg")
            } else {
                format!("the {side} foot only")
            };
            let fwd = if p.int("forward") == 1 { " forward" } else { "" };
            if train {
                vec![
                    vp("hop", format!("on {leg}{fwd} {cw}")),
                    vp("hop", format!("{cw}{fwd} on {leg}")),
                    vp("jump", format!("on the {side} leg only{fwd} {cw}")),
                ]
            } else {
                vec![vp("skip", format!("on {leg}{fwd} {cw}"))]
            }
        }
        "jumping_jacks" => {
            if train {
                vec![
                    vp("do", format!("jumping jacks {cw}")),
                    vp("perform", count_noun(n, "jumping jack")),
                    vp("do", count_noun(n, "jumping jack")),
                ]
            } else {
                vec![vp("complete", format!("star jumps {cw}"))]
            }
        }
        "squat" => {
            let d = if p.str("depth") == "deep" { "deep " } else { "" };
            if train {
                vec![
                    vp("squat", format!("down {cw}")),
                    vp("do", count_noun(n, &format!("{d}squat"))),
                    vp("squat", cw.to_string()),
                ]
            } else {
                vec![vp("bend", format!("the knees and lowers the hips {cw}"))]
            }
        }
        "crouch" => {
            if train {
                vec![
                    vp("crouch", "down and stands back up"),
                    vp("crouch", "low and then stands up"),
                    vp("squat", "down low and gets back up"),
                ]
            } else {
                vec![vp("duck", "down low before rising again")]
            }
        }
        "sit_floor" => {
            if train {
                vec![
                    vp("sit", "down on the floor and stands back up"),
                    vp("sit", "on the ground and then gets up"),
                    vp("lower", "himself to the floor, sits, and stands up"),
                ]
            } else {
                vec![vp("settle", "onto the ground for a moment and rises again")]
            }
        }
        "wave" => {
            let h = hand_words(side, rng, st);
            if train {
                vec![
                    vp("wave", format!("with {h} {cw}")),
                    vp("wave", format!("{h} {cw}")),
                    vp("raise", format!("{h} and waves {cw}")),
                ]
            } else {
                vec![vp("greet", format!("someone using {h}, moving it {cw}"))]
            }
        }
        "clap" => {
            if train {
                vec![
                    vp("clap", cw.to_string()),
                    vp("clap", format!("the hands {cw}")),
                    vp("clap", format!("both hands together {cw}")),
                ]
            } else {
                vec![vp("applaud", cw.to_string())]
            }
        }
        "punch" => {
            let h = if side == "both" {
                if train {
                    "alternating fists".to_string()
                } else {
                    "both fists in turn".to_string()
                }
            } else if train {
                format!("the {side} fist")
            } else {
                format!("the {side} hand")
            };
            if train {
                vec![
                    vp("punch", format!("{cw} with {h}")),
                    vp("throw", format!("punches with {h} {cw}")),
                    vp("punch", format!("forward with {h} {cw}")),
                ]
            } else {
                vec![vp("strike", format!("forward {cw} using {h}"))]
            }
        }
        "kick" => {
            let leg = format!("the {side} {}", if train { "leg" } else { "foot" });
            if train {
                vec![
                    vp("kick", format!("with {leg} {cw}")),
                    vp("kick", format!("forward with {leg} {cw}")),
                    vp("kick", format!("{cw} using {leg}")),
                ]
            } else {
                vec![vp("boot", format!("the air {cw} with {leg}"))]
            }
        }
        "raise_arms" => {
            let h = hand_words(side, rng, st)
                .replace("hands", "arms")
                .replace("hand", "arm")
                .replace("palm", "arm");
            let d = match (p.str("direction"), st) {
                ("forward", Style::Train) => "forward",
                ("sideways", Style::Train) => "out to the side",
                ("up", Style::Train) => "over the head",
                ("forward", Style::Test) => "to the front",
                ("sideways", Style::Test) => "laterally",
                _ => "toward the sky",
            };
            if train {
                vec![
                    vp("raise", format!("{h} {d}")),
                    vp("lift", format!("{h} {d} and lowers it")),
                    vp("raise", format!("{h} {d} then puts it down")),
                ]
            } else {
                vec![vp("extend", format!("{h} {d}"))]
            }
        }
        "arm_circles" => {
            let d = p.str("direction");
            let sz = if p.str("size") == "big" { "big" } else { "small" };
            if train {
                vec![
                    vp("make", format!("{sz} {d} arm circles {cw}")),
                    vp("rotate", format!("the arms in {sz} {d} circles {cw}")),
                    vp("circle", format!("the arms {d} {cw}")),
                ]
            } else {
                vec![vp("swirl", format!("outstretched arms {d} {cw}"))]
            }
        }
        "bow" => {
            let d = if p.str("depth") == "deep" {
                "deeply"
            } else {
                "slightly"
            };
            if train {
                vec![
                    vp("bow", d.to_string()),
                    vp("bend", format!("forward {d} in a bow")),
                    vp("take", format!("a bow, bending {d}")),
                ]
            } else {
                vec![vp("incline", format!("the upper body {d} as a greeting"))]
            }
        }
        "turn" | "spin" => {
            let a = p.int("angle");
            let d = dir_words(dir, st);
            if p.family == "spin" {
                let c = if n >= 2 {
                    if train { "twice" } else { "two full rotations" }
                } else if train {
                    "once"
                } else {
                    "one full rotation"
                };
                if train {
                    vec![
                        vp("spin", format!("around {c} {d}")),
                        vp("turn", format!("a full circle {c} {d}")),
                        vp("spin", format!("{d} {c}")),
                    ]
                } else {
                    vec![vp("twirl", format!("{d}, {c}"))]
                }
            } else {
                let ang = match (a, st) {
                    (180, Style::Train) => "around".to_string(),
                    (180, Style::Test) => "to face the opposite way".to_string(),
                    (a, Style::Train) => format!("{a} degrees"),
                    (a, Style::Test) => format!("by {a} degrees"),
                };
                if train {
                    vec![
                        vp("turn", format!("{ang} {d}")),
                        vp("turn", format!("{d} {ang} in place")),
                        vp("turn", format!("{ang} {d} on the spot")),
                    ]
                } else {
                    vec![vp("rotate", format!("the body {ang} {d} without walking"))]
                }
            }
        }
        "look_around" => {
            let first = dir;
            let other = if first == "left" { "right" } else { "left" };
            if train {
                vec![
                    vp("look", format!("to the {first} and then to the {other}")),
                    vp("look", "around"),
                    vp("turn", format!("the head {first} and {other}")),
                ]
            } else {
                vec![vp(
                    "glance",
                    format!("over to the {first} side and the {other} side"),
                )]
            }
        }
        "side_bend" => {
            let d = dir_words(dir, st);
            if train {
                let extra = if n >= 2 {
                    format!(" and then the other way, {cw} in total")
                } else {
                    String::new()
                };
                vec![
                    vp("bend", format!("sideways {d}{extra}")),
                    vp("stretch", format!("by leaning {d}{extra}")),
                    vp("lean", format!("the torso {d}{extra}")),
                ]
            } else {
                vec![vp("tilt", format!("the trunk {d}, {cw}"))]
            }
        }
        "balance" => {
            let leg = format!("the {side} leg");
            if train {
                vec![
                    vp("balance", format!("on {leg}")),
                    vp("stand", format!("on {leg} with the arms out")),
                    vp("lift", format!("one foot and balances on {leg}")),
                ]
            } else {
                vec![vp("hold", format!("a one-legged pose on {leg}"))]
            }
        }
        "throw" => {
            let h = format!("the {side} hand");
            let style = if p.str("style") == "underhand" {
                "underhand"
            } else {
                "overhand"
            };
            if train {
                vec![
                    vp("throw", format!("something with {h}")),
                    vp("throw", format!("a ball {style} with {h}")),
                    vp("throw", format!("an object forward with {h}")),
                ]
            } else {
                vec![vp("toss", format!("an item away using {h}"))]
            }
        }
        "pick_up" => {
            let h = format!("the {side} hand");
            if train {
                vec![
                    vp("pick", format!("something up from the floor with {h}")),
                    vp("bend", format!("down and picks up an object with {h}")),
                    vp("pick", format!("up an item from the ground with {h}")),
                ]
            } else {
                vec![vp("grab", format!("a thing off the ground using {h}"))]
            }
        }
        "dance" => {
            if train {
                vec![
                    vp("dance", format!("side to side {cw}")),
                    vp("do", format!("a simple dance step {cw}")),
                    vp("dance", format!("stepping left and right {cw}")),
                ]
            } else {
                vec![vp("groove", format!("from side to side {cw}"))]
            }
        }
        "stand" => {
            let arms = if p.str("arms") == "crossed" {
                " with the arms crossed"
            } else {
                ""
            };
            if train {
                vec![
                    vp("stand", format!("still{arms}")),
                    vp("stand", format!("in place{arms}")),
                    vp("wait", format!("standing{arms}")),
                ]
            } else {
                vec![vp("remain", format!("motionless{arms}"))]
            }
        }
        _ => vec![vp("move", "")],
    }
}

/// Third-person singular present form.
pub fn third(verb: &str) -> String {
    match verb {
        "do" => "does".into(),
        "go" => "goes".into(),
        v if v.ends_with("ch") || v.ends_with("sh") || v.ends_with('s') || v.ends_with('x') => {
            format!("{v}es")
        }
        v => format!("{v}s"),
    }
}

/// Present participle.
pub fn gerund(verb: &str) -> String {
    match verb {
        "jog" | "run" | "hop" | "clap" | "step" | "spin" | "sit" | "skip" => {
            let last = &verb[verb.len() - 1..];
            format!("{verb}{last}ing")
        }
        "be" => "being".into(),
        v if v.ends_with("ie") => format!("{}ying", &v[..v.len() - 2]),
        v if v.ends_with('e') && v != "see" && !v.ends_with("ee") => format!("{}ing", &v[..v.len() - 1]),
        v => format!("{v}ing"),
    }
}

fn subject(rng: &mut Rng, st: Style) -> &'static str {
    match st {
        Style::Train => rng.pick_str(&[
            "a person",
            "a person",
            "a man",
            "a woman",
            "someone",
            "the person",
        ]),
        Style::Test => rng.pick_str(&["an individual", "a guy", "a lady", "this human", "the figure"]),
    }
}

fn finish(s: &str) -> String {
    let s = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",");
    format!("{}.", s.trim_end_matches(['.', ',']))
}

fn pick_vp(p: &Part, rng: &mut Rng, st: Style, k: usize) -> Vp {
    let v = phrases(p, rng, st);
    v[k % v.len()].clone()
}

/// Three captions for a motion made of `parts` (one part, or a composition).
pub fn captions(parts: &[Part], rng: &mut Rng, st: Style) -> Vec<String> {
    let offset = rng.int(0, 5) as usize;
    (0..3)
        .map(|i| {
            let subj = subject(rng, st);
            let vps: Vec<Vp> = parts.iter().map(|p| pick_vp(p, rng, st, offset + i)).collect();
            let frame = (offset + i) % 3;
            let text = if vps.len() == 1 {
                let v = &vps[0];
                // Progressive frames need a predicate without a second finite verb.
                let frame = if has_finite_verb(&v.rest) { 2 } else { frame };
                match (st, frame) {
                    (Style::Train, 1) => format!("{subj} is {} {}", gerund(v.verb), v.rest),
                    (Style::Train, _) => format!("{subj} {} {}", third(v.verb), v.rest),
                    (Style::Test, 0) => format!("{subj} starts {} {}", gerund(v.verb), v.rest),
                    (Style::Test, 1) => format!("we see {subj} {} {}", gerund(v.verb), v.rest),
                    (Style::Test, _) => format!("{subj} {} {}", third(v.verb), v.rest),
                }
            } else {
                let clauses: Vec<String> = vps
                    .iter()
                    .map(|v| format!("{} {}", third(v.verb), v.rest))
                    .collect();
                match (st, frame) {
                    (Style::Train, 0) => format!("{subj} {}", clauses.join(", then ")),
                    (Style::Train, 1) => format!("{subj} {}", clauses.join(" and then ")),
                    (Style::Train, _) if !has_finite_verb(&vps[vps.len() - 1].rest) => {
                        let first = &clauses[..clauses.len() - 1].join(", ");
                        let last = &vps[vps.len() - 1];
                        format!("{subj} {first} before {} {}", gerund(last.verb), last.rest)
                    }
                    (Style::Train, _) => format!("{subj} {}", clauses.join(", and after that ")),
                    (Style::Test, 0) => format!("first {subj} {}", clauses.join("; afterwards it ")),
                    (Style::Test, 1) => format!("{subj} {}", clauses.join(", and next it ")),
                    (Style::Test, _) => format!("{subj} {}", clauses.join(", after which it ")),
                }
            };
            finish(&text)
        })
        .collect()
}

/// Caption for one part alone (used for sub-clip lines of compositions).
pub fn part_caption(p: &Part, rng: &mut Rng, st: Style) -> String {
    captions(std::slice::from_ref(p), rng, st).swap_remove(0)
}

// ------------------------------------------------------------------ POS tagging

const VERBS: &[&str] = &[
    "walk",
    "step",
    "jog",
    "run",
    "sprint",
    "march",
    "tiptoe",
    "sneak",
    "jump",
    "hop",
    "leap",
    "do",
    "perform",
    "squat",
    "crouch",
    "stand",
    "sit",
    "lower",
    "get",
    "wave",
    "raise",
    "clap",
    "punch",
    "throw",
    "kick",
    "lift",
    "make",
    "rotate",
    "circle",
    "bow",
    "bend",
    "take",
    "turn",
    "spin",
    "look",
    "stretch",
    "lean",
    "balance",
    "pick",
    "dance",
    "wait",
    "curve",
    "keep",
    "put",
    "move",
    "shuffle",
    "sidestep",
    "stroll",
    "proceed",
    "retreat",
    "back",
    "slide",
    "follow",
    "loop",
    "change",
    "trot",
    "race",
    "dash",
    "bolt",
    "parade",
    "pull",
    "creep",
    "prowl",
    "stalk",
    "bounce",
    "bound",
    "skip",
    "complete",
    "duck",
    "rise",
    "settle",
    "greet",
    "applaud",
    "strike",
    "boot",
    "extend",
    "swirl",
    "incline",
    "twirl",
    "glance",
    "tilt",
    "hold",
    "toss",
    "grab",
    "groove",
    "remain",
    "start",
    "see",
    "go",
    "veer",
    "bending",
    "crouching",
    "moving",
    "stepping",
    "raising",
    "lifting",
    "alternating",
];

const NOUNS: &[&str] = &[
    "person",
    "man",
    "woman",
    "hand",
    "arm",
    "leg",
    "foot",
    "feet",
    "knee",
    "toe",
    "line",
    "curve",
    "arc",
    "circle",
    "time",
    "step",
    "fist",
    "punch",
    "squat",
    "jack",
    "floor",
    "ground",
    "head",
    "torso",
    "way",
    "total",
    "ball",
    "object",
    "item",
    "something",
    "side",
    "pace",
    "speed",
    "place",
    "spot",
    "degree",
    "bow",
    "dance",
    "body",
    "chest",
    "air",
    "pose",
    "trunk",
    "greeting",
    "sky",
    "path",
    "direction",
    "rotation",
    "front",
    "moment",
    "palm",
    "individual",
    "guy",
    "lady",
    "human",
    "figure",
    "thing",
    "clock",
    "about-face",
    "ball",
    "star",
    "jump",
    "hip",
    "balls",
    "tiptoes",
];

fn tag_of(w: &str) -> (&'static str, String) {
    static LEX: OnceLock<HashMap<String, (&'static str, String)>> = OnceLock::new();
    let lex = LEX.get_or_init(|| {
        let mut m: HashMap<String, (&'static str, String)> = HashMap::new();
        for n in NOUNS {
            m.insert(n.to_string(), ("NOUN", n.to_string()));
            let pl = if n.ends_with("ch") {
                format!("{n}es")
            } else {
                format!("{n}s")
            };
            m.insert(pl, ("NOUN", n.to_string()));
        }
        m.insert("feet".into(), ("NOUN", "foot".into()));
        for v in VERBS {
            for f in [v.to_string(), third(v), gerund(v)] {
                m.insert(f, ("VERB", v.to_string()));
            }
        }
        for (words, tag) in [
            (
                &[
                    "a", "an", "the", "his", "her", "their", "its", "each", "this", "every", "another",
                    "some",
                ][..],
                "DET",
            ),
            (
                &[
                    "he", "she", "they", "it", "someone", "somebody", "himself", "herself", "them", "we",
                ][..],
                "PRON",
            ),
            (
                &[
                    "with", "on", "in", "to", "around", "from", "into", "toward", "towards", "of", "over",
                    "at", "along", "by", "like", "behind", "off", "onto", "using", "without", "after",
                    "before", "as", "for",
                ][..],
                "ADP",
            ),
            (
                &[
                    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                ][..],
                "NUM",
            ),
            (
                &[
                    "left",
                    "right",
                    "high",
                    "big",
                    "small",
                    "deep",
                    "slow",
                    "quick",
                    "fast",
                    "full",
                    "straight",
                    "simple",
                    "other",
                    "easy",
                    "low",
                    "few",
                    "round",
                    "top",
                    "opposite",
                    "possible",
                    "normal",
                    "outstretched",
                    "bending",
                    "slight",
                    "sharp",
                    "jumping",
                    "single",
                    "lateral",
                    "arm",
                    "leisurely",
                    "one-legged",
                ][..],
                "ADJ",
            ),
            (
                &[
                    "forward",
                    "backward",
                    "backwards",
                    "sideways",
                    "slowly",
                    "quickly",
                    "briskly",
                    "then",
                    "once",
                    "twice",
                    "again",
                    "back",
                    "up",
                    "down",
                    "away",
                    "out",
                    "together",
                    "overhead",
                    "afterwards",
                    "first",
                    "still",
                    "counterclockwise",
                    "clockwise",
                    "anticlockwise",
                    "slightly",
                    "deeply",
                    "sharply",
                    "ahead",
                    "carefully",
                    "laterally",
                    "crabwise",
                    "lightly",
                    "onward",
                    "vertically",
                    "stealthily",
                    "unhurriedly",
                    "rapidly",
                    "hurriedly",
                    "around",
                    "very",
                    "low",
                    "motionless",
                    "in",
                    "along",
                ][..],
                "ADV",
            ),
            (&["is", "are", "be"][..], "AUX"),
            (&["and", "or", "but"][..], "CCONJ"),
        ] {
            for w in words {
                m.entry(w.to_string()).or_insert((tag, w.to_string()));
            }
        }
        m
    });
    if w.chars().all(|c| c.is_ascii_digit()) {
        return ("NUM", w.to_string());
    }
    match lex.get(w) {
        Some((t, l)) => (t, l.clone()),
        None => ("OTHER", w.to_string()),
    }
}

/// The `word/POS` token string of a caption (lower-cased lemmas, punctuation dropped).
pub fn tokens(caption: &str) -> String {
    caption
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == ';' || c == '\'')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let (t, l) = tag_of(w);
            format!("{l}/{t}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line of a HumanML3D text file: `caption#tokens#from#to`. `from = to = 0` (the whole
/// clip) is written `0.0#0.0`; sub-clip times are written with three decimals, nudged by
/// 1 ms so that `int(t · 20)` recovers the intended frame despite decimal rounding.
pub fn text_line(caption: &str, from: f64, to: f64) -> String {
    if from == 0.0 && to == 0.0 {
        format!("{caption}#{}#0.0#0.0", tokens(caption))
    } else {
        format!(
            "{caption}#{}#{:.3}#{:.3}",
            tokens(caption),
            from + 0.001,
            to + 0.001
        )
    }
}

/// Whether a predicate contains a finite verb ("... and stands up"), which rules out the
/// progressive sentence frames ("is crouching ... and stands up" would be ungrammatical).
fn has_finite_verb(rest: &str) -> bool {
    rest.split(|c: char| !c.is_alphanumeric() && c != '-').any(|w| {
        let (tag, lemma) = tag_of(w);
        tag == "VERB" && w != lemma && w.ends_with('s') && !w.ends_with("ss")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(third("punch"), "punches");
        assert_eq!(gerund("jog"), "jogging");
        assert_eq!(gerund("wave"), "waving");
        assert_eq!(parse_count("a man jumps three times."), Some(3));
        assert_eq!(parse_count("he claps 4 times"), Some(4));
        assert_eq!(parse_count("he claps twice"), Some(2));
        assert_eq!(
            tokens("A man walks forward, then waves."),
            "a/DET man/NOUN walk/VERB forward/ADV then/ADV wave/VERB"
        );
        assert_eq!(
            text_line("a man runs.", 0.0, 0.0),
            "a man runs.#a/DET man/NOUN run/VERB#0.0#0.0"
        );
    }
}
