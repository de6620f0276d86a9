#!/usr/bin/python3
"""Deterministic text-like input for the compression benchmark (stdlib only).

The study compressed enwik9 (1 GB of Wikipedia). That file cannot be fetched here, so the
input is English-like text from a fixed vocabulary with Zipf-distributed word frequencies
and sentence structure, drawn from Python's Mersenne Twister with a fixed seed: the same
bytes on every target (its sha256 is recorded), compressing like text (ratio ~3-4 at
level 2), not like random or constant data.

usage: textgen.py SEED SIZE_BYTES OUTPUT
"""

import random
import sys

SYLLABLES = (
    "the of and to in is was for on as with by he at from his an were are which this be or "
    "had not but first one their its new after who they have her she two been other when there "
    "all during into school time may years more most only over city some world would where "
    "later up such used many can state about national out known university united then made"
).split()


def vocabulary(rng, size=20000):
    words = list(SYLLABLES)
    stems = ["".join(rng.choice("bcdfghjklmnprstvwz") + rng.choice("aeiouy") for _ in range(k))
             for k in (1, 2, 3, 4) for _ in range(size // 4)]
    words.extend(stems)
    return words[:size]


def main(argv):
    seed, size, output = int(argv[1]), int(argv[2]), argv[3]
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) ** 1.07 for rank in range(len(words))]
    written = 0
    with open(output, "w", encoding="ascii") as fh:
        while written < size:
            batch = rng.choices(words, weights=weights, k=4096)
            lines = []
            for i in range(0, len(batch), 16):
                sentence = " ".join(batch[i:i + 16])
                lines.append(sentence[0].upper() + sentence[1:] + ".")
            chunk = "\n".join(lines) + "\n"
            chunk = chunk[: size - written]
            fh.write(chunk)
            written += len(chunk)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
