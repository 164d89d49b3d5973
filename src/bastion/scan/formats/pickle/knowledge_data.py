"""The curated lists behind :mod:`bastion.scan.formats.pickle.knowledge`.

Names are fully qualified as the unpickler resolves them (``module.attribute``). Framework
entries cover both the old and the new module paths (``numpy.core`` and ``numpy._core``), since
models outlive library versions. Lists are written as white-space separated names.
"""

from __future__ import annotations

_EXEC = "code-execution"
_FILES = "file-system"
_NET = "network"
_NESTED = "nested-deserializer"
_INTRO = "introspection"
_PROC = "process-control"
_IMPORT = "import-machinery"

_EXPLANATIONS = {
    _EXEC: "runs code or shell commands chosen by whoever wrote the file",
    _FILES: "reads, writes or deletes files on the machine that loads the model",
    _NET: "opens network connections (exfiltration, payload download)",
    _NESTED: "deserializes a second, hidden payload that the outer scan cannot vouch for",
    _INTRO: "reaches arbitrary attributes or objects, the building block of allowlist bypasses",
    _PROC: "starts, signals or alters processes, threads or the interpreter state",
    _IMPORT: "imports arbitrary modules by name",
}


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _entries(category: str, text: str) -> dict[str, tuple[str, str]]:
    return dict.fromkeys(text.split(), (category, _EXPLANATIONS[category]))


