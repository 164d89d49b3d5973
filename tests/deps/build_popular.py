"""Regenerate ``src/bastion/scan/deps/popular.py`` from a PyPI download ranking (run by hand).

    python tests/deps/build_popular.py /work/.library/env/packages/pypi.tsv

The input is a tab-separated list with a header and the columns ``name`` and
``rank_among_15000_most_downloaded`` (empty for packages outside the 15,000 most downloaded).

* ``TARGETS``: the hand-picked ML, data and ML-infrastructure packages below that are among the
  15,000 most downloaded, most downloaded first (what typosquatters imitate). NVIDIA's CUDA
  wheels (``nvidia-*-cu12``) are left out: NVIDIA itself publishes dozens of near-identical
  names (``-cu11``, ``-cu115``, ``cublasmp``…), which would all look like squats.
* ``LEGITIMATE_NEIGHBOURS``: every other top-15,000 name the matcher would take for a squat of a
  target (``scapy`` next to ``scipy``, ``panda`` next to ``pandas``): popular in its own right,
  so never flagged. Known confusions (``sklearn``…) are reported whatever their rank.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "src" / "bastion" / "scan" / "deps" / "popular.py"

CANDIDATES = """
numpy pandas scipy scikit-learn torch torchvision torchaudio torchtext tensorflow tensorflow-cpu
tensorflow-estimator tensorflow-io tensorflow-io-gcs-filesystem tensorflow-hub tensorflow-datasets
tensorflow-probability tensorflow-text tensorflow-serving-api tensorflow-addons tensorflow-intel
tensorboard tensorboard-data-server tensorboard-plugin-wit tensorboardx tf-keras keras
keras-preprocessing keras-applications keras-tuner keras-nightly jax jaxlib flax optax
orbax-checkpoint chex transformers tokenizers datasets huggingface-hub accelerate diffusers
safetensors peft trl evaluate sentence-transformers sentencepiece timm bitsandbytes deepspeed
xformers vllm triton onnx onnxruntime onnxruntime-gpu onnxconverter-common skl2onnx tf2onnx
openvino tensorrt optimum xgboost lightgbm catboost statsmodels matplotlib seaborn plotly bokeh
altair polars pyarrow dask distributed ray modin numba numexpr bottleneck sympy networkx
scikit-image opencv-python opencv-python-headless opencv-contrib-python
opencv-contrib-python-headless pillow imageio imageio-ffmpeg albumentations kornia nltk spacy
gensim textblob langchain langchain-core langchain-community langchain-openai
langchain-text-splitters langsmith langgraph llama-index openai anthropic tiktoken cohere
google-generativeai google-genai mistralai groq litellm ollama gradio streamlit dash mlflow
mlflow-skinny wandb comet-ml clearml dvc optuna hyperopt scikit-optimize shap lime captum
pytorch-lightning lightning torchmetrics fastai einops joblib cloudpickle dill h5py tables zarr
netcdf4 xarray pyspark koalas findspark great-expectations pandera pydantic tqdm ipython jupyter
jupyterlab notebook ipykernel ipywidgets nbformat nbconvert papermill faiss-cpu faiss-gpu
chromadb pinecone-client pinecone weaviate-client qdrant-client pymilvus annoy hnswlib rapidfuzz
fuzzywuzzy jieba transformers-stream-generator auto-gptq llama-cpp-python ctransformers
torch-geometric torch-scatter dgl mxnet paddlepaddle cupy-cuda12x pycocotools ultralytics mmcv mmdet
segment-anything open-clip-torch ftfy regex protobuf grpcio absl-py ml-dtypes flatbuffers gast
astunparse opt-einsum wrapt termcolor libclang h5netcdf openpyxl xlrd xlsxwriter pyxlsb
fastparquet sqlalchemy duckdb psycopg2 psycopg2-binary pymongo redis boto3 s3fs gcsfs adlfs
fsspec requests urllib3 pyyaml jinja2 fastapi uvicorn starlette flask django bentoml kserve
tritonclient coremltools tflite-runtime tensorflow-model-optimization tensorflow-metadata
tensorflow-transform apache-beam kfp sagemaker azureml-core google-cloud-aiplatform
google-cloud-bigquery vertexai category-encoders imbalanced-learn scikit-learn-intelex mlxtend
umap-learn hdbscan pynndescent prophet pmdarima sktime darts statsforecast neuralprophet tsfresh
featuretools librosa soundfile audioread openai-whisper speechbrain pydub moviepy av decord
torchsde gym gymnasium stable-baselines3 pettingzoo mujoco pybullet tensordict torchrl torchdata
torch-model-archiver pyod pymc arviz pystan cmdstanpy emcee lifelines pgmpy hmmlearn nevergrad
bayesian-optimization deap pygad autogluon h2o pycaret flaml evidently alibi-detect whylogs
fairlearn cleanlab snorkel label-studio fiftyone supervision roboflow pytesseract easyocr
paddleocr layoutparser unstructured pypdf pdfplumber pymupdf python-docx beautifulsoup4 lxml
html5lib scrapy selenium playwright nest-asyncio aiohttp httpx tenacity backoff rich typer click
loguru python-dotenv omegaconf hydra-core ml-collections gin-config fire jsonargparse tensorstore
pytorch-metric-learning xxhash multiprocess cryptography certifi setuptools packaging
python-dateutil
"""


def _rankings(tsv: Path) -> dict[str, int]:
    ranks: dict[str, int] = {}
    with tsv.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t"):
            rank = (row.get("rank_among_15000_most_downloaded") or "").strip()
            if rank:
                ranks[row["name"].strip().lower().replace("_", "-").replace(".", "-")] = int(rank)
    return ranks


def _format(values: list[str], indent: int) -> str:
    lines, line = [], " " * (indent - 1)
    for value in values:
        item = f' "{value}",'
        if len(line) + len(item) > 99:
            lines.append(line)
            line = " " * (indent - 1)
        line += item
    lines.append(line)
    return "\n".join(lines)


def main(tsv: Path) -> None:
    """Write popular.py from the ranking."""
    sys.path.insert(0, str(ROOT / "src"))
    from bastion.scan.deps.typosquat import CONFUSION_TARGETS, KNOWN_CONFUSIONS, match_target

    ranks = _rankings(tsv)
    wanted = set(CANDIDATES.split())
    targets = sorted((n for n in wanted if n in ranks), key=lambda n: ranks[n])
    target_set = set(targets)
    neighbours = sorted(
        name
        for name in ranks
        if name not in target_set
        and name not in KNOWN_CONFUSIONS
        and any(match_target(name, t) is not None for t in (*targets, *CONFUSION_TARGETS))
    )
    missing = sorted(wanted - target_set)
    OUTPUT.write_text(
        '"""Data for the typosquat check, generated by tests/deps/build_popular.py '
        "(do not edit).\n\n"
        f"{len(targets)} ML, data and ML-infrastructure packages among PyPI's 15,000 most\n"
        "downloaded, most downloaded first, and the "
        f"{len(neighbours)} other top-15,000 names that sit close\n"
        'to one of them (popular in their own right, so never reported as squats).\n"""\n\n'
        "# fmt: off\n"
        "TARGETS: tuple[str, ...] = (\n"
        f"{_format(targets, 4)}\n)\n"
        "TARGET_SET: frozenset[str] = frozenset(TARGETS)\n"
        "LEGITIMATE_NEIGHBOURS: frozenset[str] = frozenset(\n    {\n"
        f"{_format(neighbours, 8)}\n    }}\n)\n# fmt: on\n",
        encoding="utf-8",
    )
    print(f"{len(targets)} targets, {len(neighbours)} neighbours; not ranked: {missing}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
