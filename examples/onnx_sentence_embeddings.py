"""Sentence embeddings from a model exported by `hashembed.torch.export_model`, with only
onnxruntime and tokenizers installed (hashembed is not needed to run it).

    python examples/onnx_sentence_embeddings.py model.onnx tokenizer.json "A sentence." "Another one."

It prints each sentence's embedding norm and the cosine similarity of every pair. The graph
takes each token's string as its code points, so the caller's part is the tokenizer and the
padding below; the same few lines work in any language with an ONNX runtime and a tokenizer.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def model_inputs(tokenizer: Tokenizer, sentences: list[str], max_length: int = 128) -> dict[str, np.ndarray]:
    """`codepoints` (B, S, L), `lengths` (B, S) and `attention_mask` (B, S), all int64."""
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding()
    encodings = tokenizer.encode_batch(sentences)
    # each token as the vocabulary spells it ("##ing", "[CLS]"): the strings the model's
    # hash embeddings were made of
    tokens = [e.tokens for e in encodings]
    batch, seq = len(tokens), len(tokens[0])
    width = max(len(t) for row in tokens for t in row)
    codepoints = np.zeros((batch, seq, width), dtype=np.int64)
    lengths = np.zeros((batch, seq), dtype=np.int64)
    for b, row in enumerate(tokens):
        for s, token in enumerate(row):
            codepoints[b, s, : len(token)] = [ord(c) for c in token]
            lengths[b, s] = len(token)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return {"codepoints": codepoints, "lengths": lengths, "attention_mask": mask}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the .onnx file written by hashembed.torch.export_model")
    parser.add_argument("tokenizer", help="the model's tokenizer.json")
    parser.add_argument("sentences", nargs="+")
    args = parser.parse_args(argv)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    inputs = model_inputs(Tokenizer.from_file(args.tokenizer), args.sentences)
    (vectors,) = session.run(["sentence_embedding"], inputs)
    for sentence, v in zip(args.sentences, vectors):
        print(f"{np.linalg.norm(v):.4f}  {sentence}")
    similarity = vectors @ vectors.T
    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            print(f"cosine({i}, {j}) = {similarity[i, j]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
