"""Extra benign artifacts: boosting, statsmodels, text models, Optuna, serializers, Hugging
Face objects, ONNX and others (see :mod:`tests.benign_real.gen_extra`)."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

from tests.benign_real.base import Recorder
from tests.benign_real.gen_extra_common import _pickle, _torch_save, _xy


def generate_boosting(rec: Recorder) -> None:
    """Boosting models with categorical data, early stopping and callbacks, pickled."""
    import catboost as cb
    import lightgbm as lgb
    import pandas as pd
    import xgboost as xgb

    x, y, reg = _xy()
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["city"] = pd.Categorical(["p", "l", "n", "m"] * 20)
    train_dir = rec.root.parent / f"{rec.root.name}-catboost-extra"
    models = {
        "xgb_categorical": xgb.XGBClassifier(
            n_estimators=4, enable_categorical=True, tree_method="hist", early_stopping_rounds=2,
            callbacks=[xgb.callback.EarlyStopping(rounds=2, save_best=False)],
            eval_metric="logloss",
        ).fit(frame, y, eval_set=[(frame, y)], verbose=False),
        "xgb_rf_reg": xgb.XGBRFRegressor(n_estimators=3).fit(x, reg),
        "lgb_categorical": lgb.LGBMClassifier(
            n_estimators=4, class_weight="balanced", verbose=-1, min_child_samples=5
        ).fit(frame, y, eval_set=[(frame, y)], callbacks=[lgb.early_stopping(2, verbose=False)]),
        "lgb_quantile": lgb.LGBMRegressor(
            objective="quantile", alpha=0.9, n_estimators=3, verbose=-1
        ).fit(x, reg),
        "lgb_train": lgb.train(
            {"objective": "binary", "verbose": -1}, lgb.Dataset(frame, y), num_boost_round=3
        ),
        "cb_ranker": cb.CatBoostRanker(iterations=3, verbose=False, train_dir=str(train_dir)).fit(
            x, reg, group_id=[i // 10 for i in range(80)]
        ),
        "cb_pool": cb.Pool(frame, y, cat_features=["city"]),
    }  # fmt: skip
    for name, model in models.items():
        try:
            data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            continue
        rec.path(f"boosting/{name}.pkl").write_bytes(data)
        rec.add(f"boosting/{name}.pkl", name.split("_")[0], "pickle")


def generate_statsmodels(rec: Recorder) -> None:
    """More statsmodels results saved with ``save``: time series, mixed and robust models."""
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    from statsmodels.tsa.api import VAR
    from statsmodels.tsa.seasonal import STL, seasonal_decompose
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(2)
    idx = pd.date_range("2020-01-01", periods=48, freq="MS")
    series = pd.Series(np.sin(np.arange(48) / 3) + 5 + rng.standard_normal(48) * 0.1, idx)
    x = sm.add_constant(rng.standard_normal((60, 2)))
    y = x @ [1.0, 0.5, -0.5] + rng.standard_normal(60) * 0.2
    groups = np.repeat(np.arange(6), 10)
    grouped = y + groups * 0.7 + rng.standard_normal(60) * 0.3
    noisy = y + rng.standard_normal(60) * 1.5
    binary = (noisy > 0).astype(float)
    results = {
        "sarimax": SARIMAX(series, order=(1, 0, 0), seasonal_order=(0, 0, 0, 0)).fit(disp=False),
        "unobserved": sm.tsa.UnobservedComponents(series, "local level").fit(disp=False),
        "var": VAR(pd.DataFrame({"a": series, "b": series.shift(1).bfill()})).fit(1),
        "mixedlm": sm.MixedLM(grouped, x, groups).fit(),
        "quantreg": sm.QuantReg(y, x).fit(q=0.7),
        "rlm": sm.RLM(y, x, M=sm.robust.norms.HuberT()).fit(),
        "glm_binomial": sm.GLM(binary, x, family=sm.families.Binomial()).fit(),
        "probit": sm.Probit(binary, x).fit(disp=0),
        "mnlogit": sm.MNLogit(np.digitize(noisy, [-0.5, 0.5]), x).fit(disp=0),
        "negbin": sm.NegativeBinomial(rng.poisson(2.0, 60), x).fit(disp=0, maxiter=200),
        "ets": sm.tsa.ETSModel(series, error="add", trend="add").fit(disp=False),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, result in results.items():
            result.save(str(rec.path(f"statsmodels/{name}.pickle")))
            rec.add(f"statsmodels/{name}.pickle", "statsmodels", "pickle")
    plain = {
        "decompose": seasonal_decompose(series, period=12),
        "stl": STL(series, period=12).fit(),
    }
    for name, obj in plain.items():
        _pickle(rec, f"statsmodels/{name}.pkl", obj, "statsmodels")


def generate_text_models(rec: Recorder) -> None:
    """gensim Doc2Vec, FastText, LDA, dictionaries, phrases; NLTK classifiers and trees."""
    from gensim.corpora import Dictionary
    from gensim.models import Doc2Vec, FastText, LdaModel, LsiModel, Phrases, TfidfModel
    from gensim.models.doc2vec import TaggedDocument
    from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS
    from nltk import NaiveBayesClassifier, Tree

    texts = [line.split() for line in ["the cat sat", "the dog ran", "a cat ran far"] * 10]
    dictionary = Dictionary(texts)
    corpus = [dictionary.doc2bow(t) for t in texts]
    models = {
        "doc2vec": Doc2Vec(
            [TaggedDocument(t, [i]) for i, t in enumerate(texts)],
            vector_size=8, min_count=1, epochs=1, workers=1,
        ),
        "fasttext": FastText(texts, vector_size=8, min_count=1, epochs=1, workers=1),
        "lda": LdaModel(corpus, num_topics=2, id2word=dictionary, passes=1, random_state=0),
        "lsi": LsiModel(corpus, num_topics=2, id2word=dictionary),
        "tfidf": TfidfModel(corpus),
        "phrases": Phrases(texts, min_count=1, connector_words=ENGLISH_CONNECTOR_WORDS),
        "dictionary": dictionary,
    }  # fmt: skip
    for name, model in models.items():
        base = rec.path(f"gensim/{name}/{name}.model")
        model.save(str(base))
        rec.add(f"gensim/{name}", "gensim", "gensim-save")
    nltk_objects = {
        "naive_bayes": NaiveBayesClassifier.train(
            [({"w": "cat"}, "pet"), ({"w": "car"}, "thing")] * 3
        ),
        "tree": Tree.fromstring("(S (NP the cat) (VP sat))"),
    }
    for name, obj in nltk_objects.items():
        _pickle(rec, f"nltk/{name}.pickle", obj, "nltk")


def generate_optuna(rec: Recorder) -> None:
    """Optuna studies with other samplers and pruners, multi-objective."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: Any) -> tuple[float, float]:
        x = trial.suggest_float("x", -1, 1)
        trial.suggest_int("n", 1, 3)
        return x * x, (x - 1) ** 2

    samplers: dict[str, Any] = {
        "nsga2": optuna.samplers.NSGAIISampler(seed=0, population_size=4),
        "qmc": optuna.samplers.QMCSampler(seed=0),
        "random": optuna.samplers.RandomSampler(0),
        "tpe_multi": optuna.samplers.TPESampler(seed=0, multivariate=True),
    }
    for name, sampler in samplers.items():
        study = optuna.create_study(
            directions=["minimize", "minimize"],
            sampler=sampler,
        )
        study.optimize(objective, n_trials=5)
        _pickle(rec, f"optuna/{name}.pkl", study, "optuna")
    single = optuna.create_study(pruner=optuna.pruners.HyperbandPruner())
    single.optimize(lambda t: t.suggest_float("y", 0, 1), n_trials=3)
    _pickle(rec, "optuna/hyperband.pkl", single, "optuna")
    _pickle(rec, "optuna/median_pruner.pkl", optuna.pruners.MedianPruner(), "optuna")


