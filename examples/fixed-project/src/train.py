"""Training script of the example project, with each shortcut of the vulnerable version fixed."""

import hashlib
import json
import subprocess
import tarfile

import requests
import torch
import yaml
from transformers import AutoModelForSequenceClassification, AutoTokenizer

DATA_URL = "https://datasets.example.com/reviews.tar.gz"
DATA_SHA256 = "9b74c9897bac770ffc029102a200c5de0fe7c5a3b1c6b2c2a6d1e8f7f1a2b3c4"
BASE_MODEL = "distilbert/distilbert-base-uncased"
BASE_REVISION = "12040accade4e8a0f71eabdb258fecc2e7e948be"


def load_config(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def fetch_data(dest):
    response = requests.get(DATA_URL, timeout=60)
    response.raise_for_status()
    if hashlib.sha256(response.content).hexdigest() != DATA_SHA256:
        raise ValueError("dataset digest mismatch")
    with open(dest, "wb") as handle:
        handle.write(response.content)
    with tarfile.open(dest) as archive:
        archive.extractall("data/", filter="data")


def load_features(path):
    with open(path) as handle:
        return json.load(handle)


def build():
    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL, revision=BASE_REVISION)
    model = AutoModelForSequenceClassification.from_pretrained(
        BASE_MODEL, revision=BASE_REVISION
    )
    return tokenizer, model


def resume(checkpoint):
    return torch.load(checkpoint, weights_only=True)


def export(run_name):
    subprocess.run(["tar", "czf", f"exports/{run_name}.tgz", "checkpoints/"], check=True)
