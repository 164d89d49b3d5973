"""GGUF files written with the ``gguf`` package, and Hugging Face tokenizer files, carrying chat
templates: the prompt formats of popular model families (written here, in ``templates/``) and
the templates the installed transformers itself ships as defaults (read from its source with
``ast``, never imported or rendered).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

from tests.benign_real.base import Recorder

_TEMPLATES = Path(__file__).parent / "templates"


def _written_templates() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(_TEMPLATES.glob("*.jinja"))}


def _literal_strings(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value


def _looks_like_template(text: str) -> bool:
    """A whole chat template (not prose mentioning one): opens with a tag, loops on messages."""
    opening = text.lstrip().startswith(("{%", "{{", "{#", "<|"))
    return opening and "messages" in text and "endfor" in text and len(text) > 120


def shipped_templates(limit: int = 12) -> dict[str, str]:
    """Chat templates found as string constants in the installed transformers' source."""
    import transformers

    root = Path(transformers.__file__).parent
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        if "messages" not in path.read_text(encoding="utf-8", errors="replace"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for text in _literal_strings(tree):
            if _looks_like_template(text):
                found[f"{path.parent.name}-{path.stem}"] = text
                break
        if len(found) >= limit:
            break
    return found


def _write_gguf(path: Path, template: str, extra: dict[str, str], model: str) -> None:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"tiny-{model}")
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_feed_forward_length(16)
    writer.add_head_count(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    tokens = ["<unk>", "<s>", "</s>", *[f"tok{i}" for i in range(29)]]
    writer.add_tokenizer_model("llama" if model != "gpt2" else "gpt2")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([2, 3, 3] + [1] * (len(tokens) - 3))
    if model == "gpt2":
        writer.add_token_merges(["t o", "to k"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template(template)
    for name, text in extra.items():
        writer.add_string(f"tokenizer.chat_template.{name}", text)
    rng = np.random.default_rng(5)
    writer.add_tensor("token_embd.weight", rng.standard_normal((32, 8)).astype(np.float16))
    writer.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    q = gguf.quants.quantize(
        rng.standard_normal((8, 32)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0
    )
    writer.add_tensor("blk.0.ffn_up.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def generate(rec: Recorder) -> None:
    """One GGUF and one tokenizer_config.json per template; named templates in one GGUF."""
    written = _written_templates()
    shipped = shipped_templates()
    for name, template in {**written, **{f"hf-{k}": v for k, v in shipped.items()}}.items():
        _write_gguf(
            rec.path(f"gguf/{name}.gguf"), template, {}, "gpt2" if "chatml" in name else "llama"
        )
        rec.add(f"gguf/{name}.gguf", "gguf", "gguf")
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "model_max_length": 4096,
            "chat_template": template,
        }
        rec.path(f"hf/{name}/tokenizer_config.json").write_text(json.dumps(config, indent=2))
        rec.path(f"hf/{name}/chat_template.jinja").write_text(template)
        rec.add(f"hf/{name}", "transformers", "tokenizer-config")
    extra = {"tool_use": written["llama3_tools"], "rag": written["command_r_tools"]}
    _write_gguf(rec.path("gguf/named-templates.gguf"), written["chatml_tools"], extra, "gpt2")
    rec.add("gguf/named-templates.gguf", "gguf", "gguf-named-templates")
    listed = {
        "chat_template": [
            {"name": "default", "template": written["mistral"]},
            {"name": "tool_use", "template": written["chatml_tools"]},
        ]
    }
    rec.path("hf/list/chat_template.json").write_text(json.dumps(listed))
    rec.add("hf/list", "transformers", "chat-template-json")
