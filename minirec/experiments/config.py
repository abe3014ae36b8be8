"""Experiment configs: one TOML file per published row, read and validated here.

A config lives in ``configs/<table>/<row>.toml`` (package data) and holds:

    title = "EASE"                     the row's name in the table
    model = "ease"                     a name of minirec.models.REGISTRY
    dataset = "ml-1m"                  a ``--data`` value
    split = { how = "ncf" }            the CLI's split dict; ``how = "folds"`` with
                                       ``folds = ["u1", ...]`` averages GroupLens folds
    protocol = "sampled"               rating | full | sampled (cli/protocols.py) |
                                       ctr (rating >= 4 is a click, AUC; the split
                                       a ``random`` one)
    metrics = ["HR@10", "NDCG@10"]     reported, the first one is the headline
    implicit = true                    optional: every rating becomes a 1
    valid = "sampled"                  optional, models that select their epoch
                                       (``fit(data, valid=...)``): one random
                                       training interaction per user (seed 1) + 99
                                       items the user never rated are held out, the
                                       model is fitted on the rest, keeps its best
                                       epoch on them and is scored once on the test
                                       part; the record keeps the chosen epoch(s)
    [params]                           constructor arguments of the model; a
                                       sub-table with a ``model`` key (NeuMF's
                                       ``gmf`` / ``mlp``) is an unfitted model of
                                       that name, fitted with the same ``valid``
    [select]                           optional: ``metric``, ``grid = {name = [..]}``;
                                       each grid point is fitted on the validation
                                       split of the training part, the best one is
                                       refitted on all of it
    [reference]                        ``metrics = {..}`` or ``text``, and ``source``
    [peer]                             optional: ``library`` (surprise, implicit or
                                       torch), ``algo``, ``params``: measured in
                                       the same run
    [recorded]                         a row not re-run: ``metrics``, ``source``
                                       ("file@commit"), optional ``seconds``,
                                       ``protocol``, ``note``; ``metrics = {}`` and
                                       a ``note``: a config not measured yet
    [quick]                            overrides for ``--quick``: ``users`` (keep the
                                       first N users), ``params``, ``grid``, ``folds``;
                                       a recorded row with one runs under --quick

A key that is missing, unknown or of the wrong type is an error naming the file
and the key.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..errors import MinirecError

#: the tables ``minirec reproduce`` knows, in display order
TABLES = ("rating", "ncf", "sequential", "ctr")
PROTOCOLS = ("rating", "full", "sampled", "session", "ctr")
PEERS = {
    "surprise": ("BaselineOnly", "SVD", "KNNBaseline"),
    "implicit": ("ALS", "BPR"),
    "torch": ("DeepFM",),
}
LOWER_IS_BETTER = ("RMSE", "MAE")

_REQUIRED = {"title": str, "model": str, "dataset": str, "protocol": str}
_OPTIONAL = {
    "split": dict,
    "metrics": list,
    "implicit": bool,
    "valid": str,
    "seed": int,
    "params": dict,
    "select": dict,
    "reference": dict,
    "peer": dict,
    "recorded": dict,
    "quick": dict,
}
_SUB = {
    "select": {"metric": str, "grid": dict},
    "reference": {"metrics": dict, "text": str, "source": str},
    "peer": {"library": str, "algo": str, "params": dict, "label": str},
    "recorded": {
        "metrics": dict,
        "source": str,
        "seconds": float,
        "note": str,
        "protocol": str,
    },
    "quick": {"users": int, "params": dict, "grid": dict, "folds": list},
}
#: ``valid`` values: how the validation cases are built (``Holdout.validation``)
VALID = ("sampled",)
CTR_METRICS = ("AUC", "logloss")


class ConfigError(MinirecError):
    """A config file that cannot be run as written; the message names file and key."""


@dataclass
class Config:
    """One validated config file."""

    path: Path
    table: str
    row: str
    title: str
    model: str
    dataset: str
    protocol: str
    split: dict
    metrics: list[str]
    implicit: bool = False
    valid: str | None = None
    seed: int = 0
    params: dict = field(default_factory=dict)
    select: dict | None = None
    reference: dict = field(default_factory=dict)
    peer: dict | None = None
    recorded: dict | None = None
    quick: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``table/row``, how tables and JSON files name the config."""
        return f"{self.table}/{self.row}"

    @property
    def headline(self) -> str:
        return self.metrics[0]