def generate_serializers(rec: Recorder) -> None:
    """dill and cloudpickle dumps of library objects (no user code), as tools write them."""
    import cloudpickle
    import dill
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    # NOTE: torch tensors are left out: plain pickling writes torch.storage._load_from_bytes
    # (a nested torch.load), see test_extra_benign.py.
    x, y, _ = _xy()
    pipe = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(x, y)
    objects = {
        "pipeline": pipe,
        "frame": pd.DataFrame({"a": [1, 2], "b": pd.Categorical(["x", "y"])}),
        "arrays": {"w": np.ones(3), "dtype": np.dtype("float32"), "scalar": np.float64(2)},
        "types": {"int": int, "ndarray": np.ndarray, "none": type(None)},
    }
    for name, obj in objects.items():
        rec.path(f"dill/{name}.pkl").write_bytes(dill.dumps(obj))
        rec.add(f"dill/{name}.pkl", "dill", "dill")
        rec.path(f"cloudpickle/{name}.pkl").write_bytes(cloudpickle.dumps(obj))
        rec.add(f"cloudpickle/{name}.pkl", "cloudpickle", "cloudpickle")


def generate_hf_objects(rec: Recorder) -> None:
    """Hugging Face objects pickled directly and an accelerate ``save_state`` directory."""
    import datasets
    import tokenizers
    import torch
    import transformers as t
    from accelerate import Accelerator

    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    bpe.train_from_iterator(
        ["the cat sat", "the dog ran"] * 10,
        tokenizers.trainers.BpeTrainer(vocab_size=30, special_tokens=["[UNK]"]),
    )
    fast = t.PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="[UNK]")
    data = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    objects = {
        "tokenizer": bpe,
        "fast_tokenizer": fast,
        "batch_encoding": fast(["the cat", "the dog"]),
        "generation_config": t.GenerationConfig(max_new_tokens=5, do_sample=True, top_k=3),
        "bert_config": t.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2),
        "dataset": data,
        "features": data.features,
        "training_args": t.TrainingArguments(
            str(rec.root.parent / "unused-training-dir"), report_to=[], use_cpu=True
        ),
    }
    for name, obj in objects.items():
        _pickle(rec, f"hf/{name}.pkl", obj, "huggingface")
    model = torch.nn.Linear(4, 2)
    accelerator = Accelerator(cpu=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    model, opt, sched = accelerator.prepare(model, opt, sched)
    accelerator.save_state(str(rec.path("accelerate/state")))
    rec.add("accelerate/state", "accelerate", "save-state")


def generate_onnx(rec: Recorder) -> None:
    """skl2onnx conversions of more estimators and onnxruntime-optimized models."""
    import numpy as np
    import onnxruntime as ort
    import pandas as pd
    from skl2onnx import to_onnx
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVR

    x, y, reg = _xy()
    x = x.astype(np.float32)
    frame = pd.DataFrame({"num": x[:, 0], "cat": ["a", "b"] * 40})
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["num"]), ("cat", OneHotEncoder(), ["cat"])]
    )
    models = {
        "gbc": (GradientBoostingClassifier(n_estimators=3).fit(x, y), x[:1]),
        "isoforest": (IsolationForest(n_estimators=3).fit(x), x[:1]),
        "kmeans": (KMeans(2, n_init=1).fit(x), x[:1]),
        "pca_svr": (make_pipeline(PCA(2), SVR()).fit(x, reg), x[:1]),
        "column_transformer": (
            make_pipeline(prep, LogisticRegression()).fit(frame, y),
            frame[:1],
        ),
    }
    for name, (model, sample) in models.items():
        onx = to_onnx(model, sample, target_opset={"": 17, "ai.onnx.ml": 3})
        rec.path(f"onnx/{name}.onnx").write_bytes(onx.SerializeToString())
        rec.add(f"onnx/{name}.onnx", "skl2onnx", "onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(rec.path("onnx/pca_svr.optimized.onnx"))
    ort.InferenceSession(str(rec.path("onnx/pca_svr.onnx")), options)
    rec.add("onnx/pca_svr.optimized.onnx", "onnxruntime", "onnx")


def generate_misc(rec: Recorder) -> None:
    """Objects ML projects save beside models: graphs, plotly JSON, differential-privacy state.

    NOTE: pickled matplotlib figures, plotly figures and sympy expressions are left out: they
    pickle bound methods (``getattr``) and call unreviewed constructors, and are blocked.
    """
    import networkx as nx
    import plotly.graph_objects as go
    import torch
    from opacus import GradSampleModule
    from opacus.accountants import RDPAccountant

    graph = nx.karate_club_graph()
    _pickle(rec, "misc/graph.pkl", graph, "networkx")
    _pickle(rec, "misc/digraph.pkl", nx.DiGraph([(1, 2, {"w": 0.5})]), "networkx")
    plotly_fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    plotly_fig.write_json(str(rec.path("misc/plotly.json")))
    rec.add("misc/plotly.json", "plotly", "json")
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=1.0, sample_rate=0.01)
    _torch_save(rec, "misc/opacus_accountant.pt", accountant.state_dict(), "state-dict")
    gsm = GradSampleModule(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    _torch_save(rec, "misc/opacus_gsm.state.pt", gsm.state_dict(), "state-dict")
