#!/usr/bin/env python3
"""How well a corpus's held-out test captions name their action through frozen MiniLM features.

A model conditioned only on the sentence feature cannot generate the right action for a caption
whose feature does not identify that action. This measures that ceiling on the single-action
clips of a `momask synth` corpus, from the features `momask train` cached
(`<corpus>/text_features.minilm.safetensors`; run any transformer stage or `momask eval` first):

- k-NN: the family of the nearest training captions (cosine), k = 1 and 5;
- linear probe: softmax regression on the training captions' features (no weight decay: the
  best setting; decay only lowers the test accuracy).

With `--extra <file.tsv>` it also asks whether richer training wording would move that ceiling:
each line `action<TAB>predicate` ("jog<TAB>runs slowly") becomes a training caption with each
of the training subjects ("a person runs slowly.", …), embedded by `momask embed` (the shipped
demo bundle's MiniLM unless --model says otherwise). A predicate that uses a word only the test
captions use is left out and reported: the test wording stays unseen. The probes then run again
with those captions added.

Usage: python3 scripts/text-identifiability.py <corpus> [--extra <file.tsv>]
           [--momask <binary>] [--model <bundle>]     (needs numpy)
"""
import argparse
import json
import re
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np


def cached_features(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        (key,) = [k for k in header if k.startswith("features.")]
        info = header[key]
        f.seek(8 + n + info["data_offsets"][0])
        raw = f.read(info["data_offsets"][1] - info["data_offsets"][0])
    return np.frombuffer(raw, dtype="<f4").reshape(info["shape"])


SUBJECTS = ["a person", "a man", "a woman", "someone", "the person"]


def words(text):
    return set(re.findall(r"[a-z][a-z'-]*", text.lower()))


def probes(x, y, xt, yt, classes):
    """Prints k-NN and linear-probe accuracies of training features x (labels y) on xt (yt)."""
    similarity = xt @ x.T
    print(f"  mean cosine of a test caption to its nearest training caption: {similarity.max(1).mean():.3f}")
    for k in [1, 5]:
        nearest = np.argsort(-similarity, axis=1)[:, :k]
        votes = [Counter(y[row]).most_common(1)[0][0] for row in nearest]
        print(f"  {k}-NN action accuracy on test captions: {np.mean(np.array(votes) == yt):.3f}")
    w, b = np.zeros((x.shape[1], classes)), np.zeros(classes)
    for _ in range(300):
        z = x @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        w -= 5.0 * x.T @ p / len(y)
        b -= 5.0 * p.mean(0)
    print(
        f"  linear probe action accuracy: train {np.mean((x @ w + b).argmax(1) == y):.3f}, "
        f"test {np.mean((xt @ w + b).argmax(1) == yt):.3f}"
    )


def embed(texts, momask, model):
    """Features of `texts` from `momask embed` (rows in order)."""
    with tempfile.TemporaryDirectory() as tmp:
        listing, out = Path(tmp) / "texts.txt", Path(tmp) / "features.npy"
        listing.write_text("\n".join(texts) + "\n")
        subprocess.run(
            [momask, "embed", "--model", model, "--texts", str(listing), "--out", str(out)],
            check=True,
        )
        return np.load(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--extra", help="action<TAB>predicate lines: more training wording to try")
    parser.add_argument("--momask", default="target/release/momask")
    parser.add_argument("--model", default="assets/momask-demo.safetensors")
    args = parser.parse_args()
    root = Path(args.corpus)
    family = {}
    for line in open(root / "labels.jsonl"):
        d = json.loads(line)
        family[d["id"]] = d["family"]
    # The cache's row order: splits train, val, test; ids in split order; first occurrence of
    # each caption (as `train::text::dataset_features`).
    texts, split_of, family_of = [], {}, {}
    for split in ["train", "val", "test"]:
        for cid in (root / f"{split}.txt").read_text().split():
            for line in open(root / "texts" / f"{cid}.txt"):
                caption = line.split("#")[0].strip()
                if caption and caption not in split_of:
                    texts.append(caption)
                    split_of[caption] = split
                    family_of[caption] = family[cid]
    features = cached_features(root / "text_features.minilm.safetensors")
    if features.shape[0] != len(texts):
        sys.exit(f"cache has {features.shape[0]} rows, the corpus {len(texts)} captions")
    single = [i for i, t in enumerate(texts) if family_of[t] != "sequence"]
    train = [i for i in single if split_of[texts[i]] == "train"]
    test = [i for i in single if split_of[texts[i]] == "test"]
    x, xt = features[train], features[test]
    names = sorted({family_of[texts[i]] for i in train})
    index = {f: k for k, f in enumerate(names)}
    y = np.array([index[family_of[texts[i]]] for i in train])
    yt = np.array([index[family_of[texts[i]]] for i in test])
    print(f"{len(train)} training / {len(test)} test captions of single-action clips, {len(names)} actions")
    probes(x, y, xt, yt, len(names))
    if not args.extra:
        return

    seen = set().union(*(words(texts[i]) for i in single if split_of[texts[i]] != "test"))
    test_only = set().union(*(words(texts[i]) for i in test)) - seen
    extra, labels, skipped = [], [], 0
    for n, line in enumerate(open(args.extra), 1):
        if not line.strip() or line.startswith("#"):
            continue
        action, _, predicate = line.rstrip("\n").partition("\t")
        if action not in index or not predicate.strip():
            sys.exit(f"{args.extra}:{n}: expected 'action<TAB>predicate' with a known action, got {line!r}")
        leaked = words(predicate) & test_only
        if leaked:
            print(f"  left out ({action}): '{predicate}' uses test-only {sorted(leaked)}")
            skipped += 1
            continue
        for subject in SUBJECTS:
            extra.append(f"{subject} {predicate.strip()}.")
            labels.append(index[action])
    print(f"with {len(extra)} more training captions ({len(extra) // len(SUBJECTS)} predicates, {skipped} left out):", flush=True)
    more = embed(extra, args.momask, args.model)
    probes(np.concatenate([x, more]), np.concatenate([y, np.array(labels)]), xt, yt, len(names))


if __name__ == "__main__":
    main()
