"""Hugging Face artifacts: tiny random-weight models, tokenizers, a Trainer checkpoint, adapters.

Models are built from small configs (no download), saved with ``save_pretrained`` (safetensors,
also sharded) and, as transformers 4.x wrote them, as ``pytorch_model.bin`` state dicts
(``torch.save``, optionally sharded with an index). Tokenizers are built from vocabularies
written here: WordPiece, byte-level BPE, and SentencePiece models trained on a few lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.benign_real.base import Recorder

_TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "a tiny model learns nothing but writes real files",
    "hello world, this is a benign corpus for scanners",
    "tokenizers split text into pieces and ids",
    "pack my box with five dozen liquor jugs",
] * 20


def _configs() -> dict[str, Any]:
    import transformers as t

    small = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 37}
    return {
        "bert": t.BertConfig(num_hidden_layers=2, vocab_size=120, **small),
        "gpt2": t.GPT2Config(
            n_layer=2,
            n_embd=32,
            n_head=2,
            vocab_size=120,
            n_positions=64,
            bos_token_id=0,
            eos_token_id=0,
        ),
        "t5": t.T5Config(d_model=32, d_ff=37, num_layers=2, num_heads=2, d_kv=8, vocab_size=120),
        "vit": t.ViTConfig(num_hidden_layers=2, image_size=32, patch_size=8, **small),
        "llama": t.LlamaConfig(num_hidden_layers=2, num_key_value_heads=1, vocab_size=120, **small),
        "distilbert": t.DistilBertConfig(
            n_layers=2, dim=32, n_heads=2, hidden_dim=37, vocab_size=120
        ),
        "roberta": t.RobertaConfig(num_hidden_layers=2, vocab_size=120, **small),
        "mistral": t.MistralConfig(
            num_hidden_layers=2, num_key_value_heads=1, vocab_size=120, **small
        ),
        "whisper": t.WhisperConfig(
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=37,
            decoder_ffn_dim=37,
            vocab_size=120,
            num_mel_bins=8,
            max_source_positions=16,
            max_target_positions=16,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=0,
            decoder_start_token_id=2,
            suppress_tokens=[],
            begin_suppress_tokens=[],
        ),
        "clip": t.CLIPConfig(
            text_config={
                "hidden_size": 32,
                "intermediate_size": 37,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "vocab_size": 120,
                "pad_token_id": 1,
                "bos_token_id": 0,
                "eos_token_id": 2,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 37,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 8,
            },
            projection_dim=16,
        ),
    }


def _models() -> dict[str, Any]:
    import torch
    import transformers as t

    torch.manual_seed(0)
    c = _configs()
    return {
        "bert": t.BertForSequenceClassification(c["bert"]),
        "gpt2": t.GPT2LMHeadModel(c["gpt2"]),
        "t5": t.T5ForConditionalGeneration(c["t5"]),
        "vit": t.ViTForImageClassification(c["vit"]),
        "llama": t.LlamaForCausalLM(c["llama"]),
        "distilbert": t.DistilBertForMaskedLM(c["distilbert"]),
        "roberta": t.RobertaForTokenClassification(c["roberta"]),
        "mistral": t.MistralForCausalLM(c["mistral"]),
        "whisper": t.WhisperForConditionalGeneration(c["whisper"]),
        "clip": t.CLIPModel(c["clip"]),
    }


def _legacy_bin(model: Any, out: Path, shards: int = 1) -> None:
    """Write ``pytorch_model.bin`` (or shards and an index) as transformers 4.x did."""
    import torch

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if shards == 1:
        torch.save(state, out / "pytorch_model.bin")
        return
    keys = sorted(state)
    per = -(-len(keys) // shards)
    weight_map: dict[str, str] = {}
    for i in range(shards):
        name = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        part = {k: state[k] for k in keys[i * per : (i + 1) * per]}
        torch.save(part, out / name)
        weight_map.update(dict.fromkeys(part, name))
    size = sum(v.numel() * v.element_size() for v in state.values())
    index = {"metadata": {"total_size": size}, "weight_map": weight_map}
    (out / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))


def generate_models(rec: Recorder) -> None:
    """save_pretrained (safetensors) and legacy .bin of ten architectures."""
    for name, model in _models().items():
        st = rec.path(f"models/{name}-safetensors")
        model.save_pretrained(st)
        rec.add(f"models/{name}-safetensors", "transformers", "hf-dir-safetensors")
        legacy = rec.path(f"models/{name}-bin")
        legacy.mkdir(exist_ok=True)
        model.config.save_pretrained(legacy)
        _legacy_bin(model, legacy, shards=2 if name in {"llama", "t5"} else 1)
        rec.add(f"models/{name}-bin", "transformers", "hf-dir-pytorch-bin")
    sharded = rec.path("models/gpt2-sharded")
    _models()["gpt2"].save_pretrained(sharded, max_shard_size="100KB")
    rec.add("models/gpt2-sharded", "transformers", "hf-dir-safetensors-sharded")


def generate_whole_module(rec: Recorder) -> None:
    """``torch.save(model)`` of a transformers model, as many notebooks do."""
    import torch
    import transformers as t

    model = t.BertModel(_configs()["bert"])
    torch.save(model, rec.path("whole/bert-model.pt"))
    rec.add("whole/bert-model.pt", "transformers", "torch-whole-module")
    torch.save(_configs()["gpt2"], rec.path("whole/gpt2-config.pt"))
    rec.add("whole/gpt2-config.pt", "transformers", "torch-pickled-config")


def _wordpiece_vocab(path: Path) -> None:
    words = sorted({w.strip(",.") for line in _TEXT for w in line.split()})
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = sorted({f"##{w[i:]}" for w in words for i in range(1, len(w))})[:60]
    path.write_text("\n".join(special + words + list("abcdefghijklmnopqrstuvwxyz") + pieces))


def _train_spm(prefix: Path, model_type: str) -> Path:
    import sentencepiece as spm

    corpus = prefix.with_suffix(".txt")
    corpus.write_text("\n".join(_TEXT))
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=60,
        model_type=model_type,
        character_coverage=1.0,
        minloglevel=2,
        bos_id=1,
        eos_id=2,
        unk_id=0,
        pad_id=3,
    )
    corpus.unlink()
    (prefix.with_suffix(".vocab")).unlink()
    return prefix.with_suffix(".model")


def generate_tokenizers(rec: Recorder, scratch: Path) -> None:
    """Fast and slow tokenizers of four families, saved with save_pretrained."""
    import transformers as t
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    vocab = scratch / "vocab.txt"
    _wordpiece_vocab(vocab)
    for cls in (t.BertTokenizer, t.BertTokenizerFast):
        tok = cls(vocab_file=str(vocab))
        out = f"tokenizers/{cls.__name__.lower()}"
        tok.save_pretrained(rec.path(out))
        rec.add(out, "transformers", "tokenizer")

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<unk>"])
    bpe.train_from_iterator(_TEXT, trainer)
    bpe.save(str(rec.path("tokenizers/raw-bpe/tokenizer.json")))
    rec.add("tokenizers/raw-bpe", "tokenizers", "tokenizer-json")
    bpe.model.save(str(scratch))
    gpt2 = t.GPT2TokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    gpt2.save_pretrained(rec.path("tokenizers/gpt2-fast"))
    rec.add("tokenizers/gpt2-fast", "transformers", "tokenizer")

    for kind, cls in (("unigram", t.T5Tokenizer), ("bpe", t.LlamaTokenizer)):
        spm_model = _train_spm(scratch / f"spm-{kind}", kind)
        tok = (
            cls(vocab_file=str(spm_model), extra_ids=0)
            if kind == "unigram"
            else cls(vocab_file=str(spm_model))
        )
        if kind == "bpe":
            tok.chat_template = (
                "{% for message in messages %}{{ bos_token + '[INST] ' + message['content'] "
                "+ ' [/INST]' if message['role'] == 'user' else message['content'] + eos_token }}"
                "{% endfor %}"
            )
        out = f"tokenizers/{cls.__name__.lower()}-{kind}"
        tok.save_pretrained(rec.path(out))
        rec.add(out, "transformers", "tokenizer-sentencepiece")
        rec.path(f"sentencepiece/{kind}.model").write_bytes(spm_model.read_bytes())
        rec.add(f"sentencepiece/{kind}.model", "sentencepiece", "spm-model")


def generate_trainer(rec: Recorder) -> None:
    """A three-step Trainer run that writes a full checkpoint directory."""
    import torch
    import transformers as t

    torch.manual_seed(0)
    model = t.BertForSequenceClassification(_configs()["bert"])
    rows = [
        {
            "input_ids": torch.randint(5, 120, (12,)),
            "attention_mask": torch.ones(12, dtype=torch.long),
            "labels": torch.tensor(i % 2),
        }
        for i in range(12)
    ]
    args = t.TrainingArguments(
        output_dir=str(rec.path("trainer/run")),
        max_steps=3,
        save_steps=3,
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        learning_rate=1e-3,
        lr_scheduler_type="cosine",
        warmup_steps=1,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = t.Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    trainer.save_model(str(rec.path("trainer/final")))
    rec.add("trainer/run", "transformers", "trainer-checkpoint")
    rec.add("trainer/final", "transformers", "trainer-save-model")


def generate_peft(rec: Recorder) -> None:
    """LoRA adapters saved by peft (safetensors and .bin)."""
    import peft
    import torch
    import transformers as t

    base = t.LlamaForCausalLM(_configs()["llama"])
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    model = peft.get_peft_model(base, lora)
    model.save_pretrained(rec.path("peft/lora"))
    rec.add("peft/lora", "peft", "adapter-safetensors")
    legacy = rec.path("peft/lora-bin")
    legacy.mkdir(exist_ok=True)
    model.peft_config["default"].save_pretrained(str(legacy))
    state = peft.get_peft_model_state_dict(model)
    torch.save(state, legacy / "adapter_model.bin")
    rec.add("peft/lora-bin", "peft", "adapter-bin")


def generate_sentence_transformers(rec: Recorder) -> None:
    """A sentence-transformers model assembled from a local tiny BERT."""
    import sentence_transformers as st
    import transformers as t

    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models as modules

    scratch = rec.root.parent / f"{rec.root.name}-scratch-st"
    bert_dir = scratch / "bert"
    t.BertModel(_configs()["bert"]).save_pretrained(bert_dir)
    vocab = bert_dir / "vocab.txt"
    _wordpiece_vocab(vocab)
    t.BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(bert_dir)
    word = modules.Transformer(str(bert_dir), max_seq_length=16)
    pool = modules.Pooling(word.get_word_embedding_dimension(), "mean")
    dense = modules.Dense(32, 8)
    model = st.SentenceTransformer(modules=[word, pool, dense, modules.Normalize()])
    model.save(str(rec.path("sentence-transformers/minilm-like")))
    rec.add("sentence-transformers/minilm-like", "sentence-transformers", "st-dir")


def generate(rec: Recorder) -> None:
    """Every Hugging Face artifact of this module."""
    scratch = rec.root.parent / f"{rec.root.name}-scratch"
    scratch.mkdir(exist_ok=True)
    generate_models(rec)
    generate_whole_module(rec)
    generate_tokenizers(rec, scratch)
    generate_trainer(rec)
    generate_peft(rec)
    generate_sentence_transformers(rec)
