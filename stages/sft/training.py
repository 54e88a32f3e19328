"""Fine-tuning with trl's SFTTrainer: dataset conversion, config, model card.

The chat records of `data/sft/*.jsonl` become conversational prompt-completion
examples (prompt = every turn but the last, completion = the assistant's
answer), so trl computes the loss on completion tokens only. Seeds, thread
count and deterministic algorithms are fixed, so on CPU two runs give the same
losses. `TrainParams` is the `train` section of params.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from stages.lib.params import NonNegativeInt, Params, PositiveInt, PositiveNumber, ShareBelowOne, as_number, check

# Used when a tokenizer has no chat template (e.g. a base model): renders each
# turn as "<|role|>\ncontent\n" and ends a prompt with "<|assistant|>\n", so the
# rendered prompt is always a prefix of prompt + completion.
DEFAULT_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _not_text(value: Any) -> int | float:
    if isinstance(value, str):  # YAML 1.1 reads 2e-05 (no dot) as a string
        raise PydanticCustomError("value_rule", "must be a positive number, got {got} (YAML reads 2e-05 as text: "
                                  "write 2.0e-05 or 0.00002)", {"got": repr(value)})
    return as_number(value)


LearningRate = Annotated[int | float, PlainValidator(_not_text), check(lambda v: v > 0, "a positive number")]
MaxSteps = Annotated[int, check(lambda v: v == -1 or v >= 1, "a positive integer or -1 (train for `epochs`)")]


class LoraParams(Params):
    """`train.lora`: a LoRA adapter instead of full fine-tuning (needs peft)."""

    enabled: bool = False
    r: PositiveInt = 16
    alpha: PositiveInt = 32
    dropout: ShareBelowOne = 0.05
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class TrainParams(Params, section="train"):
    """`train` in params.yaml (see the comments there)."""

    seed: NonNegativeInt = 42
    epochs: PositiveNumber = 1.0
    max_steps: MaxSteps = -1
    batch_size: PositiveInt = 4
    grad_accum: PositiveInt = 1
    learning_rate: LearningRate = 5e-4
    max_length: PositiveInt = 512
    packing: bool = False
    bf16: bool = False
    threads: PositiveInt = 2
    logging_steps: PositiveInt = 1
    lora: LoraParams = Field(default_factory=LoraParams)


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
              "train_params": params.model_dump()}
    final = f"{losses[-1][1]:.4f} at step {losses[-1][0]}" if losses else "n/a"
    return ("---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=True) + "---\n\n"
            "# SFT model\n\nFine-tuned by the cqia-sft-pipeline `train` stage (trl SFTTrainer, loss on completions "
            f"only).\nTraining data fingerprint: `{manifest.get('fingerprint')}` (see data/sft/manifest.json).\n"
            f"Final training loss: {final}.\n")


def quiet_progress(trainer: Any) -> None:
    """Replace the Trainer's printed log dicts and bar with our progress (steps, ETA, loss: stages.lib.progress)."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from stages.lib.progress import bar

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)

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
