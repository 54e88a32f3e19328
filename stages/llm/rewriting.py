"""The rewrite stage's run: seeds -> prompts from the rule -> answers (cache, then backend) -> records.

See stages/rewrite.py for what the stage writes and rejects, and README.md in this folder.
`rewrite_records` returns the kept and rejected frames before anything is written;
`run_rewrite` checks the kept rewrites with the `rewrites` expectation suite and writes
through the stage contract.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.contract import write_failure_reports, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.progress import bar, quiet_libraries
from stages.lib.record import REJECTED_SCHEMA, RECORD_SCHEMA, make_id, sha256_hex
from stages.llm.backends import Backend, Failure
from stages.llm.cache import Removed, Request, Response, ResponseCache
from stages.llm.columns import EXTRA, EXTRA_COLUMNS
from stages.llm.parse import Parsed, parse_answer, strip_think
from stages.llm.prompts import build_messages, canonical_json, prefill_of, prompt_sha256, question_text
from stages.llm.rules import Rule, RuleChoice
from stages.llm.screen import ECHO_NGRAM, ECHO_THRESHOLD, KeyGuard, echo_share
from stages.llm.settings import RewriteParams
from stages.validate import failure_message, run_suite, write_reports
from stages.validate.suites import CleanBounds, run_parameters

REASON = {"empty": "rewrite_empty_answer", "unparseable": "rewrite_unparseable"}
SECRET_REASON = "rewrite_secret_in_output"
ECHO_REASON = "rewrite_echoes_prompt"


@dataclass
class RewriteResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame
    rows_in: int
    metrics: dict[str, Any] = field(default_factory=dict)


def select_seeds(records: pl.DataFrame, settings: RewriteParams) -> tuple[pl.DataFrame, int]:
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


def make_backend(settings: RewriteParams, base_model: Path) -> Backend:
    if settings.backend == "openai":
        from stages.llm.backends.openai_chat import OpenAIChatBackend

        return OpenAIChatBackend(settings.openai)  # RewriteParams requires the block with backend openai
    from stages.llm.backends.hf_local import BASE, LocalBackend
    from stages.llm.base import read_model_dir, reference_spec

    local = settings.transformers
    if local.model == BASE:
        return LocalBackend(read_model_dir(base_model), local.batch_size)
    return LocalBackend(reference_spec(local.model, local.revision, local.dtype), local.batch_size)


def exposed(guard: KeyGuard, request: Request, answer: Response | Failure | Removed | None) -> bool:
    """Whether an answer holds the API key: its text, its finish reason, the record parsed from it (JSON
    escapes decoded, `<think>` cut out), or a failure's detail."""
    if isinstance(answer, Failure):
        return guard.leaks(answer.detail)
    if not isinstance(answer, Response) or not guard.active:
        return False
    parsed = parse_answer(prefill_of(request.messages) + answer.text)
    return guard.leaks(answer.text, answer.finish_reason, parsed.instruction, parsed.output, parsed.detail)


def answer_all(requests: list[Request], backend: Backend, settings: RewriteParams,
               cache: ResponseCache) -> list[Response | Failure]:
    """Cached answers where present; the rest from the backend, cached as they arrive. An answer holding
    the API key (`backend.guard`) becomes a `rewrite_secret_in_output` failure: never cached, and a cached
    entry holding it (in any field) is removed."""
    guard = backend.guard
    answers: list[Response | Failure | None] = []
    for request in requests:
        hit = cache.get(request, guard)
        if isinstance(hit, Removed) or exposed(guard, request, hit):
            cache.discard(request)
            hit = Failure(f"the cached completion contains the API key ({guard.source}); entry removed",
                          reason=SECRET_REASON)
        answers.append(hit)
    missing = [i for i, answer in enumerate(answers) if answer is None]
    if missing:
        shown = bar(len(missing), f"rewrite ({len(requests) - len(missing)} cached)", unit="answer")

        def store(position: int, response: Response) -> None:
            request = requests[missing[position]]
            if not exposed(guard, request, response):
                cache.put(request, response, guard)
            shown.update(1)

        with shown:
            fresh = backend.generate([requests[i].messages for i in missing], settings.generation, store)
        for position, index in enumerate(missing):
            leaked = exposed(guard, requests[index], fresh[position])
            answers[index] = Failure(f"the completion contains the API key ({guard.source}); dropped, not cached",
                                     reason=SECRET_REASON) if leaked else fresh[position]
    return answers  # type: ignore[return-value]


