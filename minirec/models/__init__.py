"""Models, all with the estimator API of :mod:`minirec.models.base`.

The registry maps a short name (used by the CLI) to ``module:Class``; classes are
imported on first use so ``import minirec`` stays light.
"""

from __future__ import annotations

import importlib

from .base import Recommender, top_k
from .baselines import BiasedBaseline, GlobalMean, Popularity, Random

#: name -> "module:Class" (module relative to minirec.models)
REGISTRY: dict[str, str] = {
    "mean": "baselines:GlobalMean",
    "baseline": "baselines:BiasedBaseline",
    "popularity": "baselines:Popularity",
    "random": "baselines:Random",
    "mf": "mf:MF",
    "als": "als:ALS",
    "implicit-als": "als:ImplicitALS",
    "bpr": "bpr:BPR",
    "ranking-mf": "ranking_mf:RankingMF",
    "fm": "fm:FM",
    "itemknn": "knn:ItemKNN",
    "userknn": "knn:UserKNN",
    "gmf": "ncf:GMF",
    "ncf-mlp": "ncf:NCFMLP",
    "neumf": "ncf:NeuMF",
    "deepfm": "deepfm:DeepFM",
    "convncf": "convncf:ConvNCF",
    "autorec": "autorec:AutoRec",
    "ease": "linear:EASE",
    "puresvd": "linear:PureSVD",
    "phi-mf": "rating_nets:PhiMF",
    "rating-mlp": "rating_nets:RatingMLP",
    "deep-als": "rating_nets:DeepALS",
    "session-pop": "session_baselines:SessionPop",
    "markov": "session_baselines:MarkovChain",
    "session-itemknn": "session_baselines:SessionItemKNN",
    "gru4rec": "gru4rec:GRU4Rec",
    "sasrec": "sasrec:SASRec",
}


def get_model_class(name: str) -> type[Recommender]:
    """The model class registered under `name` (see :data:`REGISTRY`)."""
    key = name.lower()
    if key not in REGISTRY:
        raise ValueError(
            f"unknown model {name!r}; available: {', '.join(available_models())}"
        )
    mod, _, cls = REGISTRY[key].partition(":")
    try:
        return getattr(importlib.import_module(f"{__name__}.{mod}"), cls)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"model {name!r} is not available in this build ({e})") from e


def __getattr__(name: str):
    """Every registered model class by its class name, imported on first use
    (``from minirec.models import MF, NeuMF, GRU4Rec``)."""
    for spec in REGISTRY.values():
        mod, _, cls = spec.partition(":")
        if cls == name:
            return getattr(importlib.import_module(f"{__name__}.{mod}"), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_models() -> list[str]:
    """Registered names whose class can be imported."""
    out = []
    for name, spec in REGISTRY.items():
        mod, _, cls = spec.partition(":")
        try:
            getattr(importlib.import_module(f"{__name__}.{mod}"), cls)
        except (ImportError, AttributeError):
            continue
        out.append(name)
    return out


__all__ = [
    "Recommender",
    "GlobalMean",
    "BiasedBaseline",
    "Popularity",
    "Random",
    "REGISTRY",
    "get_model_class",
    "available_models",
    "top_k",
]
