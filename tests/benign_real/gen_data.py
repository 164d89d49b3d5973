"""Data objects ML projects save beside models: pandas objects of every dtype (pickled and in
columnar formats), NumPy arrays, SciPy sparse matrices, ``joblib.Memory`` caches, Optuna
studies, gensim and NLTK objects, and Hugging Face ``datasets`` saved to disk.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

from tests.benign_real.base import Recorder


def _frame() -> Any:
    import numpy as np
    import pandas as pd

    n = 6
    return pd.DataFrame(
        {
            "int64": np.arange(n),
            "int8": np.arange(n, dtype="int8"),
            "uint32": np.arange(n, dtype="uint32"),
            "float32": np.linspace(0, 1, n, dtype="float32"),
            "bool": [True, False] * 3,
            "object": ["a", 1, None, 2.5, "b", (1, 2)],
            "string": pd.array(list("abcdef"), dtype="string"),
            "string_pyarrow": pd.array(list("abcdef"), dtype="string[pyarrow]"),
            "category": pd.Categorical(list("xyzxyz")),
            "ordered": pd.Categorical(list("lmhlmh"), categories=list("lmh"), ordered=True),
            "Int64": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "boolean": pd.array([True, None, False, True, None, False], dtype="boolean"),
            "Float64": pd.array([1.5, None, 2.5, 3.5, 4.5, None], dtype="Float64"),
            "datetime": pd.date_range("2024-01-01", periods=n, freq="D"),
            "datetime_tz": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
            "timedelta": pd.to_timedelta(np.arange(n), unit="s"),
            "period": pd.period_range("2024-01", periods=n, freq="M"),
            "interval": pd.interval_range(0, n),
            "sparse": pd.arrays.SparseArray([0, 0, 1, 0, 2, 0]),
            "complex": np.arange(n) + 1j,
            "bytes": [b"x", b"y", b"z", b"", b"\x00", b"w"],
        }
    )


def generate_pandas(rec: Recorder) -> None:
    """DataFrames, Series and indexes, pickled (every protocol) and in columnar files."""
    import numpy as np
    import pandas as pd

    frame = _frame()
    for protocol in (2, 4, 5):
        frame.to_pickle(rec.path(f"pandas/frame.p{protocol}.pkl"), protocol=protocol)
        rec.add(f"pandas/frame.p{protocol}.pkl", "pandas", f"pickle-p{protocol}")
    frame.to_pickle(rec.path("pandas/frame.pkl.gz"), compression="gzip")
    rec.add("pandas/frame.pkl.gz", "pandas", "pickle-gzip")
    frame.to_pickle(rec.path("pandas/frame.pkl.xz"), compression="xz")
    rec.add("pandas/frame.pkl.xz", "pandas", "pickle-xz")
    multi = pd.DataFrame(
        np.arange(12).reshape(4, 3),
        index=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"]),
        columns=pd.Index(["x", "y", "z"], name="col"),
    )
    objects = {
        "multiindex": multi,
        "series_tz": pd.Series(pd.date_range("2024", periods=3, tz="UTC"), name="t"),
        "range_index": pd.RangeIndex(0, 10, 2),
        "categorical_index": pd.CategoricalIndex(list("aab")),
        "interval_index": pd.IntervalIndex.from_breaks([0, 1, 2]),
        "timestamp": pd.Timestamp("2024-02-29 12:00", tz="US/Eastern"),
        "timedelta": pd.Timedelta("1 day 2 hours"),
        "period": pd.Period("2024Q1"),
        "nat": pd.NaT,
        "offset": pd.offsets.BusinessDay(3),
        "grouped_stats": frame.groupby("category", observed=True)["float32"].agg(["mean", "max"]),
        "styler_free_describe": frame[["int64", "float32"]].describe(),
    }
    with open(rec.path("pandas/objects.pkl"), "wb") as handle:
        pickle.dump(objects, handle, protocol=pickle.HIGHEST_PROTOCOL)
    rec.add("pandas/objects.pkl", "pandas", "pickle")
    columnar = frame.drop(columns=["object", "complex", "bytes", "period", "interval", "sparse"])
    columnar.to_parquet(rec.path("pandas/frame.parquet"))
    rec.add("pandas/frame.parquet", "pandas", "parquet")
    columnar.reset_index(drop=True).to_feather(rec.path("pandas/frame.feather"))
    rec.add("pandas/frame.feather", "pandas", "feather")
    frame.to_csv(rec.path("pandas/frame.csv"), index=False)
    rec.add("pandas/frame.csv", "pandas", "csv")
    columnar.to_json(rec.path("pandas/frame.jsonl"), orient="records", lines=True)
    rec.add("pandas/frame.jsonl", "pandas", "jsonl")


def generate_numpy(rec: Recorder) -> None:
    """.npy/.npz of plain, structured, datetime and object arrays; NumPy objects pickled."""
    import numpy as np

    arrays = {
        "float64": np.linspace(0, 1, 10),
        "float16": np.ones((2, 3), dtype=np.float16),
        "complex": np.ones(3, dtype=np.complex128),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "structured": np.array([(1, 2.0, b"ab")], dtype=[("a", "i4"), ("b", "f8"), ("c", "S2")]),
        "datetime": np.arange("2024-01", "2024-04", dtype="datetime64[M]"),
        "unicode": np.array(["alpha", "beta"]),
        "bool": np.array([True, False]),
        "big_endian": np.arange(4, dtype=">i4"),
        "zero_dim": np.array(5),
    }
    for name, array in arrays.items():
        np.save(rec.path(f"numpy/{name}.npy"), array)
        rec.add(f"numpy/{name}.npy", "numpy", "npy")
    np.savez(rec.path("numpy/bundle.npz"), **arrays)
    rec.add("numpy/bundle.npz", "numpy", "npz")
    np.savez_compressed(rec.path("numpy/bundle_compressed.npz"), **arrays)
    rec.add("numpy/bundle_compressed.npz", "numpy", "npz-compressed")
    objects = {
        "generator": np.random.default_rng(7),
        "random_state": np.random.RandomState(7),
        "pcg_state": np.random.PCG64(3).state,
        "scalars": [np.float32(1.5), np.int64(3), np.bool_(True), np.datetime64("2024-01-01")],
        "masked": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
        "dtype": np.dtype([("x", "<f4"), ("y", "<i8")]),
        "ufunc": np.log1p,
        "matrix": np.asmatrix(np.eye(2)),
        "record": np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    }
    with open(rec.path("numpy/objects.pkl"), "wb") as handle:
        pickle.dump(objects, handle, protocol=4)
    rec.add("numpy/objects.pkl", "numpy", "pickle")


def generate_scipy(rec: Recorder) -> None:
    """Sparse matrices and arrays of every format, saved with save_npz and pickled."""
    import numpy as np
    import scipy.sparse as sp
    from scipy import stats
    from scipy.spatial import KDTree, cKDTree

    dense = np.array([[0, 1, 0], [2, 0, 3], [0, 0, 4]], dtype=float)
    matrices = {
        fmt: getattr(sp, f"{fmt}_matrix")(dense)
        for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")
    }
    matrices["csr_array"] = sp.csr_array(dense)
    matrices["coo_array"] = sp.coo_array(dense)
    for name in ("csr", "csc", "coo", "bsr", "dia", "csr_array"):
        sp.save_npz(rec.path(f"scipy/{name}.npz"), matrices[name])
        rec.add(f"scipy/{name}.npz", "scipy", "sparse-npz")
    extra = {
        "matrices": matrices,
        "kdtree": KDTree(dense),
        "ckdtree": cKDTree(dense),
        "frozen_norm": stats.norm(loc=1.0, scale=2.0),
        "frozen_gamma": stats.gamma(2.0),
        "kde": stats.gaussian_kde(np.arange(10.0) ** 0.5),
    }
    with open(rec.path("scipy/objects.pkl"), "wb") as handle:
        pickle.dump(extra, handle, protocol=pickle.HIGHEST_PROTOCOL)
    rec.add("scipy/objects.pkl", "scipy", "pickle")


def _square(x: Any) -> Any:
    return x**2


def generate_joblib_memory(rec: Recorder) -> None:
    """A joblib.Memory cache directory after two cached calls."""
    import joblib
    import numpy as np

    memory = joblib.Memory(str(rec.path("joblib-memory")), verbose=0)
    cached = memory.cache(_square)
    cached(np.arange(5.0))
    cached(3)
    rec.add("joblib-memory", "joblib", "memory-cache")


def generate_optuna(rec: Recorder) -> None:
    """An Optuna study pickled, its sampler pickled, and a SQLite storage file."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -1, 1)
        trial.suggest_categorical("kind", ["a", "b"])
        trial.suggest_int("n", 1, 4, log=True)
        return float(x * x)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=4)
    with open(rec.path("optuna/study.pkl"), "wb") as handle:
        pickle.dump(study, handle)
    rec.add("optuna/study.pkl", "optuna", "pickle")
    with open(rec.path("optuna/sampler.pkl"), "wb") as handle:
        pickle.dump(study.sampler, handle)
    rec.add("optuna/sampler.pkl", "optuna", "pickle")
    url = f"sqlite:///{rec.path('optuna/study.db')}"
    sampler = optuna.samplers.RandomSampler(0)
    stored = optuna.create_study(storage=url, study_name="s", sampler=sampler)
    stored.optimize(objective, n_trials=2)
    del stored
    rec.add("optuna/study.db", "optuna", "sqlite")


