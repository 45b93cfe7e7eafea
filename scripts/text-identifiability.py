#!/usr/bin/env python3
"""How well a corpus's held-out test captions name their action through frozen MiniLM features.

A model conditioned only on the sentence feature cannot generate the right action for a caption
whose feature does not identify that action. This measures that ceiling on the single-action
clips of a `momask synth` corpus, from the features `momask train` cached
(`<corpus>/text_features.minilm.safetensors`; run any transformer stage or `momask eval` first):

- k-NN: the family of the nearest training captions (cosine), k = 1 and 5;
- linear probe: softmax regression on the training captions' features (no weight decay: the
  best setting; decay only lowers the test accuracy).

Usage: python3 scripts/text-identifiability.py <corpus>     (needs numpy)
"""
import json
import struct
import sys
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


def main(root):
    root = Path(root)
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
    similarity = xt @ x.T
    print(f"mean cosine of a test caption to its nearest training caption: {similarity.max(1).mean():.3f}")
    for k in [1, 5]:
        nearest = np.argsort(-similarity, axis=1)[:, :k]
        votes = [Counter(y[row]).most_common(1)[0][0] for row in nearest]
        print(f"{k}-NN action accuracy on test captions: {np.mean(np.array(votes) == yt):.3f}")
    w, b = np.zeros((x.shape[1], len(names))), np.zeros(len(names))
    for _ in range(300):
        z = x @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        w -= 5.0 * x.T @ p / len(y)
        b -= 5.0 * p.mean(0)
    print(
        f"linear probe action accuracy: train {np.mean((x @ w + b).argmax(1) == y):.3f}, "
        f"test {np.mean((xt @ w + b).argmax(1) == yt):.3f}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