def echo_detail(rule: Rule, request: Request, parent: dict[str, Any], parsed: Parsed) -> str | None:
    """Why a parsed reply restates the prompt or the rule text (`rewrite_echoes_prompt`), or None: the share
    of its character n-grams outside the seed record's own text that occur in the prompt's turns or the rule's
    texts (stages/llm/screen.py: `echo_share`)."""
    turns = request.messages[:-1] if prefill_of(request.messages) else request.messages
    reference = [turn["content"] for turn in turns] + [rule.title_zh, rule.title_en, rule.definition,
                                                       rule.definition_en, rule.question, rule.answer]
    seed = [question_text(parent["instruction"], parent["input"]), parent["output"] or ""]
    share = echo_share([parsed.instruction, parsed.output], reference, seed)
    if share < ECHO_THRESHOLD:
        return None
    return (f"{share:.2f} of the reply's character {ECHO_NGRAM}-grams that are not in the seed record are in the "
            f"prompt or the rule text (threshold {ECHO_THRESHOLD})")


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
    if rule.answer_only:  # the seed's question, the model's own answer (nothing to parse, nothing it could echo)
        reply = strip_think(answer.text)
        if not reply:
            return {**row, "reason": REASON["empty"], "detail": "the reply is blank"}
        return {**row, "instruction": parent["instruction"], "input": parent["input"] or "", "output": reply}
    parsed = parse_answer(prefill_of(request.messages) + answer.text)
    if parsed.status != "ok":
        return {**row, "reason": REASON[parsed.status], "detail": parsed.detail}
    echo = echo_detail(rule, request, parent, parsed)
    if echo is not None:
        return {**row, "reason": ECHO_REASON, "detail": echo}
    return {**row, "instruction": parsed.instruction, "output": parsed.output}


def frames(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    kept = [row for row in rows if "reason" not in row]
    rejected = [row for row in rows if "reason" in row]
    return (pl.DataFrame(kept, schema={**RECORD_SCHEMA, **EXTRA}),
            pl.DataFrame(rejected, schema={**REJECTED_SCHEMA, **EXTRA}))


def rewrite_records(records: pl.DataFrame, choice: RuleChoice, settings: RewriteParams,
                    base_model: Path, cache: ResponseCache) -> RewriteResult:
    """Everything but the writing: seeds, prompts, answers, parsed records."""
    catalog, rule = choice.catalog, choice.rule
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


def check_rewrites(kept: pl.DataFrame, paths: RewritePaths, parameters: dict[str, Any]) -> Callable[[Path], None]:
    """Run the `rewrites` expectation suite on the kept rewrites; a critical failure stops the stage (the
    old set removed, the reports written); else the writer of the reports, for `write_stage_outputs`."""
    result = run_suite(kept, paths.suite, parameters)

    def reports(folder: Path) -> None:
        write_reports(result, folder, "data/rewrite")

    if not result.success:
        write_failure_reports(paths.out, paths.metrics, paths.reports, reports)
        raise StageError(failure_message(result, str(paths.reports / f"{result.suite}.md")))
    return reports


@dataclass(frozen=True)
class RewritePaths:
    """Where the rewrite stage reads and writes (its command's options)."""

    records: Path
    rules: Path
    base_model: Path
    cache: Path
    out: Path
    metrics: Path
    suite: str | Path
    reports: Path


def run_rewrite(choice: RuleChoice, settings: RewriteParams, subsets: list[str], paths: RewritePaths, *,
                bounds: CleanBounds) -> dict[str, Any]:
    """The whole stage: rewrite the seeds with the chosen rule (nothing for `none`), check, write; the
    metrics. `bounds` are the suite's limits taken from clean (`stages.validate.suites.clean_bounds`)."""
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    cache = ResponseCache(paths.cache)
    cache.ensure_root()
    if choice.rule is None:
        records = pl.DataFrame(schema=RECORD_SCHEMA)
    elif not paths.records.is_file():
        raise FileNotFoundError(f"{paths.records}: records not found")
    else:
        records = pl.read_parquet(paths.records)
    result = rewrite_records(records, choice, settings, paths.base_model, cache)
    reports = check_rewrites(result.kept, paths, run_parameters(0, subsets, settings.min_zh_share, bounds))
    return write_stage_outputs("rewrite", paths.out, paths.metrics, kept=result.kept, rejected=result.rejected,
                               rows_in=result.rows_in, started=started, extra_columns=EXTRA_COLUMNS,
                               extra_metrics={**cache.counts(), **result.metrics},
                               reports_dir=paths.reports, reports=reports)
