"""CaseLens's own allow-list for what a skops model file may name.

A model file is data, never code: every class, type, function, method, operator function,
reduce constructor and dictionary key type named anywhere in a skops file must be on this
list, or the file is refused (see :mod:`caselens.model.file_check`). Nothing skops itself
would trust by default is trusted here unless it is listed.

The built-in list below is what the sample bundles and the common scikit-learn classifier
families need (logistic regression, decision trees, random forests, extra trees, gradient
boosting, histogram gradient boosting, k-nearest neighbours with ``algorithm="brute"``, SVC,
MLP, Gaussian and Bernoulli naive Bayes). An operator may add names, deliberately, in a
configuration file outside any bundle, named by the environment variable
``CASELENS_TRUSTED_TYPES_FILE``:

* TOML (``.toml``) or JSON (``.json``): a table/object whose keys are the kinds below and
  whose values are lists of dotted names, e.g. ``functions = ["numpy.log1p"]``.
* Anything else is plain text: one name per line, ``#`` starts a comment, and a line may
  start with a kind and a colon (``function: numpy.log1p``); a bare name is a ``type``.

Kinds: ``types`` (classes and types: objects, containers, numpy/scipy arrays, type values,
reduce constructors, numpy bit generators), ``functions`` (functions a file may hold as
values), ``methods`` (``module.Class.method`` — a bound method, owner and method name
together), ``operator_functions`` (``operator.attrgetter`` and the like) and ``key_types``
(types dictionary keys are rebuilt with).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from caselens.errors import BundleError
from caselens.settings import SettingsError, read_variable

#: Environment variable naming the operator's file of extra trusted names.
TRUSTED_TYPES_FILE_ENV = "CASELENS_TRUSTED_TYPES_FILE"

#: The operator's file is configuration, not a model: a small size bound is plenty.
MAX_TRUSTED_TYPES_FILE_BYTES = 1 << 20

#: Classes and types a model file may name (objects, containers, arrays, type values,
#: reduce constructors, numpy bit generators). Extend deliberately: each entry is a class
#: whose ``__setstate__``/constructor runs on data from the file.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._column_transformer._RemainderColsList",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.utils._bunch.Bunch",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.uint64",
    "builtins.slice",
    "builtins.object",
    "builtins.str",
    "builtins.float",
    "builtins.int",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "collections.OrderedDict",
    "scipy.interpolate._interpolate.interp1d",
    # A ColumnTransformer's "passthrough" remainder is stored as FunctionTransformer(func=None);
    # the function it wraps is its own node and is checked against TRUSTED_FUNCTIONS, so
    # trusting the class admits no code.
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    # HistGradientBoosting's loss, rebuilt by skops' LossNode: the class is the reduce
    # constructor, called with arguments from the file.
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "numpy.random._generator.Generator",
    # The bit generator a Generator is rebuilt with (named as a string inside its state).
    "numpy.random.PCG64",
    # The wrapped function is its own node, checked against TRUSTED_FUNCTIONS.
    "functools.partial",
    # Common classifier families, reviewed 2026-11: pure-Python or numpy state, or (trees)
    # compiled code whose index arrays caselens.model.file_check.check_loaded_model checks
    # after loading. KDTree/BallTree are left out on purpose: their index arrays are used
    # by compiled code without bounds checks and are not checked here — a nearest-neighbours
    # model must use algorithm="brute".
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.dummy.DummyClassifier",
    "numpy.random.mtrand.RandomState",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    # libsvm: scikit-learn checks the support-vector counts before predicting (CVE-2020-28975).
    "sklearn.svm._classes.SVC",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.naive_bayes.BernoulliNB",
)

#: Functions a model file may hold as values (skops FunctionNode). Each is called with model
#: data at prediction time, so only pure, side-effect-free functions belong here.
TRUSTED_FUNCTIONS: tuple[str, ...] = (
    # HistGradientBoosting's categorical preprocessing wraps check_array in a partial.
    "sklearn.utils.validation.check_array",
)

#: Bound methods (``module.Class.method``) a model file may hold. None is needed: a bound
#: method of a trusted class can still write files (``numpy.ndarray.tofile``) or read
#: attributes (``builtins.str.format``), so each one is a separate, deliberate decision.
TRUSTED_METHODS: tuple[str, ...] = ()

#: ``operator`` functions (attrgetter, itemgetter, methodcaller) a model file may rebuild.
#: None is needed: ``methodcaller``/``attrgetter`` reach any attribute of what they touch.
TRUSTED_OPERATOR_FUNCTIONS: tuple[str, ...] = ()

#: Types dictionary keys are rebuilt with (skops calls the type on each stored key).
TRUSTED_KEY_TYPES: tuple[str, ...] = (
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "numpy.float64",
    "numpy.int64",
)

#: The kinds of names the allow-list holds, as written in the operator's file.
KINDS: tuple[str, ...] = ("types", "functions", "methods", "operator_functions", "key_types")

# Singular spellings accepted as the prefix of a plain-text line.
_SINGULAR = {
    "type": "types",
    "function": "functions",
    "method": "methods",
    "operator_function": "operator_functions",
    "key_type": "key_types",
}


@dataclass(frozen=True)
class TrustedNames:
    """The names a model file may contain, by kind.

    Attributes
    ----------
    types, functions, methods, operator_functions, key_types : frozenset of str
        Dotted names; methods are ``module.Class.method``.
    source : str
        Where the names came from (the built-in list, plus the operator's file if any).
    """

    types: frozenset[str]
    functions: frozenset[str]
    methods: frozenset[str]
    operator_functions: frozenset[str]
    key_types: frozenset[str]
    source: str = "caselens.model.file_trust"

    def every_name(self) -> frozenset[str]:
        """All names of every kind (what may be handed to skops as trusted)."""
        return self.types | self.functions | self.methods | self.operator_functions | self.key_types


def built_in_names() -> TrustedNames:
    """The allow-list held in CaseLens's code, without any operator additions."""
    return TrustedNames(
        types=frozenset(TRUSTED_TYPES),
        functions=frozenset(TRUSTED_FUNCTIONS),
        methods=frozenset(TRUSTED_METHODS),
        operator_functions=frozenset(TRUSTED_OPERATOR_FUNCTIONS),
        key_types=frozenset(TRUSTED_KEY_TYPES),
    )


def trusted_names(config_file: str | Path | None = None) -> TrustedNames:
    """The allow-list in force: the built-in names plus the operator's file, if one is set.

    Parameters
    ----------
    config_file : str or Path, optional
        The operator's file of extra names. Default: the path in ``CASELENS_TRUSTED_TYPES_FILE``
        (unset or empty: the built-in list only).

    Raises
    ------
    BundleError
        If the file is set but missing, too large, or not in the documented format — a
        broken setting refuses every model rather than silently trusting less or more.
    """
    if config_file is None:
        try:
            config_file = read_variable(TRUSTED_TYPES_FILE_ENV)
        except SettingsError as exc:  # a broken setting refuses every model, as below
            raise BundleError(str(exc)) from exc
    base = built_in_names()
    if config_file is None:
        return base
    extra = read_trusted_names_file(Path(config_file))
    return TrustedNames(
        types=base.types | extra.get("types", frozenset()),
        functions=base.functions | extra.get("functions", frozenset()),
        methods=base.methods | extra.get("methods", frozenset()),
        operator_functions=base.operator_functions | extra.get("operator_functions", frozenset()),
        key_types=base.key_types | extra.get("key_types", frozenset()),
        source=f"caselens.model.file_trust and {config_file}",
    )


def read_trusted_names_file(path: Path) -> dict[str, frozenset[str]]:
    """Read an operator's file of extra trusted names (TOML, JSON or plain text), by kind."""
    where = f"The trusted-types file {path} ({TRUSTED_TYPES_FILE_ENV})"
    try:
        size = path.stat().st_size
        if size > MAX_TRUSTED_TYPES_FILE_BYTES:
            raise BundleError(
                f"{where} is {size} bytes; the limit is {MAX_TRUSTED_TYPES_FILE_BYTES} bytes."
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"{where} cannot be read: {exc}.") from exc
    except UnicodeDecodeError as exc:
        raise BundleError(f"{where} is not UTF-8 text: {exc}.") from exc
    suffix = path.suffix.lower()
    if suffix in {".toml", ".json"}:
        try:
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BundleError(f"{where} is not valid {suffix[1:].upper()}: {exc}.") from exc
        return _names_from_mapping(data, where)
    return _names_from_lines(text.splitlines(), where)


def _names_from_mapping(data: object, where: str) -> dict[str, frozenset[str]]:
    if not isinstance(data, Mapping):
        raise BundleError(f"{where} must hold a table of lists keyed by kind ({', '.join(KINDS)}).")
    unknown = sorted(str(key) for key in data if key not in KINDS)
    if unknown:
        raise BundleError(
            f"{where} has unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}."
        )
    out: dict[str, frozenset[str]] = {}
    for kind, names in data.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BundleError(f"{where}: '{kind}' must be a list of dotted names (strings).")
        out[kind] = frozenset(_checked_name(n.strip(), where) for n in names)
    return out


def _names_from_lines(lines: Iterable[str], where: str) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind = "types"
        if ":" in line:
            prefix, line = (part.strip() for part in line.split(":", 1))
            kind = _SINGULAR.get(prefix, prefix)
            if kind not in KINDS:
                raise BundleError(
                    f"{where}, line {number}: unknown kind '{prefix}'; known: "
                    f"{', '.join(_SINGULAR)}."
                )
        found[kind].add(_checked_name(line, f"{where}, line {number}"))
    return {kind: frozenset(names) for kind, names in found.items()}


def _checked_name(name: str, where: str) -> str:
    # A dotted Python name: anything else cannot match a node, and is more likely a typo.
    parts = name.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise BundleError(f"{where}: '{name}' is not a dotted name such as 'module.Name'.")
    return name
