"""params.yaml survives `dvc exp run -S`: DVC rewrites only the line it sets (no style churn)."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml
from tests.project import project

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("override, changed", [
    ("rule=blurring_boundaries", ["rule: blurring_boundaries"]),
    ("rule=none", []),
    ("sources.cqia_zhihu.fetched_at=2026-11-02", ["    fetched_at: '2026-11-02'"]),
    ("train_quality.min_quality=0.5", ["  min_quality: 0.5            # score_quality < min_quality; null = off "
                                       "(needs enabled: true) [quality_low]"]),
    ("train.lora.r=8", ["    r: 8"]),
    ("model.tiny.pretrain_steps=10", ["    pretrain_steps: 10"]),
])
def test_dvc_set_param_changes_only_that_line(tmp_path, override, changed):
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` calls on params.yaml

    target = tmp_path / "params.yaml"
    shutil.copy2(project() / "params.yaml", target)
    apply_overrides(str(target), [override])
    before = (project() / "params.yaml").read_text(encoding="utf-8").splitlines()
    after = target.read_text(encoding="utf-8").splitlines()
    added = [line[1:] for line in difflib.unified_diff(before, after, lineterm="", n=0)
             if line.startswith("+") and not line.startswith("+++")]
    assert added == changed
    assert len(after) == len(before)  # no comment dropped, no line reflowed


def test_params_file_keeps_its_documented_values():
    params = yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))
    assert params["train_quality"]["min_quality"] is None and params["model"]["revision"] is None
    assert params["sources"]["cqia_zhihu"]["fetched_at"] == "2026-11-01"  # a string, not a date
    assert params["train"]["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