#: Whole modules (and everything below them) whose globals have no place in a model file.
DANGEROUS_PREFIXES: dict[str, tuple[str, str]] = {
    **_entries(
        _EXEC,
        """
        os posix nt subprocess _posixsubprocess pty commands popen2 runpy code codeop timeit
        cProfile profile pdb bdb trace doctest idlelib IPython pydoc ctypes _ctypes cffi venv
        ensurepip pip setuptools distutils _distutils_hack site sysconfig platform
        numpy.testing numpy.f2py numpy.distutils torch.utils.collect_env
        torch.utils.cpp_extension torch._inductor torch._dynamo torch.package torch.hub
        torch._export torch.export torch.compiler torch.jit torch.utils.benchmark torch.testing
        torch.fx.graph_module torch.fx._symbolic_trace mlflow pandas.core.computation
        pandas.eval pandas.io.clipboard pandas.util._print_versions tensorflow keras tf_keras
        jinja2 mako asyncio uvloop sympy.parsing numexpr _testcapi _xxsubinterpreters fabric
        paramiko invoke sh plumbum pexpect xdist _pytest pytest nose unittest.mock
        builtins.exec builtins.eval
        """,
    ),
    **_entries(
        _FILES,
        """
        shutil tempfile fileinput linecache glob zipfile tarfile gzip bz2 lzma
        zlib.decompressobj dbm sqlite3 _sqlite3 mmap fcntl tty termios pwd grp spwd getpass
        logging.FileHandler logging.handlers logging.config numpy.memmap numpy.lib.npyio
        numpy.lib.format numpy.lib._npyio_impl numpy.lib._datasource numpy.DataSource
        numpy.save numpy.savez numpy.savez_compressed numpy.savetxt numpy.loadtxt
        numpy.genfromtxt numpy.fromfile numpy.tofile numpy.fromregex numpy.ndarray.dump
        numpy.ma.core.MaskedArray.dump pandas.io pandas.HDFStore
        pandas.ExcelWriter pandas.ExcelFile scipy.io h5py torch.serialization.save
        torch.utils.tensorboard tensorboard tensorboardX joblib.dump sklearn.utils._testing
        io.open io.FileIO io.open_code _io builtins.open filecmp netrc mailbox
        pyarrow.fs pyarrow.parquet pyarrow.csv pyarrow.json pyarrow.dataset pyarrow.orc
        pyarrow.feather pyarrow.ipc pyarrow.cuda pyarrow.hdfs pyarrow.substrait
        pyarrow.lib.input_stream pyarrow.lib.output_stream pyarrow.lib.memory_map
        pyarrow.lib.create_memory_map pyarrow.lib.OSFile pyarrow.lib.MemoryMappedFile
        pyarrow.lib.PythonFile
        """,
    ),
    **_entries(
        _NET,
        """
        socket _socket ssl _ssl http urllib urllib2 urllib3 requests httpx aiohttp ftplib
        smtplib poplib imaplib telnetlib nntplib xmlrpc socketserver wsgiref webbrowser
        huggingface_hub sklearn.datasets boto3 botocore s3fs gcsfs fsspec smart_open websocket
        websockets grpc zmq paho kafka redis pymongo psycopg2 psycopg pyarrow.flight
        """,
    ),
    **_entries(
        _NESTED,
        """
        pickle _pickle cPickle pickletools marshal dill.load dill.loads dill._dill.load
        dill._dill.loads dill._dill.load_session dill.load_session cloudpickle shelve jsonpickle
        yaml.load yaml.unsafe_load yaml.full_load yaml.load_all yaml.unsafe_load_all ruamel
        joblib.load joblib.numpy_pickle.load joblib.numpy_pickle._unpickle
        joblib.numpy_pickle.NumpyUnpickler joblib.numpy_pickle.Unpickler
        joblib.numpy_pickle.load_compatibility joblib.numpy_pickle_compat
        joblib.numpy_pickle_utils numpy.load numpy.lib.npyio.load torch.load
        torch.serialization.load torch.serialization._load torch.storage._load_from_bytes
        torch._weights_only_unpickler pandas.read_pickle pandas.io.pickle skops.io.load
        onnx.load keras.models copyreg.add_extension copyreg.dispatch_table
        copyreg._inverted_registry copyreg._extension_registry msgpack srsly
        torch.multiprocessing.reductions multiprocessing.reduction
        """,
    ),
    **_entries(
        _EXEC,
        """
        dill._dill._create_code dill._dill._create_function dill._dill._eval_repr
        dill._dill._create_type dill._dill._load_module dill._dill._create_cell
        dill._dill._create_ftype dill._dill._create_filehandle
        torch._C._create_function_from_trace torch._C._create_function_from_trace_with_dict
        torch._C._create_graph_by_tracing torch._C._create_function_from_graph
        torch._C._create_module_with_type torch._C._create_object_with_type
        torch.cuda.jiterator
        """,
    ),
    **_entries(
        _INTRO,
        """
        inspect gc types sys operator.attrgetter operator.methodcaller builtins.getattr
        builtins.setattr builtins.delattr builtins.globals builtins.locals builtins.vars
        builtins.dir builtins.super builtins.memoryview builtins.__build_class__
        builtins.classmethod builtins.staticmethod builtins.property abc.ABCMeta
        functools.reduce functools.singledispatch itertools.starmap builtins.map
        builtins.filter builtins.apply builtins.reload builtins.input builtins.raw_input
        builtins.breakpoint builtins.exit builtins.quit codecs.open codecs.EncodedFile
        """,
    ),
    **_entries(
        _PROC,
        """
        multiprocessing _multiprocessing concurrent threading _thread signal resource atexit
        sched faulthandler tracemalloc syslog torch.distributed torch.multiprocessing ray
        dask.distributed joblib.Parallel joblib.parallel uuid._get_command_stdout uuid._popen
        _osx_support _aix_support crypt
        """,
    ),
    **_entries(
        _IMPORT,
        """
        importlib imp pkgutil zipimport builtins.__import__ pydoc.locate
        torch._utils._import_dotted_name torch.serialization._get_restore_location
        numpy.lib.utils.lookfor sklearn.utils.discovery mlflow.utils.class_utils hydra.utils
        omegaconf.OmegaConf.create
        """,
    ),
}

