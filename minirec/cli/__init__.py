"""The ``minirec`` command line.

    minirec datasets                      what data is found where
    minirec models                        the models, one line each
    minirec params MODEL                  a model's hyperparameters, defaults and docs
                                          (also: minirec train MODEL --help)
    minirec train MODEL --data ml-100k --out m.npz [--set k=64 --set lr=0.01]
                  [--split random|per-user|leave-last-out|temporal|ncf]
                  [--test-fraction 0.1] [--seed 0] [--all-data]
    minirec evaluate m.npz [--protocol rating|full|sampled]
    minirec recommend --model m.npz --user 196 [--user 186 | --users FILE] -n 10
                  [--items FILE] [--history FILE] [--cold-start] [--all]
    minirec similar --model m.npz --item 50 [-n 10]   (or --user ID)
    minirec export m.npz --out DIR [--format npy|csv]
    minirec demo                          train + evaluate + recommend in one go
    minirec reproduce TABLE [--quick] [--only ROW] [--list]
                                          the configs behind a published table
    minirec --version

``train`` holds out a test part (``--split``, default random 90/10 with
``--seed``), reports the metric that fits the model (RMSE for rating models,
HR@10 / NDCG@10 for ranking ones) and stores the dataset and split in the model
file; ``evaluate`` rebuilds that split and refuses flags that ask for another
(test ratings would leak from training). ``--all-data`` trains a final model on
everything; such a model cannot be evaluated.

Every command takes ``--json`` and then prints exactly one JSON object on stdout:
the result, or ``{"error": ..., "type": ...}`` with a non-zero exit status (2 for
bad input, 1 for an internal error). Set MINIREC_DEBUG=1 to see the traceback of
an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import MinirecError
from . import commands as C
from . import queries as Q
from . import reproduce as R
from ._io import CliError, UsageError, error_report
from .params import format_hyperparameters
from .protocols import PROTOCOLS, SPLITS

__all__ = ["main", "build_parser", "CliError"]

# errors a user's input or files cause: a one-line message, exit status 2
_USER_ERRORS = (MinirecError, ValueError, OSError)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised (so ``--json`` can report them)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)", self.format_usage())


class _TrainHelp(argparse.Action):
    """``-h`` of ``train``: the usual help, then the hyperparameters of the model
    named before it (``minirec train mf --help``)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            help="show this help (and, after a MODEL, its hyperparameters) and exit",
        )

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        model = getattr(namespace, "model", None)
        if model:
            try:
                text = format_hyperparameters(model)
            except ValueError as e:
                text = f"minirec: error: {e}"
            print("\n" + text)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="minirec",
        description="minirec: train, evaluate and query recommender models.",
        epilog="`minirec COMMAND --help` describes a command.",
    )
    p.add_argument("--version", action="version", version=f"minirec {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def out_json(sp):
        sp.add_argument("--json", action="store_true", help="print one JSON object")

    def data_args(sp, default: str | None):
        sp.add_argument(
            "--data",
            default=default,
            metavar="NAME|PATH",
            help="synthetic, ml-100k, ml-1m, ... or a MovieLens folder"
            + (f" (default {default})" if default else ""),
        )
        sp.add_argument(
            "--download",
            action="store_true",
            help="download the MovieLens zip from GroupLens if not found",
        )

    def split_args(sp, seed_default: int | None):
        sp.add_argument(
            "--split",
            choices=SPLITS,
            default=None,
            help="how the test part is held out (default random)",
        )
        sp.add_argument(
            "--test-fraction",
            type=_fraction,
            default=None,
            help="share of the ratings held out (default 0.1)",
        )
        sp.add_argument(
            "--seed",
            type=int,
            default=seed_default,
            help="seed of the split and of sampled negatives",
        )

    def hyper(sp):
        sp.add_argument(
            "--set",
            action="append",
            metavar="NAME=VALUE",
            help="a hyperparameter, e.g. --set k=64 --set lr=0.01 "
            "(`minirec params MODEL` lists them)",
        )

    sp = sub.add_parser("datasets", help="what data is found where")
    out_json(sp)
    sp.set_defaults(func=C.cmd_datasets)

    sp = sub.add_parser("models", help="the models, one line each")
    out_json(sp)
    sp.set_defaults(func=C.cmd_models)

    sp = sub.add_parser(
        "params", help="a model's hyperparameters with defaults and docs"
    )
    sp.add_argument("model", help="model name (see `minirec models`)")
    out_json(sp)
    sp.set_defaults(func=C.cmd_params)

    sp = sub.add_parser(
        "train",
        help="train a model, report its held-out metric, save it",
        add_help=False,
    )
    sp.add_argument("-h", "--help", action=_TrainHelp)
    sp.add_argument("model", help="model name (see `minirec models`)")
    sp.add_argument("--out", metavar="FILE", help="where to save the model (.npz)")
    hyper(sp)
    data_args(sp, "ml-100k")
    split_args(sp, 0)
    sp.add_argument(
        "--all-data",
        action="store_true",
        help="train a final model on every rating (no split, no metric)",
    )
    out_json(sp)
    sp.set_defaults(func=C.cmd_train)

    sp = sub.add_parser("evaluate", help="evaluate a saved model on its own test split")
    sp.add_argument("model", help="a model file written by `minirec train`")
    sp.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=None,
        help="rating (RMSE), full (rank every item) or sampled (1 + "
        "--negatives); default: rating for rating models, else full",
    )
    sp.add_argument(
        "--negatives",
        type=_positive,
        default=99,
        help="sampled items per test pair for --protocol sampled",
    )
    data_args(sp, None)
    split_args(sp, None)
    out_json(sp)
    sp.set_defaults(func=C.cmd_evaluate)

    sp = sub.add_parser("recommend", help="top-n items for users")
    sp.add_argument("--model", required=True, metavar="FILE", help="a model file")
    sp.add_argument(
        "--user",
        action="append",
        metavar="ID",
        help="raw user id as in the data (repeatable)",
    )
    sp.add_argument("--users", metavar="FILE", help="a file of user ids, one per line")
    sp.add_argument(
        "--items",
        metavar="FILE",
        help="rank only these candidate item ids (one per line)",
    )
    sp.add_argument(
        "--history",
        metavar="FILE",
        help="items (or item,rating lines) of a user the model has not "
        "seen: recommend for them without refitting",
    )
    sp.add_argument(
        "-n", type=_positive, default=10, help="items per user (default 10)"
    )
    sp.add_argument("--all", action="store_true", help="do not filter seen items")
    sp.add_argument(
        "--cold-start",
        action="store_true",
        help="recommend popular items to an unknown user instead of failing",
    )
    out_json(sp)
    sp.set_defaults(func=Q.cmd_recommend)

    sp = sub.add_parser("similar", help="the items (or users) most like given ones")
    sp.add_argument("--model", required=True, metavar="FILE", help="a model file")
    sp.add_argument(
        "--item", action="append", metavar="ID", help="raw item id (repeatable)"
    )
    sp.add_argument(
        "--user", action="append", metavar="ID", help="raw user id (repeatable)"
    )
    sp.add_argument(
        "--items",
        metavar="FILE",
        help="consider only these candidate item ids (one per line)",
    )
    sp.add_argument(
        "-n", type=_positive, default=10, help="neighbours each (default 10)"
    )
    out_json(sp)
    sp.set_defaults(func=Q.cmd_similar)

    sp = sub.add_parser("export", help="write a model's embeddings as .npy or .csv")
    sp.add_argument("model", help="a model file")
    sp.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    sp.add_argument("--format", choices=("npy", "csv"), default="npy")
    out_json(sp)
    sp.set_defaults(func=Q.cmd_export)

    sp = sub.add_parser("demo", help="train, evaluate and recommend in one go")
    sp.add_argument("--model", default="mf", help="model name (default mf)")
    hyper(sp)
    sp.add_argument("--user", default=None, metavar="ID")
    sp.add_argument("--seed", type=int, default=0, help="seed of the split")
    data_args(sp, None)
    out_json(sp)
    sp.set_defaults(func=C.cmd_demo)

    R.add_parser(sub, out_json)
    return p


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return n


def _fraction(text: str) -> float:
    try:
        f = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < f < 1.0:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1 (e.g. 0.1)")
    return f


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 bad input, 1 internal)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    json_mode = "--json" in argv
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except BrokenPipeError:  # `minirec ... | head`: the reader left; stop quietly
        try:  # and keep Python's exit-time flush of stdout from failing again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except KeyboardInterrupt:
        print("minirec: interrupted", file=sys.stderr)
        return 130
    except UsageError as e:
        if not json_mode:
            sys.stderr.write(e.usage)
        _report(e, json_mode)
        return 2
    except _USER_ERRORS as e:
        _report(e, json_mode)
        return 2
    except Exception as e:  # noqa: BLE001  (a bug: still one line, never a traceback)
        if os.environ.get("MINIREC_DEBUG"):
            raise
        message = (
            f"internal error ({type(e).__name__}: {e}); please report it, with "
            "MINIREC_DEBUG=1 set to show the traceback"
        )
        _report(e, json_mode, message)
        return 1


def _report(exc: BaseException, json_mode: bool, message: str | None = None) -> None:
    text = error_report(exc, json_mode, message)
    print(text, file=sys.stdout if json_mode else sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
