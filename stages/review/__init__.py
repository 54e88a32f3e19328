"""Human review: export a queue to Label Studio or Argilla, import the decisions, apply them (README "Human review").

- `__main__`: `python -m stages.review export | import | apply` (apply is the DVC stage `review`).
- `params`: `params.yaml: review` (the queue, the guidelines version).
- `content`: the sha256 of the text shown, reviewer pseudonyms, the export's git revision.
- `exporting`: the queue as Label Studio tasks and Argilla records.
- `importing`: Label Studio and Argilla exports to decisions, one line per bad entry.
- `decisions`: review/decisions.jsonl, append-only.
- `applying`: the rules that turn decisions into a record's fate (stale, superseded, ...).
- `agreement`: Cohen's kappa between reviewers and between the judge and reviewers.
- `stage`: the DVC stage's run.
"""
