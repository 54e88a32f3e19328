"""Stage `familiarity`: the base model's perplexity and IFD on every SFT candidate response.

Following "I Learn Better If You Speak My Language", a response the model
already finds familiar (low perplexity before tuning) is easier to learn from.
Reads validated records (`--in`) and rewrites (`--rewrites`, optional),
the base model (`--base-model`) and `params.yaml: familiarity`:

```yaml
familiarity:
  batch_size: 8
  max_length: 1024            # prompt + response tokens per sequence
  device: auto                # cuda (bfloat16) when torch sees a GPU, else cpu (float32)
  threads: null               # torch CPU threads; null = torch's default, 1 for the tiny model
  sources: []                 # records' `source` values to score (configured subsets); [] = every candidate
  filter: {max_ppl: null, keep_quantile: null}
```
(`FamiliarityParams` in stages/llm/perplexity.py; the run is stages/llm/familiarity.py.)

Every record gets `ppl` (answer-only perplexity, prompt tokens masked out, see
stages/llm/perplexity.py), `ppl_tokens` (response tokens scored),
`loss_answer_given_question` and `loss_answer_alone` (mean loss per response token
with and without the question) and `ifd`, their ratio. Records with an empty
output are not SFT candidates, and with `sources` set only records (curated or
rewritten) of those sources are scored: the others' scores are null and no filter
drops them (metrics `not_chosen` counts those left out by `sources`).
Rewrites keep their `parent_id`, `rule`, `model`, `prompt_sha256` columns (null
for curated records).

The filter is off by default. With `max_ppl` and/or `keep_quantile` (keep the
most familiar fraction, e.g. 0.8), scored records above the lower of the two
thresholds are rejected as `familiarity_unfamiliar`. Summaries of ppl by
`source` and by `answer_from` (scored records, before the filter) go to
`--reports` as CSV files, which dvc.yaml declares as plots, and `ppl.png`.

Example:
    python -m stages.familiarity --in data/validate/records.parquet \\
        --rewrites data/rewrite/records.parquet --base-model models/base --out data/familiarity \\
        --reports reports/familiarity --metrics metrics/familiarity.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.lib.cli import (PATH, base_model_option, doc_summary, echo_summary, example, in_option, metrics_option,
                            out_option, params_option, reports_option, run_main)
from stages.ingest.subsets import load_sources, subset_context
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.llm.familiarity import run_familiarity
from stages.llm.perplexity import FamiliarityParams


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@params_option()
@in_option("Validated records (data/validate/records.parquet).")
@click.option("--rewrites", "rewrites_path", type=PATH, help="Rewritten records (optional).")
@base_model_option()
@out_option()
@reports_option("Folder for the ppl summaries (CSV plots and ppl.png).")
@metrics_option()
@clear_errors
def cli(params_path: Path, in_path: Path, rewrites_path: Path | None, base_model: Path, out_dir: Path,
        reports_dir: Path, metrics_path: Path) -> None:
    settings = load_section(FamiliarityParams, params_path, subset_context(load_sources(params_path)))
    metrics = run_familiarity(settings, in_path, rewrites_path, base_model, out_dir, reports_dir, metrics_path)
    median = "n/a" if metrics["ppl_median"] is None else f"{metrics['ppl_median']:.1f}"
    echo_summary("familiarity", metrics, f"{metrics['scored']} scored, median ppl {median}")


def main() -> None:
    run_main(cli, "stages.familiarity")


if __name__ == "__main__":
    main()
