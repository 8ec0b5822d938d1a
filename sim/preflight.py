"""Checks made before Hydra starts: malformed YAML, or a run folder that
cannot be made, becomes one clear line.

Hydra reports most of its own errors (an unknown config group option, a
missing config file) as a short message, but a YAML syntax error in a config
file reaches it before its job starts, and it then prints a full Python
traceback. The command line therefore parses every YAML file Hydra could
load (the primary config directory and any ``--config-dir``) first, and
stops with the file, line, column and problem. ``GRIDGOV_DEBUG=1`` skips the
check and also sets ``HYDRA_FULL_ERROR=1``, so that every error comes with
its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def fail(message: str) -> None:
    """End the command as every bad input of the command line does: one line, exit status 2."""
    print(f"gridgov: {message}", file=sys.stderr)
    sys.exit(2)


def _flag_values(argv: Sequence[str], names: tuple[str, ...]) -> list[str]:
    """Values of a command-line flag given as ``--flag VALUE`` or ``--flag=VALUE``."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif arg.startswith(name + "="):
                values.append(arg[len(name) + 1:])
    return values


def config_dirs(argv: Sequence[str]) -> list[Path]:
    """Directories Hydra will read configs from, for this command line."""
    primary = _flag_values(argv, ("--config-path", "-cp"))
    dirs = [Path(primary[-1]).expanduser().resolve()] if primary else [DEFAULT_CONFIG_DIR]
    dirs += [Path(d).expanduser().resolve() for d in _flag_values(argv, ("--config-dir", "-cd"))]
    return [d for d in dirs if d.is_dir()]  # a missing directory is Hydra's own clear error


def yaml_problem(path: Path) -> str | None:
    """One line describing why ``path`` is not valid YAML, or ``None`` if it is."""
    try:
        from omegaconf._utils import get_yaml_loader  # the loader Hydra uses (rejects duplicate keys)
        loader = get_yaml_loader()
    except ImportError:  # pragma: no cover - older OmegaConf
        loader = yaml.SafeLoader
    try:
        with open(path, encoding="utf-8") as fh:
            yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return f"malformed YAML in {path}{where}: {problem}"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read config file {path}: {exc}"
    return None


def check(argv: Sequence[str]) -> str | None:
    """The first problem with the config files this command line would use, or ``None``."""
    dirs = config_dirs(argv)
    paths = [p for d in dirs for p in sorted(d.rglob("*.yaml"))]
    names = _flag_values(argv, ("--config-name", "-cn"))
    if dirs and names:  # the primary config first: the file the user named
        first = dirs[0] / f"{names[-1]}.yaml"
        if first not in paths:
            return None  # a missing primary config is Hydra's own clear error
        paths = [first, *(p for p in paths if p != first)]
    for path in paths:
        problem = yaml_problem(path)
        if problem is not None:
            return problem
    return None


def _default_run_dir(argv: Sequence[str]) -> str | None:
    """``hydra.run.dir`` of the project's own config, when the command line uses it."""
    if _flag_values(argv, ("--config-path", "-cp", "--config-name", "-cn")):
        return None
    try:
        with open(DEFAULT_CONFIG_DIR / "config.yaml", encoding="utf-8") as fh:
            value = yaml.safe_load(fh)["hydra"]["run"]["dir"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def run_dir_problem(argv: Sequence[str]) -> str | None:
    """Why a single run's folder (``hydra.run.dir``) cannot be made, or ``None``.

    Hydra makes the folder before the job starts, and a folder it cannot make
    ends in a Python traceback. It is made here first, as Hydra would, and
    the folders made are removed again. A path with an interpolation (the
    default, ``results/runs/${now:...}``) is checked up to its fixed part: a
    folder is made and removed inside that (sweeps check
    ``hydra.sweep.dir`` in ``sim.callbacks``).
    """
    if any(a in ("-m", "--multirun") for a in argv):
        return None
    values = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    text = values[-1] if values else _default_run_dir(argv)
    if text is None:
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    fixed = text.split("${", 1)[0]
    interpolated = fixed != text
    # as Hydra: no ~ expansion (it makes ./~/...); with an interpolation, the folder its fixed part names
    folder = Path((fixed.rsplit("/", 1)[0] if "/" in fixed else ".") if interpolated else text)
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if interpolated:
            Path(tempfile.mkdtemp(prefix=".gridgov-check-", dir=folder)).rmdir()
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"invalid config: hydra.run.dir={text!r}: cannot make the run folder there ({where}{exc.strerror or exc})"
    finally:
        # Undo: Hydra makes it again, and a command that then stops (an
        # unknown config option, say) should not leave empty folders behind.
        for p in made:
            with contextlib.suppress(OSError):
                p.rmdir()
    return None


def run(argv: Sequence[str] | None = None) -> None:
    """Exit with status 2 and one line if a config file is malformed or the
    run folder cannot be made (before Hydra starts)."""
    if os.environ.get("GRIDGOV_DEBUG"):
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")
        return
    argv = sys.argv[1:] if argv is None else argv
    problem = check(argv) or run_dir_problem(argv)
    if problem is not None:
        fail(problem)