def generate_gensim(rec: Recorder) -> None:
    """Word2Vec saved with gensim's own save (pickle + .npy), KeyedVectors, word2vec formats."""
    from gensim.models import Word2Vec

    sentences = [line.split() for line in ["the cat sat", "the dog ran", "a cat ran"] * 20]
    model = Word2Vec(sentences, vector_size=8, min_count=1, epochs=2, seed=1, workers=1)
    model.save(str(rec.path("gensim/w2v.model")))
    rec.add("gensim/w2v.model", "gensim", "gensim-pickle")
    model.wv.save(str(rec.path("gensim/vectors.kv")))
    rec.add("gensim/vectors.kv", "gensim", "gensim-pickle")
    model.wv.save_word2vec_format(str(rec.path("gensim/vectors.txt")))
    rec.add("gensim/vectors.txt", "gensim", "word2vec-text")
    model.wv.save_word2vec_format(str(rec.path("gensim/vectors.bin")), binary=True)
    rec.add("gensim/vectors.bin", "gensim", "word2vec-binary")
    big = Word2Vec(sentences * 5, vector_size=64, min_count=1, epochs=1, seed=1, workers=1)
    big.save(str(rec.path("gensim/w2v-large.model")), sep_limit=0)
    rec.add("gensim/w2v-large.model", "gensim", "gensim-pickle")
    for path in rec.root.joinpath("gensim").glob("w2v-large.model.*.npy"):
        rec.add(path.relative_to(rec.root).as_posix(), "gensim", "npy")