#: Exact names, for what a prefix would catch too broadly.
DANGEROUS_EXACT: dict[str, tuple[str, str]] = {
    **_entries(
        _EXEC,
        """
        builtins.eval builtins.exec builtins.compile builtins.execfile
        torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_expr numpy.lib.utils.safe_eval
        pandas.core.frame.DataFrame.eval pandas.core.frame.DataFrame.query
        pandas.DataFrame.eval pandas.DataFrame.query pandas.eval scipy.weave
        """,
    ),
    **_entries(_IMPORT, "builtins.__import__ builtins.type.__call__"),
    **_entries(_INTRO, "builtins.getattr builtins.setattr"),
    **_entries(
        _FILES,
        """
        torch.save torch.from_file pandas.read_csv pandas.read_json pandas.read_html
        pandas.read_parquet pandas.read_feather pandas.read_excel pandas.read_sql
        pandas.read_sql_query pandas.read_sql_table pandas.read_table pandas.read_fwf
        pandas.read_hdf pandas.read_orc pandas.read_sas pandas.read_spss pandas.read_stata
        pandas.read_xml pandas.read_clipboard numpy.fromfile numpy.load numpy.save
        numpy.loadtxt numpy.genfromtxt
        """,
    ),
}

#: Attribute names that are dangerous whatever class they hang off (``SomeModel.from_pretrained``).
DANGEROUS_SUFFIXES: dict[str, tuple[str, str]] = {
    **_entries(_NESTED, "from_pretrained load_model loads from_file load_file"),
    **_entries(_NET, "hf_hub_download snapshot_download urlopen urlretrieve get_file"),
    **_entries(
        _EXEC,
        """
        system popen spawnv spawnve execv execve run_path run_module exec_command load_inline
        check_output check_call getoutput getstatusoutput
        """,
    ),
    **_entries(
        _FILES,
        """
        write_text write_bytes unlink rmtree rmdir chmod chown symlink_to hardlink_to touch
        mkdir rename replace_file tofile NamedTemporaryFile SpooledTemporaryFile
        TemporaryDirectory TemporaryFile mkstemp mkdtemp FileHandler RotatingFileHandler
        TimedRotatingFileHandler WatchedFileHandler ZipFile PyZipFile TarFile GzipFile
        BZ2File LZMAFile
        """,
    ),
    **_entries(
        _EXEC,
        """
        Popen CDLL PyDLL LoadLibrary posix_spawn posix_spawnp CUDAPluggableAllocator
        XPUPluggableAllocator change_current_allocator load_library
        """,
    ),
    **_entries(_NET, "SocketHandler DatagramHandler HTTPHandler SMTPHandler SysLogHandler"),
}

#: Classes whose *constructor* fetches or loads another model (a hub id, a path, a URL): fine
#: as the class of a pickled object, dangerous when called (``YOLO('https://…/x.pt')``
#: downloads and ``torch.load``s whatever it names).
DANGEROUS_CALLS: dict[str, tuple[str, str]] = _entries(
    _NESTED,
    """
    ultralytics.YOLO ultralytics.YOLOWorld ultralytics.YOLOE ultralytics.RTDETR ultralytics.SAM
    ultralytics.FastSAM ultralytics.NAS ultralytics.models ultralytics.engine.model
    sentence_transformers.SentenceTransformer sentence_transformers.CrossEncoder
    sentence_transformers.SparseEncoder sentence_transformers.cross_encoder
    sentence_transformers.sparse_encoder flair.models flair.embeddings
    """,
)

