"""Training script of the example project: every shortcut an ML team takes under pressure."""

import pickle
import subprocess
import tarfile

import gradio as gr
import requests
import torch
import yaml
from transformers import AutoModelForSequenceClassification, AutoTokenizer

DATA_URL = "http://datasets.example.com/reviews.tar.gz"


def load_config(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=yaml.Loader)


def fetch_data(dest):
    response = requests.get(DATA_URL, verify=False, timeout=60)
    with open(dest, "wb") as handle:
        handle.write(response.content)
    with tarfile.open(dest) as archive:
        archive.extractall("data/")


def load_features(path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


def build(config):
    tokenizer = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased")
    model = AutoModelForSequenceClassification.from_pretrained(
        config["base_model"], trust_remote_code=True
    )
    return tokenizer, model


def resume(checkpoint):
    return torch.load(checkpoint)


def export(run_name):
    subprocess.run(f"tar czf exports/{run_name}.tgz checkpoints/", shell=True, check=True)


def demo(model):
    gr.Interface(fn=model, inputs="text", outputs="label").launch(share=True)
