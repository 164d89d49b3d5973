"""More benign artifacts, of kinds the other generators leave out.

scikit-learn estimators in non-default configurations (ball trees, isotonic calibration,
``FunctionTransformer(np.log1p)``, scorers, Gaussian-process kernels, pandas output), pickles of
the old text protocols, joblib with lz4; the typical training checkpoint (``argparse.Namespace``,
paths, dates, RNG states) pickled and ``torch.save``d with newer pickle protocols; PyTorch hooks
(old ``weight_norm``/``spectral_norm``, pruning), QAT and static quantization, data sets and
samplers, distributions, lite-interpreter TorchScript and distributed checkpoints; SciPy
interpolators, rotations and results; pandas with pyarrow dtypes and every compression; pyarrow
objects; NumPy extras; more boosting, statsmodels, gensim, NLTK and Optuna objects.
"""

from __future__ import annotations

import warnings

from tests.benign_real.base import Recorder
from tests.benign_real.gen_extra_data import (
    generate_numpy,
    generate_pandas,
    generate_pyarrow,
    generate_scipy,
)
from tests.benign_real.gen_extra_libs import (
    generate_boosting,
    generate_hf_objects,
    generate_misc,
    generate_onnx,
    generate_optuna,
    generate_serializers,
    generate_statsmodels,
    generate_text_models,
)
from tests.benign_real.gen_extra_models import (
    generate_checkpoints,
    generate_sklearn,
    generate_torch,
    generate_torch_formats,
)


def generate(rec: Recorder) -> None:
    """Every artifact of this module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_sklearn(rec)
        generate_checkpoints(rec)
        generate_torch(rec)
        generate_torch_formats(rec)
        generate_scipy(rec)
        generate_pandas(rec)
        generate_pyarrow(rec)
        generate_numpy(rec)
        generate_boosting(rec)
        generate_statsmodels(rec)
        generate_text_models(rec)
        generate_optuna(rec)
        generate_serializers(rec)
        generate_hf_objects(rec)
        generate_onnx(rec)
        generate_misc(rec)
