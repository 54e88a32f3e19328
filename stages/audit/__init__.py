"""Dataset audit: record-level diffs between revisions, record tracing, paired experiment comparisons.

`python -m stages.audit --help` is the entry point. The modules:

- `revisions`: a `Side` is one thing to compare (a git revision, a DVC
  experiment name, or `workspace`) and reads files at it through `dvc.api`.
- `stages`: discovers the stages and their outputs from `dvc.yaml` at a side.
- `diff`: pure polars functions (content hash, joins on `id`).
- `report`: builds the JSON-ready diff report from two sides.
- `textdiff`: the readable field-by-field diff of one changed record.
- `trace`: one record's path through every stage.
- `runs`: the experiments and commits to compare, their baselines and seed groups.
- `questions`: each run's per-question results (predictions.jsonl) and their pairing.
- `paired`: paired deltas, bootstrap intervals, minimum detectable effects, cell texts.
- `rules`: each rule against rule=none, per task; `experiments`: one row per experiment.
- `charts`: the rules chart (PNG); `compare_render`: the rules and experiments blocks.
- `render`: terminal table, Markdown, JSON and self-contained HTML.
- `command`: the subcommands' shared options, DVC errors as one line, writing the report.
"""
