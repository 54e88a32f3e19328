"""Stage `rewrite`: rewrite seed records following one rule, through an LLM backend.

Reads `params.yaml: rule` and `params.yaml: rewrite` (see stages/llm/settings.py),
and the subsets of `params.yaml: sources` (the `rewrites` suite's allowed `source`
values, and what `rewrite.sources` may name),
the rule catalog (`--rules`), validated records (`--in`) and, for the
`transformers` backend with `model: base`, the base model (`--base-model`).

1. Seeds: records whose `source` is in `rewrite.sources` and whose
   `task_type.major` meets `rewrite.task_types` (empty lists mean any) and whose
   instruction is not blank; then at most `max_records` of them, chosen by the
   order of sha256(seed, id), so adding records does not reshuffle the sample.
2. One prompt per seed from the rule's templates (stages/llm/prompts.py).
3. Answers come from the response cache (`--cache`, content-addressed) or from
   the backend; new answers are cached as they arrive.
4. Each answer is parsed into a new record: `instruction`, `output`,
   `answer_from: llm`, `id = rewrite-<16 hex of sha256(parent id, rule, model)>`,
   `source`/`license`/`copyright`/`task_type`/`domain` from the parent,
   `source_uri = rewrite:<parent id>`, `raw_sha256` = hash of the raw answer,
   `fetched_at` null, `transforms` = parent's + `rewrite:<rule>`, plus columns
   `parent_id`, `rule`, `model`, `prompt_sha256`.

Kept: parsed answers. Rejected (`rejected.parquet`, with the raw answer in
`output`): `rewrite_empty_answer` (blank answer, or blank question or answer
part), `rewrite_unparseable` (no 【问题】/【回答】 markers and no JSON object),
`rewrite_backend_error` (the backend failed this prompt after its retries,
or its body was corrupt; not cached, so the next run tries again),
`rewrite_echoes_prompt` (the parsed reply restates the prompt or the rule text:
stages/llm/README.md), `rewrite_secret_in_output` (the answer or its parsed record
holds the API key in any spelling; never cached, never written, and a cached
entry holding it is removed). `rows_in` is the number of seeds, i.e. prompts.
`rule: none` writes empty outputs without loading anything. Metrics add
`cache_hits`, `cache_misses`, `cache_stored`, `candidates` (seeds before the
`max_records` cut) and `backend_calls` (HTTP requests including retries for
`openai`, prompts generated for `transformers`).

The outputs are canonical records plus the four columns above, ready for a
validation suite: the kept rewrites must pass the `rewrites` expectation suite
(reports in `--reports`); a failed critical expectation stops the stage.

Example:
    python -m stages.rewrite run --in data/validate/records.parquet --rules schemas/rules.yaml \\
        --base-model models/base --cache cache/rewrite --out data/rewrite --metrics metrics/rewrite.json \\
        --suite schemas/expectations/rewrites.json --reports reports/rewrite
    python -m stages.rewrite rules    # the rules `params.yaml: rule` may name
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.ingest.subsets import load_sources, subset_context
from stages.lib.cli import (PATH, base_model_option, doc_summary, echo_summary, example, in_option, metrics_option,
                            out_option, params_option, reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.llm.rewriting import RewritePaths, run_rewrite
from stages.llm.rules import choose_rule, load_catalog
from stages.llm.settings import RewriteParams
from stages.validate.suites import clean_bounds


@click.group(help=doc_summary(__doc__), epilog=example(__doc__))
def cli() -> None:
    pass


@cli.command("run", epilog=example(__doc__))
@params_option()
@in_option("Validated records (data/validate/records.parquet): the seeds are chosen from them.")
@click.option("--rules", "rules_path", required=True, type=PATH, help="Rule catalog YAML.")
@base_model_option("Base model folder (used by backend transformers with model: base).")
@click.option("--cache", "cache_dir", required=True, type=PATH, help="Response cache folder.")
@out_option()
@metrics_option()
@click.option("--suite", default="rewrites", show_default=True,
              help="Expectation suite (a name in schemas/expectations/ or a path) the kept rewrites must pass.")
@reports_option("Folder for the suite's reports.")
@clear_errors
def run_command(params_path: Path, in_path: Path, rules_path: Path, base_model: Path, cache_dir: Path,
                out_dir: Path, metrics_path: Path, suite: str, reports_dir: Path) -> None:
    """Rewrite seed records with the rule in params.yaml: rule."""
    context = subset_context(load_sources(params_path))
    settings = load_section(RewriteParams, params_path, context)
    choice = choose_rule(rules_path, load_section("rule", params_path), f"{params_path}: rule")
    paths = RewritePaths(in_path, rules_path, base_model, cache_dir, out_dir, metrics_path, suite, reports_dir)
    metrics = run_rewrite(choice, settings, context["subsets"], paths,
                          bounds=clean_bounds(params_path, context["subsets"]))
    echo_summary("rewrite", metrics, f"rule {metrics['rule']}; cache {metrics['cache_hits']} hits, "
                                     f"{metrics['cache_misses']} misses")


@cli.command("rules", epilog=example(__doc__))
@click.option("--rules", "rules_path", default="schemas/rules.yaml", show_default=True, type=PATH,
              help="Rule catalog YAML.")
@clear_errors
def rules_command(rules_path: Path) -> None:
    """List the rules of the catalog (the values of params.yaml: rule)."""
    catalog = load_catalog(rules_path)
    click.echo("none\tno rewriting")
    for rule in catalog.rules.values():
        click.echo(f"{rule.name}\t{rule.title_zh} / {rule.title_en}")


def main() -> None:
    run_main(cli, "stages.rewrite")


if __name__ == "__main__":
    main()
