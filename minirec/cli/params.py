"""Hyperparameters as the command line shows and takes them.

The names and defaults come from the model class's ``__init__`` signature, the
type and text from the numpydoc "Parameters" section of its docstring (a name the
class does not describe is looked up in its base classes and in the classes its
docstring refers to with ``:class:`Name```, e.g. "Others as :class:`GMF`").
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import sys
import textwrap
from typing import Any

from ..models import REGISTRY, get_model_class
from ._io import CliError, warn

_CLASS_REF = re.compile(r":class:`~?([\w.]+)`")
_NO_DEFAULT = "(required)"


def _parameters_section(doc: str) -> list[str]:
    """The lines of the numpydoc "Parameters" section of `doc` (dedented)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    for n in range(len(lines) - 1):
        if lines[n].strip() == "Parameters" and set(lines[n + 1].strip()) == {"-"}:
            body = []
            for m in range(n + 2, len(lines)):
                nxt = lines[m + 1].strip() if m + 1 < len(lines) else ""
                if lines[m].strip() and nxt and set(nxt) == {"-"}:
                    break  # the next section's header
                body.append(lines[m])
            return body
    return []


def parse_parameters(doc: str) -> dict[str, tuple[str, str]]:
    """``{name: (type, text)}`` from a numpydoc "Parameters" section.

    An entry is an unindented ``name : type`` line (``a, b : t1, t2`` describes
    several names) followed by indented text; an unindented line without `` : ``
    ends the entries.
    """
    out: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    types: list[str] = []
    text: list[str] = []

    def flush() -> None:
        joined = " ".join(t.strip() for t in text if t.strip())
        for n, name in enumerate(names):
            kind = types[n] if len(types) == len(names) else ", ".join(types)
            out.setdefault(name, (kind, joined))

    for line in _parameters_section(doc):
        if line[:1].isspace() or not line.strip():
            text.append(line)
            continue
        flush()
        head, sep, kind = line.partition(" : ")
        if not sep:
            if re.fullmatch(r"[\w, ]+", line.strip()):  # "name" alone, no type
                head, kind = line, ""
            else:
                names, types, text = [], [], []
                break
        names = [h.strip() for h in head.split(",") if h.strip()]
        types = _split_types(kind.strip(), len(names))
        text = []
    flush()
    return out


def _split_types(kind: str, n: int) -> list[str]:
    """``"int, sequence of int"`` for two names -> ["int", "sequence of int"]; a type
    that is not one per name is shared by all of them."""
    if n > 1:
        parts = [p.strip() for p in kind.split(",")]
        if len(parts) == n:
            return parts
    return [kind] * n


def _related_classes(cls: type) -> list[type]:
    """Base classes, then the classes the docstring names with :class:`X`."""
    out = [c for c in cls.__mro__[1:] if c is not object]
    module = sys.modules.get(cls.__module__)
    for ref in _CLASS_REF.findall(cls.__doc__ or ""):
        obj = getattr(module, ref.rsplit(".", 1)[-1], None)
        if isinstance(obj, type) and obj is not cls and obj not in out:
            out.append(obj)
    return out


def hyperparameters(cls: type) -> list[dict[str, Any]]:
    """One dict per constructor argument: name, default, type, doc."""
    docs = parse_parameters(cls.__doc__ or "")
    related = None
    rows = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind, text = docs.get(name, ("", ""))
        if not text:
            if related is None:
                related = [
                    parse_parameters(c.__doc__ or "") for c in _related_classes(cls)
                ]
            found = [o[name] for o in related if name in o]
            described = [f for f in found if f[1]]
            if described:
                kind, text = kind or described[0][0], described[0][1]
            elif found and not kind:
                kind = found[0][0]
        rows.append(
            {
                "name": name,
                "default": None if p.default is p.empty else p.default,
                "required": p.default is p.empty,
                "type": kind,
                "doc": text,
            }
        )
    return rows


def model_class(name: str) -> type:
    """The class of a CLI model name; an unknown name is an error with the nearest
    registered names."""
    if name.lower() not in REGISTRY:
        close = difflib.get_close_matches(name.lower(), list(REGISTRY), n=3)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise CliError(
            f"unknown model {name!r}; {hint}`minirec models` lists the "
            f"{len(REGISTRY)} models"
        )
    return get_model_class(name)


def build_model(name: str, pairs: list[str] | None):
    """The model `name` with the hyperparameters of ``--set`` pairs."""
    cls = model_class(name)
    params = parse_sets(pairs, name)
    try:
        return cls(**params)
    except (ValueError, TypeError) as e:  # the constructor's check of a value
        message = set_terms(str(e), cls)
        raise CliError(
            message if "--set " in message else f"--set: {message}"
        ) from None


def set_terms(message: str, cls: type) -> str:
    """`message` with ``name=value`` of a hyperparameter of `cls` written as the
    flag that sets it, ``--set name=value``."""
    names = [r["name"] for r in hyperparameters(cls)]
    if not names:
        return message
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.sub(rf"(?<![\w.-])({alternatives})=", r"--set \1=", message)


def format_hyperparameters(model_name: str) -> str:
    """The text `minirec params MODEL` prints."""
    cls = model_class(model_name)
    rows = hyperparameters(cls)
    kind = "predicts ratings" if cls.predicts_ratings else "ranks items"
    head = [f"{model_name} ({cls.__module__}.{cls.__name__}, {kind})"]
    if not rows:
        return head[0] + "\n  no hyperparameters"
    head.append("hyperparameters (set with --set NAME=VALUE):")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        default = (
            _NO_DEFAULT if r["required"] else json.dumps(r["default"], default=repr)
        )
        kind = f" ({r['type']})" if r["type"] else ""
        head.append(f"  {r['name']:<{width}}  = {default}{kind}")
        if r["doc"]:
            pad = " " * (width + 6)
            head.append(
                textwrap.fill(r["doc"], 88, initial_indent=pad, subsequent_indent=pad)
            )
    return "\n".join(head)


def parse_value(text: str) -> Any:
    """A --set value: JSON (64, 0.01, true, null, [64, 32], "x"), the Python spellings
    True / False / None, or else the text itself."""
    python = {"True": True, "False": False, "None": None}
    if text in python:
        return python[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(
    pairs: list[str] | None, model_name: str | None = None
) -> dict[str, Any]:
    """``["k=64", "lr=0.01"]`` -> {"k": 64, "lr": 0.01}; with `model_name`, a name the
    model does not take is an error with the nearest names ("did you mean")."""
    out: dict[str, Any] = {}
    for p in pairs or []:
        name, sep, value = p.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"--set expects NAME=VALUE (e.g. --set k=64), got {p!r}")
        out[name] = parse_value(value)
    if model_name is not None:
        cls = model_class(model_name)
        known = [r["name"] for r in hyperparameters(cls)]
        for name in list(out):
            new = cls.renamed_params.get(name)
            if new is not None and name not in known:
                warn(
                    None,
                    f"--set {name}: {model_name} calls it {new} now; use "
                    f"--set {new}=...",
                )
                out[new] = out.pop(name)
                continue
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3)
                hint = (
                    f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                )
                listing = ", ".join(known) if known else "none"
                raise CliError(
                    f"--set {name}=...: {model_name} has no hyperparameter {name!r}"
                    f"{hint} (it takes: {listing}; `minirec params {model_name}` "
                    "describes them)"
                )
    return out
