"""Dataset audit: record-level diffs between revisions, record tracing, the rule x task view.

`python -m stages.audit --help` is the entry point. The modules:

- `revisions`: a `Side` is one thing to compare (a git revision, a DVC
  experiment name, or `workspace`) and reads files at it through `dvc.api`.
- `stages`: discovers the stages and their outputs from `dvc.yaml` at a side.
- `diff`: pure polars functions (content hash, joins on `id`).
- `report`: builds the JSON-ready diff report from two sides.
- `textdiff`: the readable field-by-field diff of one changed record.
- `trace`: one record's path through every stage.
- `rules`: the rule x task matrix of accuracy deltas from experiments.
- `render`: terminal table, Markdown, JSON and self-contained HTML.
- `command`: the subcommands' shared options, DVC errors as one line, writing the report.
"""