#: Subtrees of trusted namespaces that are not model state: any name under them is refused.
DENIED_SUBTREES: frozenset[str] = _names(
    """
    numpy.testing numpy.f2py numpy.distutils numpy.ctypeslib numpy.lib.npyio numpy.lib.format
    numpy.lib._npyio_impl numpy.lib._datasource numpy.memmap pandas.io pandas.core.computation
    pandas.util pandas.testing pandas._testing pandas.plotting scipy.io scipy._lib._testutils
    sklearn.datasets sklearn.utils._testing sklearn.utils.discovery sklearn.externals
    torch.utils.collect_env torch.utils.cpp_extension torch._inductor torch._dynamo
    torch.package torch.hub torch.distributed torch.multiprocessing torch.jit
    torch.utils.tensorboard torch.utils.benchmark torch.testing torch.fx.graph_module
    torch.backends torch.cuda.nvtx torch.onnx torch._export torch.export torch.compiler
    torch._functorch torch._prims torch._subclasses torch.utils.data.datapipes torch.utils.hipify
    torch.utils.bottleneck torch.utils.model_zoo torchvision.datasets torchvision.io
    torchaudio.datasets torchaudio.io torchtext.datasets torchtext.utils
    pyarrow.fs pyarrow.parquet pyarrow.csv pyarrow.json pyarrow.dataset pyarrow.flight
    pyarrow.orc pyarrow.feather pyarrow.ipc pyarrow.cuda pyarrow.hdfs pyarrow.substrait
    xgboost.dask xgboost.spark xgboost.tracker xgboost.collective xgboost.rabit lightgbm.dask
    catboost.datasets transformers.utils.hub transformers.pipelines
    transformers.dynamic_module_utils transformers.commands transformers.onnx
    transformers.integrations accelerate.commands accelerate.launchers accelerate.utils.launch
    diffusers.utils.dynamic_modules_utils datasets.load datasets.utils.file_utils
    sentence_transformers.util ultralytics.utils.downloads ultralytics.utils.checks
    ultralytics.hub timm.models._hub
    numpy._core.memmap numpy.core.memmap numpy.lib._format_impl numpy.lib._utils_impl
    numpy._pytesttester numpy.test scipy.test pandas.test scipy._lib._ccallback
    scipy._lib._ccallback_c pandas.core.interchange sklearn.callback._transport
    torch._strobelight torch.fx.passes.regional_inductor torch.cuda.memory torch.xpu.memory
    torch.cuda.gds torch.cuda.profiler torch.mps.profiler torch.profiler torch.autograd.profiler
    """
) | _names(
    # sympy evaluates strings (``sympify``): every sympy class or function re-exported or
    # subclassed here (``torch.utils._sympy.functions.S``, ``FloorDiv``) runs ``eval`` on a str
    # argument. pyarrow's private Cython modules behind the denied public ones open paths and
    # connections (``pyarrow._parquet.ParquetWriter``, ``pyarrow._csv.CSVWriter``); XGBoost's
    # data dispatchers read files and URIs (``xgboost.data._from_uri``).
    """
    torch.utils._sympy torch.fx.experimental torch.fx.passes scipy.special._precompute
    pyarrow._fs pyarrow._parquet pyarrow._parquet_encryption pyarrow._csv pyarrow._json
    pyarrow._orc pyarrow._feather pyarrow._dataset pyarrow._dataset_parquet
    pyarrow._dataset_parquet_encryption pyarrow._dataset_orc pyarrow._hdfs pyarrow._s3fs
    pyarrow._gcsfs pyarrow._azurefs pyarrow._flight pyarrow._substrait pyarrow._cuda
    xgboost.data
    """
)

#: Framework namespaces whose classes and state are what real model pickles contain.
TRUSTED_NAMESPACES: frozenset[str] = _names(
    """
    numpy scipy pandas sklearn torch torchvision torchaudio torchtext pyarrow xgboost lightgbm
    catboost statsmodels imblearn category_encoders sklearn_pandas mlxtend
    numba.core ml_dtypes skopt hdbscan umap pynndescent gensim.models nltk.tokenize nltk.stem
    spacy.vocab river optuna.distributions
    """
)

