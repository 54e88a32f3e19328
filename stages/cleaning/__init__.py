"""Text cleaning and normalisation helpers for the `clean` and `normalize` stages.

- `segments`: protected spans (code, LaTeX, URLs) masked out of prose and put back.
- `steps`: applying one text step to the instruction/input/output columns and
  recording in `transforms` which records it changed.
- `repair`: HTML to text, mojibake, control and zero-width characters, markdown
  escapes, whitespace.
- `pii`: typed placeholders for phones, emails, ID and bank card numbers, secrets.
- `scores` and `filters`: score columns first, thresholds (per source) second.
- `langid`, `quality`: the fastText models.
- `normalize_text`: OpenCC, width and punctuation normalisation.
"""
