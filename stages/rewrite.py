"""Stage `rewrite`: rewrite seed records following one rule, through an LLM backend.

Reads `params.yaml: rule` and `params.yaml: rewrite` (see stages/llm/settings.py),
the rule catalog (`--rules`), validated records (`--records`) and, for the
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
`rewrite_secret_in_output` (the answer contains the API key; never cached,
never written, and a cached entry holding it is removed). `rows_in` is the number of seeds, i.e.
prompts. `rule: none` writes empty outputs without loading anything. Metrics add
`cache_hits`, `cache_misses`, `cache_stored`, `candidates` (seeds before the
`max_records` cut) and `backend_calls` (HTTP requests including retries for
`openai`, prompts generated for `transformers`).

The outputs are canonical records plus the four columns above, ready for a
validation suite: the kept rewrites must pass the `rewrites` expectation suite
(reports in `--reports`); a failed critical expectation stops the stage.

Example:
    python -m stages.rewrite run --records data/validate/records.parquet --rules schemas/rules.yaml \\
        --base-model models/base --cache cache/rewrite --out data/rewrite --metrics metrics/rewrite.json
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.contract import write_stage_outputs
from stages.ingest.sources import parse_sources
from stages.lib.errors import StageError, clear_errors
from stages.lib.params import load_params
from stages.lib.record import REJECTED_SCHEMA, RECORD_SCHEMA, make_id, sha256_hex
from stages.llm.backends import Backend, Failure
from stages.llm.cache import Request, Response, ResponseCache
from stages.llm.parse import parse_answer
from stages.lib.progress import bar, quiet_libraries
from stages.llm.prompts import build_messages, canonical_json, prefill_of, prompt_sha256
from stages.llm.rules import Catalog, Rule, load_catalog
from stages.llm.settings import RewriteSettings, parse_rewrite_settings

EXTRA = {"parent_id": pl.String, "rule": pl.String, "model": pl.String, "prompt_sha256": pl.String}
EXTRA_COLUMNS = tuple(EXTRA)
REASON = {"empty": "rewrite_empty_answer", "unparseable": "rewrite_unparseable"}
SECRET_REASON = "rewrite_secret_in_output"


@dataclass
class RewriteResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame
    rows_in: int
    metrics: dict[str, Any] = field(default_factory=dict)


def select_seeds(records: pl.DataFrame, settings: RewriteSettings) -> tuple[pl.DataFrame, int]:
    """(seeds in id order, number of candidates before the max_records cut)."""
    frame = records.filter(pl.col("instruction").str.strip_chars().str.len_chars() > 0)
    if settings.sources:
        frame = frame.filter(pl.col("source").is_in(list(settings.sources)))
    if settings.task_types:
        wanted = list(settings.task_types)
        frame = frame.filter(pl.col("task_type").struct.field("major").list.eval(pl.element().is_in(wanted)).list.any())
    rank = [hashlib.sha256(f"{settings.seed}\x00{i}".encode()).hexdigest() for i in frame["id"].to_list()]
    chosen = frame.with_columns(pl.Series("_rank", rank)).sort("_rank").head(settings.max_records)
    return chosen.drop("_rank").sort("id"), frame.height


def make_backend(settings: RewriteSettings, base_model: Path) -> Backend:
    if settings.backend == "openai":
        from stages.llm.backends.openai_chat import OpenAIChatBackend

        if settings.openai is None:
            raise ValueError("params.yaml: rewrite.openai: backend openai needs base_url and model")
        return OpenAIChatBackend(settings.openai)
    from stages.llm.backends.hf_local import BASE, LocalBackend
    from stages.llm.base import read_model_dir, reference_spec

    local = settings.transformers
    if local.model == BASE:
        return LocalBackend(read_model_dir(base_model), local.batch_size)
    return LocalBackend(reference_spec(local.model, local.revision, local.dtype), local.batch_size)


def answer_all(requests: list[Request], backend: Backend, settings: RewriteSettings,
               cache: ResponseCache) -> list[Response | Failure]:
    """Cached answers where present; the rest from the backend, cached as they arrive."""
    leaks = getattr(backend, "leaks", lambda text: False)
    answers: list[Response | Failure | None] = [cache.get(request) for request in requests]
    for index, answer in enumerate(answers):
        if isinstance(answer, Response) and leaks(answer.text):  # cached before this check existed
            cache.discard(requests[index])
            answers[index] = Failure("the cached completion contains the API key; entry removed",
                                     reason=SECRET_REASON)
    missing = [i for i, answer in enumerate(answers) if answer is None]
    if missing:
        shown = bar(len(missing), f"rewrite ({len(requests) - len(missing)} cached)", unit="answer")

        def store(position: int, response: Response) -> None:
            if not leaks(response.text):
                cache.put(requests[missing[position]], response)
            shown.update(1)

        with shown:
            fresh = backend.generate([requests[i].messages for i in missing], settings.generation, store)
        for position, index in enumerate(missing):
            answers[index] = fresh[position]
    return answers  # type: ignore[return-value]


def new_row(parent: dict[str, Any], rule: Rule, backend: Backend, request: Request,
            answer: Response | Failure) -> dict[str, Any]:
    """The rewritten record, or a rejected row with `reason` and `detail`."""
    raw = answer.text if isinstance(answer, Response) else None
    row: dict[str, Any] = {
        "id": make_id("rewrite", f"{parent['id']}\x00{rule.name}\x00{backend.model}"),
        "source": parent["source"], "source_uri": f"rewrite:{parent['id']}",
        "raw_sha256": sha256_hex(raw.encode("utf-8")) if raw is not None else None, "fetched_at": None,
        "license": parent["license"], "instruction": None, "input": "", "output": raw,
        "task_type": parent["task_type"], "domain": parent["domain"],
        "metadata": canonical_json({"cache_key": request.key,
                                    "finish_reason": answer.finish_reason if raw is not None else None}),
        "answer_from": "llm", "human_verified": False, "copyright": parent["copyright"],
        "transforms": [*(parent["transforms"] or []), f"rewrite:{rule.name}"],
        "parent_id": parent["id"], "rule": rule.name, "model": backend.model,
        "prompt_sha256": prompt_sha256(request.messages),
    }
    if isinstance(answer, Failure):
        return {**row, "reason": answer.reason, "detail": answer.detail}
    parsed = parse_answer(prefill_of(request.messages) + answer.text)
    if parsed.status != "ok":
        return {**row, "reason": REASON[parsed.status], "detail": parsed.detail}
    return {**row, "instruction": parsed.instruction, "output": parsed.output}


def frames(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    kept = [row for row in rows if "reason" not in row]
    rejected = [row for row in rows if "reason" in row]
    return (pl.DataFrame(kept, schema={**RECORD_SCHEMA, **EXTRA}),
            pl.DataFrame(rejected, schema={**REJECTED_SCHEMA, **EXTRA}))


def rewrite_records(records: pl.DataFrame, catalog: Catalog, rule_name: Any, settings: RewriteSettings,
                    base_model: Path, cache: ResponseCache) -> RewriteResult:
    """Everything but the writing: seeds, prompts, answers, parsed records."""
    rule = catalog.resolve(rule_name)
    if rule is None:
        empty_kept, empty_rejected = frames([])
        return RewriteResult(empty_kept, empty_rejected, 0,
                             {"rule": "none", "backend": settings.backend, "candidates": 0, "backend_calls": 0})
    seeds, candidates = select_seeds(records, settings)
    backend = make_backend(settings, base_model)
    parents = seeds.to_dicts()
    requests = [Request(backend.name, backend.identity,
                        build_messages(catalog, rule, p["instruction"], p["input"], p["output"]),
                        settings.generation.as_dict()) for p in parents]
    answers = answer_all(requests, backend, settings, cache)
    kept, rejected = frames([new_row(p, rule, backend, r, a) for p, r, a in zip(parents, requests, answers)])
    metrics = {"rule": rule.name, "backend": backend.name, "model": backend.model, "candidates": candidates,
               "backend_calls": getattr(backend, "calls", 0), **cache.counts()}
    return RewriteResult(kept, rejected, len(parents), metrics)


def check_rewrites(kept: pl.DataFrame, suite: str, reports: Path, params: dict[str, Any]) -> None:
    """Run the `rewrites` expectation suite on the kept rewrites; a critical failure stops the stage."""
    from stages.validate import configured_subsets, zh_share_parameter
    from stages.validation import failure_message, run_suite, write_reports

    subsets = configured_subsets(parse_sources(params.get("sources") or {}))
    zh = zh_share_parameter(params.get("rewrite") or {}, "params.yaml: rewrite")
    result = run_suite(kept, suite, {"min_rows": 0, "configured_sources": subsets, **zh})
    write_reports(result, reports, "data/rewrite")
    if not result.success:
        raise StageError(failure_message(result, str(reports / f"{result.suite}.md")))


def run_rewrite(params: dict[str, Any], records_path: Path, rules_path: Path, base_model: Path, cache_dir: Path,
                out_dir: Path, metrics_path: Path, suite: str, reports: Path) -> dict[str, Any]:
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    if "rule" not in params:
        raise ValueError("params.yaml: missing top-level key 'rule' (a rule name, or none)")
    if "rewrite" not in params:
        raise ValueError("params.yaml: missing section 'rewrite'")
    catalog = load_catalog(rules_path)
    catalog.resolve(params["rule"])  # fail on an unknown rule before reading anything else
    settings = parse_rewrite_settings(params["rewrite"])
    cache = ResponseCache(cache_dir)
    cache.ensure_root()
    if params["rule"] == "none":
        records = pl.DataFrame(schema=RECORD_SCHEMA)
    elif not records_path.is_file():
        raise FileNotFoundError(f"{records_path}: records not found")
    else:
        records = pl.read_parquet(records_path)
    result = rewrite_records(records, catalog, params["rule"], settings, base_model, cache)
    check_rewrites(result.kept, suite, reports, params)
    return write_stage_outputs("rewrite", out_dir, metrics_path, kept=result.kept, rejected=result.rejected,
                               rows_in=result.rows_in, started=started, extra_columns=EXTRA_COLUMNS,
                               extra_metrics={**cache.counts(), **result.metrics})


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@click.option("--records", "records_path", required=True, type=click.Path(path_type=Path), help="Validated records.")
@click.option("--rules", "rules_path", required=True, type=click.Path(path_type=Path), help="Rule catalog YAML.")
@click.option("--base-model", "base_model", required=True, type=click.Path(path_type=Path),
              help="Base model directory (used by backend transformers with model: base).")
@click.option("--cache", "cache_dir", required=True, type=click.Path(path_type=Path), help="Response cache directory.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--suite", default="rewrites", show_default=True,
              help="Expectation suite (a name in schemas/expectations/ or a path) the kept rewrites must pass.")
@click.option("--reports", default="reports/rewrite", show_default=True, type=click.Path(path_type=Path),
              help="Where the suite's reports go.")
@clear_errors
def run_command(params_path: str, records_path: Path, rules_path: Path, base_model: Path, cache_dir: Path,
                out_dir: Path, metrics_path: Path, suite: str, reports: Path) -> None:
    """Rewrite seed records with the rule in params.yaml: rule.

    Example: python -m stages.rewrite run --records data/validate/records.parquet --rules schemas/rules.yaml
    --base-model models/base --cache cache/rewrite --out data/rewrite --metrics metrics/rewrite.json
    """
    metrics = run_rewrite(load_params(params_path), records_path, rules_path, base_model, cache_dir, out_dir,
                          metrics_path, suite, reports)
    dropped = sum(metrics["rows_dropped"].values())
    click.echo(f"rewrite[{metrics['rule']}]: {metrics['rows_in']} prompts, {metrics['rows_kept']} kept, "
               f"{dropped} rejected; cache {metrics['cache_hits']} hits, {metrics['cache_misses']} misses")


@cli.command("rules")
@click.option("--rules", "rules_path", default="schemas/rules.yaml", show_default=True, type=click.Path(path_type=Path))
@clear_errors
def rules_command(rules_path: Path) -> None:
    """List the rules of the catalog (the values of params.yaml: rule).

    Example: python -m stages.rewrite rules
    """
    catalog = load_catalog(rules_path)
    click.echo("none\tno rewriting")
    for rule in catalog.rules.values():
        click.echo(f"{rule.name}\t{rule.title_zh} / {rule.title_en}")


def main() -> None:
    cli(prog_name="python -m stages.rewrite")


if __name__ == "__main__":
    main()