#: Ecosystem namespaces: classes and enums are trusted; calls of their classes only with a
#: single literal argument (enum members), because their constructors may load files.
ECOSYSTEM_NAMESPACES: frozenset[str] = _names(
    """
    transformers tokenizers accelerate peft trl sentence_transformers diffusers timm ultralytics
    lightning pytorch_lightning lightning_fabric torchmetrics datasets einops omegaconf hydra
    fairseq deepspeed safetensors onnx bitsandbytes evaluate flair allennlp detectron2 mmcv
    mmdet mmengine yolov5 fastai fastcore fastprogress sentencepiece spacy thinc nltk gensim
    prophet pmdarima sktime darts pytorch_forecasting gluonts autogluon flaml optuna shap lime
    feature_engine yellowbrick skorch torch_geometric dgl pyod tsfresh kornia albumentations
    open_clip clip segment_anything mmseg mmpretrain
    """
)

#: Builtins that rebuild plain values.
SAFE_BUILTINS: frozenset[str] = frozenset(
    f"builtins.{name}"
    for name in """
    list dict set frozenset tuple bytearray bytes str int float complex bool slice range object
    Ellipsis NotImplemented reversed enumerate zip ValueError KeyError Exception
    RuntimeError TypeError IndexError AttributeError NotImplementedError StopIteration
    UserWarning Warning DeprecationWarning FutureWarning RuntimeWarning hash
    """.split()
)

#: Standard-library classes and reconstructors that real model pickles contain.
SAFE_STDLIB_CLASSES: frozenset[str] = _names(
    """
    collections.OrderedDict collections.defaultdict collections.Counter collections.deque
    collections.ChainMap collections.UserDict collections.UserList collections.UserString
    datetime.datetime datetime.date datetime.time datetime.timedelta datetime.timezone
    decimal.Decimal fractions.Fraction uuid.UUID uuid.SafeUUID functools.partial
    functools.partialmethod types.SimpleNamespace argparse.Namespace pathlib.Path
    pathlib.PosixPath pathlib.WindowsPath pathlib.PurePath pathlib.PurePosixPath
    pathlib.PureWindowsPath pathlib._local.Path pathlib._local.PosixPath
    pathlib._local.WindowsPath pathlib._local.PurePosixPath pathlib._local.PureWindowsPath
    ipaddress.IPv4Address ipaddress.IPv6Address ipaddress.IPv4Network ipaddress.IPv6Network
    array.array array._array_reconstructor re._compile re.compile re.Pattern enum.Enum
    enum.IntEnum enum.Flag enum.IntFlag numbers.Number zoneinfo.ZoneInfo
    zoneinfo._zoneinfo.ZoneInfo zoneinfo.ZoneInfo._unpickle zoneinfo._zoneinfo.ZoneInfo._unpickle
    string.Template dataclasses._DataclassParams dataclasses.Field dataclasses._MISSING_TYPE
    dataclasses._FIELD_BASE typing.Any typing.Union typing.Optional _collections_abc.dict_keys
    collections.abc.Mapping builtins.NoneType copyreg._reconstructor copyreg.__newobj__
    copyreg.__newobj_ex__ _codecs.encode codecs.encode codecs.decode warnings.WarningMessage
    statistics.NormalDist random.Random math.inf math.nan logging.getLogger logging.Logger
    logging.RootLogger types.GenericAlias
    """
)

#: statsmodels' state-space Cython classes (one per precision: s, d, c, z); their ``__reduce__``
#: rebuilds them from typed arrays and numbers, and their constructors only allocate arrays.
_STATESPACE_CLASSES = frozenset(
    f"statsmodels.tsa.statespace._{module}.{precision}{cls}"
    for module, cls in (
        ("representation", "Statespace"),
        ("initialization", "Initialization"),
        ("kalman_filter", "KalmanFilter"),
        ("kalman_smoother", "KalmanSmoother"),
        ("simulation_smoother", "SimulationSmoother"),
        ("cfa_simulation_smoother", "CFASimulationSmoother"),
    )
    for precision in "sdcz"
)

