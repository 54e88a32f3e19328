"""Fine-tuning with trl's SFTTrainer: dataset conversion, config, model card.

The chat records of `data/sft/*.jsonl` become conversational prompt-completion
examples (prompt = every turn but the last, completion = the assistant's
answer), so trl computes the loss on completion tokens only. Seeds, thread
count and deterministic algorithms are fixed, so on CPU two runs give the same
losses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Used when a tokenizer has no chat template (e.g. a base model): renders each
# turn as "<|role|>\ncontent\n" and ends a prompt with "<|assistant|>\n", so the
# rendered prompt is always a prefix of prompt + completion.
DEFAULT_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class LoraParams:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass(frozen=True)
class TrainParams:
    seed: int = 42
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float = 5e-4
    max_length: int = 512
    packing: bool = False
    bf16: bool = False
    threads: int = 2
    logging_steps: int = 1
    lora: LoraParams = field(default_factory=LoraParams)


def read_chat_jsonl(path: Path) -> list[dict[str, Any]]:
    """prompt-completion examples from a chat JSONL file written by `assemble`."""
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            examples.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return examples


def sft_config(params: TrainParams, output_dir: Path, use_cpu: bool):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        seed=params.seed,
        data_seed=params.seed,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.grad_accum,
        learning_rate=params.learning_rate,
        max_length=params.max_length,
        packing=params.packing,
        bf16=params.bf16,
        use_cpu=use_cpu,
        completion_only_loss=True,
        logging_steps=params.logging_steps,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
        full_determinism=use_cpu,
        activation_checkpointing=True,  # trl's default, under its new name (the old one warns)
    )


def lora_config(params: LoraParams):
    """A peft LoraConfig when enabled (needs `pip install peft`), else None."""
    if not params.enabled:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ValueError("params.yaml: train.lora.enabled needs the 'peft' package: pip install peft") from None
    return LoraConfig(r=params.r, lora_alpha=params.alpha, lora_dropout=params.dropout,
                      target_modules=params.target_modules, task_type="CAUSAL_LM")


def loss_history(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]


def model_card(base: str, manifest: dict[str, Any], params: TrainParams, losses: list[tuple[int, float]]) -> str:
    import yaml

    header = {"base_model": base, "library_name": "transformers", "tags": ["sft", "trl", "cqia-sft-pipeline"],
              "dataset_fingerprint": manifest.get("fingerprint"), "dataset_counts": manifest.get("counts"),
              "train_params": _plain(params)}
    final = f"{losses[-1][1]:.4f} at step {losses[-1][0]}" if losses else "n/a"
    return ("---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=True) + "---\n\n"
            "# SFT model\n\nFine-tuned by the cqia-sft-pipeline `train` stage (trl SFTTrainer, loss on completions "
            f"only).\nTraining data fingerprint: `{manifest.get('fingerprint')}` (see data/sft/manifest.json).\n"
            f"Final training loss: {final}.\n")


def _plain(params: TrainParams) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(params)


def quiet_progress(trainer: Any) -> None:
    """Replace the Trainer's printed log dicts with one bar (steps, ETA, loss) on a terminal, nothing elsewhere."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from stages.lib.progress import bar, enabled

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if not enabled():
        return

    class LossBar(TrainerCallback):
        shown: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.shown = bar(state.max_steps, "train", unit="step")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.shown.update(state.global_step - self.shown.n)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if self.shown is not None and logs and "loss" in logs:
                self.shown.set_postfix(loss=f"{logs['loss']:.4f}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.shown.close()

    trainer.add_callback(LossBar())