def _fail(path: Path, key: str, why: str) -> None:
    raise ConfigError(f"{path}: key {key!r}: {why}")


def _check_types(path: Path, where: str, d: dict, known: dict, required=()) -> None:
    for k in required:
        if k not in d:
            _fail(path, f"{where}{k}", "missing (every config needs it)")
    for k, v in d.items():
        if k not in known:
            close = difflib.get_close_matches(k, list(known), n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            _fail(path, f"{where}{k}", f"unknown key{hint} (known: {', '.join(known)})")
        want = known[k]
        ok = isinstance(v, want) and not (want is int and isinstance(v, bool))
        if want is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            _fail(
                path,
                f"{where}{k}",
                f"expected a {want.__name__}, got {type(v).__name__} {v!r}",
            )


def _check_model(path: Path, cfg: dict) -> None:
    from ..cli.params import hyperparameters
    from ..models import REGISTRY, get_model_class

    name = cfg["model"]
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        _fail(path, "model", f"{name!r} is not a registered model{hint}")
    try:
        cls = get_model_class(name)
    except ValueError as e:
        _fail(path, "model", str(e))
    known = [r["name"] for r in hyperparameters(cls)]
    for where in ("params", "quick.params"):
        d = cfg.get("params", {}) if where == "params" else cfg.get("quick", {})
        d = d if where == "params" else d.get("params", {})
        for k, v in d.items():
            if isinstance(v, dict) and k in known:
                _check_submodel(
                    path, f"{where}.{k}", v, allow_partial=where != "params"
                )
    groups = [("params", cfg.get("params", {}))]
    groups.append(("select.grid", cfg.get("select", {}).get("grid", {})))
    groups.append(("quick.params", cfg.get("quick", {}).get("params", {})))
    groups.append(("quick.grid", cfg.get("quick", {}).get("grid", {})))
    for where, d in groups:
        for k, v in d.items():
            if k not in known:
                close = difflib.get_close_matches(k, known, n=2)
                hint = (
                    f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                )
                _fail(path, f"{where}.{k}", f"{name} has no hyperparameter {k!r}{hint}")
            if where.endswith("grid") and (not isinstance(v, list) or not v):
                _fail(path, f"{where}.{k}", "a grid entry is a non-empty list")


def _check_submodel(path: Path, where: str, d: dict, allow_partial: bool) -> None:
    """A ``[params.NAME]`` table: ``model`` names a registered model, the other
    keys are its hyperparameters (``quick.params`` may override some of them)."""
    from ..cli.params import hyperparameters
    from ..models import REGISTRY, get_model_class

    name = d.get("model")
    if name is None and allow_partial:
        return
    if name not in REGISTRY:
        _fail(path, f"{where}.model", f"{name!r}: name the registered model to build")
    known = [r["name"] for r in hyperparameters(get_model_class(name))]
    for k in d:
        if k != "model" and k not in known:
            close = difflib.get_close_matches(k, known, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            _fail(path, f"{where}.{k}", f"{name} has no hyperparameter {k!r}{hint}")


def _check_valid(path: Path, cfg: dict) -> None:
    from ..models import get_model_class

    valid = cfg.get("valid")
    if valid is None:
        return
    if valid not in VALID:
        _fail(path, "valid", f"{valid!r}: choose one of {', '.join(VALID)}")
    if cfg.get("protocol") != "sampled" or cfg.get("split", {}).get("how") != "ncf":
        _fail(
            path,
            "valid",
            'valid = "sampled" holds out sampled cases of the NCF files: use it '
            'with split = { how = "ncf" } and protocol = "sampled"',
        )
    if "select" in cfg:
        _fail(path, "valid", "give either valid (epoch selection) or [select]")
    cls = get_model_class(cfg["model"])
    if not cls.accepts_valid:
        _fail(
            path,
            "valid",
            f"{cfg['model']} does not select its epoch on validation cases "
            "(fit(data, valid=...)); drop the key",
        )


def _check_ctr(path: Path, cfg: dict) -> None:
    if cfg["protocol"] != "ctr":
        return
    split = cfg.get("split")
    if split is not None and split.get("how") != "random":
        _fail(path, "split.how", "the ctr protocol splits the ratings at random: "
              'split = { how = "random", test_fraction = 0.2, seed = 0 }')  # fmt: skip
    bad = [m for m in cfg.get("metrics", []) if m not in CTR_METRICS]
    if bad:
        _fail(path, "metrics", f"{bad[0]!r}: the ctr protocol reports "
              f"{', '.join(CTR_METRICS)}")  # fmt: skip
    if cfg.get("implicit"):
        _fail(path, "implicit", "the ctr protocol needs the ratings (to threshold)")


def _check_split(path: Path, cfg: dict) -> None:
    from ..cli.protocols import SPLITS

    split = cfg.get("split")
    if split is None:
        if "recorded" not in cfg:
            _fail(path, "split", "missing (only a recorded row may leave it out)")
        return
    how = split.get("how")
    if how == "folds":
        folds = split.get("folds")
        if not isinstance(folds, list) or not folds:
            _fail(path, "split.folds", "a non-empty list of fold names, e.g. ['u1']")
    elif how not in SPLITS:
        _fail(path, "split.how", f"{how!r}: choose one of folds, {', '.join(SPLITS)}")


def parse(text: str, path: Path, table: str, row: str) -> Config:
    """The Config of TOML `text` (read from `path`); ConfigError when invalid."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    _check_types(path, "", raw, {**_REQUIRED, **_OPTIONAL}, required=_REQUIRED)
    for sub, known in _SUB.items():
        if sub in raw:
            _check_types(path, f"{sub}.", raw[sub], known)
    if raw["protocol"] not in PROTOCOLS:
        _fail(path, "protocol", f"{raw['protocol']!r}: choose one of {PROTOCOLS}")
    rec = raw.get("recorded")
    if rec is not None:
        if "metrics" not in rec:
            _fail(path, "recorded.metrics", "missing ({} for a row not measured yet)")
        if rec["metrics"] and "@" not in rec.get("source", ""):
            _fail(
                path,
                "recorded.source",
                "a recorded figure names the file and commit it comes from: "
                "<file>@<commit>",
            )
        if not rec["metrics"] and not rec.get("note"):
            _fail(path, "recorded.note", "say why the row is not measured")
    if not raw.get("metrics"):
        _fail(path, "metrics", "missing or empty: name at least one metric")
    sel = raw.get("select")
    if sel is not None:
        for k in ("metric", "grid"):
            if k not in sel:
                _fail(path, f"select.{k}", "missing")
    if "peer" in raw:
        lib, algo = raw["peer"].get("library"), raw["peer"].get("algo")
        if lib not in PEERS or algo not in PEERS[lib]:
            choices = "; ".join(f"{k}: {', '.join(v)}" for k, v in PEERS.items())
            _fail(path, "peer", f"{lib}/{algo} is not a known peer ({choices})")
    _check_split(path, raw)
    _check_model(path, raw)
    _check_valid(path, raw)
    _check_ctr(path, raw)
    return Config(
        path=path,
        table=table,
        row=row,
        title=raw["title"],
        model=raw["model"],
        dataset=raw["dataset"],
        protocol=raw["protocol"],
        split=raw.get("split") or {},
        metrics=list(raw["metrics"]),
        implicit=raw.get("implicit", False),
        valid=raw.get("valid"),
        seed=raw.get("seed", 0),
        params=raw.get("params", {}),
        select=sel,
        reference=raw.get("reference", {}),
        peer=raw.get("peer"),
        recorded=rec,
        quick=raw.get("quick", {}),
    )


def load(path: str | Path) -> Config:
    """The config at `path` (its folder names the table, its stem the row)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from None
    return parse(text, path, path.parent.name, path.stem)


def config_dir() -> Path:
    """The folder of the packaged configs."""
    return Path(str(resources.files(__package__) / "configs"))


def table_configs(table: str, root: Path | None = None) -> list[Config]:
    """The configs of `table`, in file-name order."""
    root = config_dir() if root is None else Path(root)
    folder = root / table
    if not folder.is_dir():
        tables = sorted(p.name for p in root.iterdir() if p.is_dir())
        close = difflib.get_close_matches(table, tables, n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(
            f"unknown table {table!r}{hint} (tables: {', '.join(tables)}; "
            "`minirec reproduce --list` shows them with their rows)"
        )
    return [load(p) for p in sorted(folder.glob("*.toml"), key=lambda p: p.stem)]


def table_names(root: Path | None = None) -> list[str]:
    """The tables with configs: TABLES first, in order, then any other folder."""
    root = config_dir() if root is None else Path(root)
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    return [t for t in TABLES if t in found] + [t for t in found if t not in TABLES]