#: PyTorch's named-tuple results (``torch.topk(...)``, ``torch.linalg.svd(...)``): C struct
#: sequences that pickle as ``type((values...), {})`` and only build a tuple.
_TORCH_RETURN_TYPES = frozenset(
    f"torch.return_types.{name}"
    for name in """
    _fake_quantize_per_tensor_affine_cachemask_tensor_qparams _fused_moving_avg_obs_fq_helper
    _linalg_det _linalg_det_out _linalg_eigh _linalg_eigh_out _linalg_slogdet
    _linalg_slogdet_out _linalg_solve_ex _linalg_solve_ex_out _linalg_svd _linalg_svd_out
    _lu_with_info _scaled_dot_product_cudnn_attention _scaled_dot_product_efficient_attention
    _scaled_dot_product_flash_attention _scaled_dot_product_flash_attention_for_cpu
    _unpack_dual aminmax aminmax_out cummax cummax_out cummin cummin_out frexp frexp_out geqrf
    geqrf_out histogram histogram_out histogramdd kthvalue kthvalue_out linalg_cholesky_ex
    linalg_cholesky_ex_out linalg_eig linalg_eig_out linalg_eigh linalg_eigh_out linalg_inv_ex
    linalg_inv_ex_out linalg_ldl_factor linalg_ldl_factor_ex linalg_ldl_factor_ex_out
    linalg_ldl_factor_out linalg_lstsq linalg_lstsq_out linalg_lu linalg_lu_factor
    linalg_lu_factor_ex linalg_lu_factor_ex_out linalg_lu_factor_out linalg_lu_out linalg_qr
    linalg_qr_out linalg_slogdet linalg_slogdet_out linalg_solve_ex linalg_solve_ex_out
    linalg_svd linalg_svd_out lu_unpack lu_unpack_out max max_out median median_out min
    min_out mode mode_out nanmedian nanmedian_out qr qr_out slogdet slogdet_out sort sort_out
    svd svd_out topk topk_out triangular_solve triangular_solve_out
    """.split()
)

