"""The tiny offline base model: a real Qwen2 architecture at toy size.

`build_tiny` trains a byte-level BPE tokenizer (the `tokenizers` library) on the
given texts, initialises a `Qwen2ForCausalLM` from `torch.manual_seed(seed)`,
optionally runs a few steps of next-token training on the same texts (so that
perplexities differ between sources instead of all sitting near the vocabulary
size), and saves both with `save_pretrained`. Same texts, settings and seed
give byte-identical files (tested), when run with the same torch build and one
CPU thread.

The tokenizer has a ChatML-style chat template (`<|im_start|>role ... <|im_end|>`)
whose assistant turn is wrapped in `{% generation %}` markers, so trl's
`assistant_only_loss` and `apply_chat_template(..., return_assistant_tokens_mask=True)`
work, with the end-of-turn token inside the mask. The model is not a language
model in any useful sense: what it generates is noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from stages.lib.params import NonNegativeInt, Params, PositiveInt, PositiveNumber, check
from stages.lib.progress import progress

PAD, BOS_TURN, EOS_TURN = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


class TinyParams(Params):
    """`params.yaml: model.tiny`: the tiny model's sizes and its few steps of pre-training."""

    vocab_size: Annotated[int, check(lambda v: v >= 300, "at least 300 (256 bytes + special tokens)")] = 3000
    hidden_size: PositiveInt = 64
    num_layers: PositiveInt = 2
    num_heads: PositiveInt = 4
    num_kv_heads: PositiveInt = 2
    intermediate_size: PositiveInt = 128
    max_position_embeddings: PositiveInt = 2048
    pretrain_steps: NonNegativeInt = 0
    pretrain_batch_size: PositiveInt = 8
    pretrain_max_length: PositiveInt = 128
    learning_rate: PositiveNumber = 3e-3

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyParams:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise PydanticCustomError("value_rule", "hidden_size must divide by num_heads, num_heads by num_kv_heads")
        return self


def train_tokenizer(texts: Sequence[str], vocab_size: int, max_length: int) -> Any:
    """A byte-level BPE tokenizer wrapped for transformers, with pad/eos and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS_TURN, EOS_TURN],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS_TURN, pad_token=PAD,
                                   chat_template=CHAT_TEMPLATE, model_max_length=max_length)


def init_model(tokenizer: Any, settings: TinyParams, seed: int) -> Any:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=settings.hidden_size, intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers, num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_kv_heads, max_position_embeddings=settings.max_position_embeddings,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(do_sample=False, eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    return model


def pretrain(model: Any, tokenizer: Any, texts: Sequence[str], settings: TinyParams, seed: int) -> list[float]:
    """A few AdamW steps of next-token loss on `texts` in fixed order; returns the losses."""
    import torch

    if settings.pretrain_steps == 0 or not texts:
        return []
    encoded = [ids[: settings.pretrain_max_length] for ids in tokenizer(list(texts), verbose=False)["input_ids"]
               if len(ids) > 1]
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    model.train()
    losses = []
    for _ in progress(range(settings.pretrain_steps), desc="base_model: pretrain", unit="step"):
        picks = torch.randint(len(encoded), (settings.pretrain_batch_size,), generator=generator).tolist()
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in picks]}, return_tensors="pt")
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(round(loss.item(), 4))
    model.eval()
    return losses


def build_tiny(texts: Sequence[str], settings: TinyParams, seed: int, out_dir: str | Path) -> list[float]:
    """Train the tokenizer, build (and optionally pre-train) the model, save both to `out_dir`."""
    out_dir = Path(out_dir)
    if not texts:
        raise ValueError("model.base: tiny needs text to train its tokenizer, but the records are empty")
    tokenizer = train_tokenizer(texts, settings.vocab_size, settings.max_position_embeddings)
    model = init_model(tokenizer, settings, seed)
    losses = pretrain(model, tokenizer, texts, settings, seed)
    from transformers.utils import logging

    logging.disable_progress_bar()
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return losses
