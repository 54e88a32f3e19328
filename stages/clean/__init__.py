"""Text cleaning, normalisation and the quality classifier: the `clean`, `train_quality` and `normalize` stages.

- `segments`: protected spans (code, LaTeX, URLs) masked out of prose and put back.
- `steps`: applying one text step to the instruction/input/output columns and
  recording in `transforms` which records it changed.
- `repair`, `html`: HTML to text, mojibake, control and zero-width characters,
  markdown escapes, whitespace.
- `pii`: typed placeholders for phones, emails, ID and bank card numbers, secrets.
- `texts`: the repairs and PII scrubbing of the `clean` stage, in order.
- `registry`, `filters`, `scores`: score columns first, thresholds (per source)
  second. A filter is one `registry.CleanFilter` (its scores, limits, rule,
  reason and detail), registered in `filters.FILTERS`; `scores` holds what the
  scores are built from; `filters.CleanParams` is `params.yaml: clean`.
- `records`: the `clean` stage on record frames (`clean_records`, `run_clean`).
- `langid`: fastText lid.176 for the language scores.
- `quality`: the optional fastText quality classifier (`TrainQualityParams`);
  `quality_filter`: the `train_quality` stage (`run_train_quality`).
- `normalize_text`: OpenCC, width and punctuation tables (`NormalizeParams`);
  `normalizing`: the `normalize` stage (`normalize_records`, `run_normalize`).

The configured sources and the subsets `by_source` keys must name come from `stages.ingest.subsets`.
"""
