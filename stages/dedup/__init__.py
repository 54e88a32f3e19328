"""Near-duplicate removal for the `dedup` stage; README.md in this folder has the method and its outputs.

`shingles`, `sets`, `minhash` (with `onehash`, the default one-permutation sketch), `lsh`, `verify` and
`components` compute on arrays in memory (one batch of texts, or one list of pairs); `decision` is the
one place a candidate pair is judged a near duplicate. `plan`, `spill`, `store` and `source` read the
input in passes and keep work files, `local` runs the passes here reusing the `index` kept between
runs (with `memo`, the pairs measured before), `stage` writes the outputs, `distributed` runs the
passes on Ray, and `near` is the near step over texts held in memory (bench/dedup_core.py).
"""