#: Reviewed framework callables that are called at load time to rebuild state.
SAFE_CALLS: frozenset[str] = (
    _STATESPACE_CLASSES
    | _TORCH_RETURN_TYPES
    | _names(
        """
    numpy.core.multiarray._reconstruct numpy._core.multiarray._reconstruct
    numpy.core.multiarray.scalar numpy._core.multiarray.scalar numpy.core.numeric._frombuffer
    numpy._core.numeric._frombuffer numpy.ndarray numpy.dtype numpy.ma.core._mareconstruct
    numpy.core._ufunc_reconstruct numpy._core._ufunc_reconstruct
    numpy.random._pickle.__randomstate_ctor numpy.random._pickle.__generator_ctor
    numpy.random._pickle.__bit_generator_ctor numpy.random._pickle._new_bitgen
    numpy.core.numeric.array numpy.array numpy._core._internal._convert_to_stringdtype_kwargs

    torch._utils._rebuild_tensor torch._utils._rebuild_tensor_v2 torch._utils._rebuild_tensor_v3
    torch._utils._rebuild_parameter torch._utils._rebuild_parameter_with_state
    torch._utils._rebuild_sparse_tensor torch._utils._rebuild_meta_tensor_no_storage
    torch._utils._rebuild_nested_tensor torch._utils._rebuild_qtensor
    torch._utils._rebuild_wrapper_subclass torch._utils._rebuild_device_tensor_from_numpy
    torch._utils._rebuild_xla_tensor torch._utils._rebuild_mps_tensor
    torch._tensor._rebuild_from_type_v2 torch._tensor._rebuild_from_type
    torch.serialization._get_layout torch.Size torch.device torch.Tensor
    torch.nn.parameter.Parameter torch.nn.parameter.Buffer
    torch.nn.parameter.UninitializedParameter torch._C._nn._parse_to torch.storage.TypedStorage
    torch.storage.UntypedStorage torch.storage._StorageBase torch._utils._element_size
    torch.finfo torch.iinfo torch.memory_format torch.layout torch.dtype torch.Generator
    torch.torch_version.TorchVersion torch.nn.modules.module._WrappedHook
    torch.optim.optimizer._RequiredParameter torch.amp.grad_scaler.GradScaler
    torch.cuda.amp.grad_scaler.GradScaler torch.amp.grad_scaler._refresh_per_optimizer_state
    torch.cuda.amp.grad_scaler._refresh_per_optimizer_state

    torch.distributed.checkpoint.metadata.Metadata
    torch.distributed.checkpoint.metadata.MetadataIndex
    torch.distributed.checkpoint.metadata.StorageMeta
    torch.distributed.checkpoint.metadata.TensorStorageMetadata
    torch.distributed.checkpoint.metadata.BytesStorageMetadata
    torch.distributed.checkpoint.metadata.ChunkStorageMetadata
    torch.distributed.checkpoint.metadata.TensorProperties
    torch.distributed.checkpoint.metadata._MEM_FORMAT_ENCODING
    torch.distributed.checkpoint.filesystem._StorageInfo

    pandas._libs.internals._unpickle_block pandas.core.indexes.base._new_Index
    pandas._libs.tslibs.timestamps._unpickle_timestamp
    pandas._libs.tslibs.timedeltas._timedelta_unpickle pandas._libs.tslibs.nattype.__nat_unpickle
    pandas.core.internals.blocks.new_block pandas.core.internals.managers.BlockManager
    pandas._libs.sparse.IntIndex pandas._libs.sparse.BlockIndex
    pandas._libs.properties.CachedProperty pandas.core.arrays.categorical.Categorical
    pandas.core.arrays._mixins._unpickle dateutil.relativedelta.relativedelta

    sklearn.utils.validation.check_array
    sklearn.tree._tree.Tree sklearn.neighbors._binary_tree.newObj sklearn.neighbors._kd_tree.newObj
    sklearn.neighbors._ball_tree.newObj sklearn.metrics._dist_metrics.newObj
    sklearn.metrics._dist_metrics.DistanceMetric scipy.sparse._csr.csr_matrix
    scipy.sparse._csc.csc_matrix scipy.stats._distn_infrastructure.rv_frozen
    scipy.stats._distn_infrastructure.rv_continuous_frozen
    joblib.numpy_pickle.NumpyArrayWrapper joblib.numpy_pickle_compat.NDArrayWrapper
    joblib.numpy_pickle_compat.ZNDArrayWrapper joblib._store_backends.CacheItemInfo
    xgboost.core.Booster xgboost.sklearn.XGBClassifier xgboost.sklearn.XGBRegressor
    lightgbm.basic.Booster lightgbm.sklearn.LGBMClassifier lightgbm.sklearn.LGBMRegressor

    nltk.probability.FreqDist nltk.probability.ConditionalFreqDist
    optuna.samplers._tpe.parzen_estimator._ParzenEstimatorParameters
    mlflow.models.signature._TypeHints

    pyarrow.lib.py_buffer pyarrow.lib.type_for_alias pyarrow.lib.chunked_array pyarrow.lib.field
    pyarrow.lib.schema pyarrow.lib.scalar pyarrow.lib.list_ pyarrow.lib.large_list
    pyarrow.lib.list_view pyarrow.lib.struct pyarrow.lib.map_ pyarrow.lib.dictionary
    pyarrow.lib.timestamp pyarrow.lib.time32 pyarrow.lib.time64 pyarrow.lib.duration
    pyarrow.lib.decimal128 pyarrow.lib.decimal256 pyarrow.lib.binary
    pyarrow.lib.fixed_size_list pyarrow.lib.union pyarrow.lib.array pyarrow.lib.record_batch
    pyarrow.lib.table pyarrow.lib.allocate_buffer pyarrow.lib.KeyValueMetadata
    pyarrow.lib.month_day_nano_interval pyarrow.lib.decimal32 pyarrow.lib.decimal64
    pyarrow.lib.run_end_encoded pyarrow.lib.large_list_view pyarrow.lib.json_ pyarrow.lib.uuid
    pyarrow.lib.bool8 pyarrow.lib.opaque pyarrow.lib.fixed_shape_tensor

    dill._dill._create_array dill._dill._load_type dill._dill._create_namedtuple
    dill._dill._get_attr dill._dill._import_module dill._dill._create_dtypemeta
    dill._dill._create_rlock dill._dill._create_lock dill._dill._create_weakref
    """
    )
)

