"""What a hash-embedded model keeps (docs/compression.md): part (a) shrinks all-MiniLM-L6-v2 by
distillation against equal-parameter baselines, part (b) trains a small classifier from scratch."""