def generate_nltk(rec: Recorder) -> None:
    """NLTK objects users pickle: frequency distributions, a trained Punkt tokenizer, taggers."""
    from nltk import ConditionalFreqDist, FreqDist
    from nltk.tag import UnigramTagger
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    words = "the cat sat on the mat . the dog ran .".split()
    trainer = PunktTrainer()
    trainer.train("Dr. Smith went home. He was tired. Mr. Jones stayed. " * 10, finalize=True)
    objects = {
        "freq": FreqDist(words),
        "cond": ConditionalFreqDist((len(w), w) for w in words),
        "punkt": PunktSentenceTokenizer(trainer.get_params()),
        "tagger": UnigramTagger([[("the", "DT"), ("cat", "NN")]]),
    }
    for name, obj in objects.items():
        with open(rec.path(f"nltk/{name}.pickle"), "wb") as handle:
            pickle.dump(obj, handle)
        rec.add(f"nltk/{name}.pickle", "nltk", "pickle")


def generate_datasets(rec: Recorder) -> None:
    """A Hugging Face dataset saved to disk, and the cache files ``map`` writes."""
    import datasets

    datasets.disable_progress_bars()
    data = datasets.Dataset.from_dict(
        {"text": ["a", "bb", "ccc", "dddd"], "label": [0, 1, 0, 1], "score": [0.1, 0.2, 0.3, 0.4]}
    )
    dd = datasets.DatasetDict({"train": data, "test": data.select([0, 1])})
    dd.save_to_disk(str(rec.path("datasets/saved")))
    rec.add("datasets/saved", "datasets", "save-to-disk")
    loaded = datasets.load_from_disk(str(rec.path("datasets/saved")))["train"]
    cache = rec.path("datasets/cache/mapped.arrow")
    loaded.map(lambda row: {"n": len(row["text"])}, cache_file_name=str(cache))
    rec.add("datasets/cache", "datasets", "arrow-cache")
    data.to_parquet(str(rec.path("datasets/data.parquet")))
    rec.add("datasets/data.parquet", "datasets", "parquet")


def generate(rec: Recorder) -> None:
    """Every data artifact of this module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_pandas(rec)
        generate_numpy(rec)
        generate_scipy(rec)
        generate_joblib_memory(rec)
        generate_optuna(rec)
        generate_gensim(rec)
        generate_nltk(rec)
        generate_datasets(rec)