#: Allowlisted callables that import ``module.name`` given as string arguments.
IMPORT_GADGETS: frozenset[str] = _names(
    """
    numpy.core._ufunc_reconstruct numpy._core._ufunc_reconstruct
    scipy._lib._uarray._backend.unpickle_function
    """
)

#: Callables that return ``getattr(<module>, name)`` for their one argument (the value names the
#: module): with a literal name the result is judged as that attribute, otherwise the callable
#: itself is (cloudpickle's ``_builtin_type`` is how ``list[int]`` and code types are pickled).
MODULE_ATTR_GADGETS: dict[str, str] = {
    "cloudpickle.cloudpickle._builtin_type": "types",
    "cloudpickle.cloudpickle_fast._builtin_type": "types",
}

#: Allowlisted callables that import the module named by their first argument.
MODULE_IMPORT_GADGETS: frozenset[str] = _names("dill._dill._import_module")

#: Allowlisted callables that behave like ``getattr(obj, name)``.
GETATTR_GADGETS: frozenset[str] = _names("builtins.getattr dill._dill._get_attr")

#: Allowlisted callables that call one of their arguments (by position) while unpickling.
CALLING_GADGETS: dict[str, int] = {
    "torch._tensor._rebuild_from_type_v2": 0,
    "torch._tensor._rebuild_from_type": 0,
    "dill._dill._create_array": 0,
    # A partial exists to be called: its function is judged as called, with the partial's
    # arguments. A defaultdict calls its factory for every missing key.
    "functools.partial": 0,
    "functools.partialmethod": 0,
    "collections.defaultdict": 0,
    # NumPy's generator helpers call ``bit_generator_ctor(bit_generator_name)``, and
    # ``__bit_generator_ctor`` instantiates a class handed to it.
    "numpy.random._pickle.__generator_ctor": 1,
    "numpy.random._pickle.__randomstate_ctor": 1,
    "numpy.random._pickle.__bit_generator_ctor": 0,
    # ``weakref.ref(obj, callback)``: the callback runs as soon as ``obj`` is collected (at
    # once for the placeholder dill makes when ``obj`` is None).
    "dill._dill._create_weakref": 1,
}

#: Allowlisted callables that apply one of their arguments (by position) as an object's
#: attributes (``setattr`` for each item): judged like the state of a BUILD.
STATE_ARGUMENTS: dict[str, int] = {
    "torch._tensor._rebuild_from_type_v2": 3,
    "torch._tensor._rebuild_from_type": 3,
    "torch._utils._rebuild_parameter_with_state": 3,
    "dill._dill._create_array": 3,
}

#: dill's ``_load_type`` names that are not ``builtins.<name>`` or ``types.<name>``.
DILL_TYPE_NAMES: dict[str, str] = {
    "NoneType": "builtins.NoneType",
    "EllipsisType": "builtins.Ellipsis",
    "NotImplementedType": "builtins.NotImplemented",
    "PartialType": "functools.partial",
    "AttrGetterType": "operator.attrgetter",
    "ItemGetterType": "operator.itemgetter",
}

#: Allowlisted callables whose result is a class, so NEWOBJ on their result is expected.
TYPE_FACTORIES: frozenset[str] = _names("builtins.type")

#: Allowlisted callables that return the class their literal arguments name (resolved like an
#: import): dill's ``_load_type(name)`` and ``_create_namedtuple(name, fields, module)``, which
#: imports ``module.name`` and only makes a namedtuple when that import fails.
TYPE_LOADERS: frozenset[str] = _names("dill._dill._load_type dill._dill._create_namedtuple")
