"""Experiment specs: load, validate (jsonschema + semantic checks), hash."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .benchmarks import BENCHMARKS, ENVIRONMENTS
from .paths import profiles_dir, schemas_dir

DEFAULTS: dict[str, Any] = {
    "warmup": 0,
    "order": "randomized",
    "seed": 0,
    "allow_tcg": False,
    "keep": False,
    "cell_timeout": 3600,
    "userland": {"suite": "bookworm", "mirror": "", "extra_packages": []},
    "hpcc": {"mode": "shared", "nb": 192, "processes": "auto"},
}


class SpecError(Exception):
    """A spec that cannot be run; the message names the problem."""


# Bounds on a spec file: a real one is a few KiB with a handful of levels; YAML aliases can
# make a tiny file expand exponentially (or into itself), which nothing must walk blindly.
MAX_SPEC_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 32
# Control characters (newline, NUL, escape, ...) are refused in every key and value: the
# schema's patterns end in "$", which Python's re also matches before a final newline.
# Only the free-text description may hold newlines and tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FREE_TEXT = (("description",),)


class _TooBig(Exception):
    pass


@dataclass(frozen=True)
class Spec:
    data: dict[str, Any]
    path: Path | None
    text: str

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def environments(self) -> list[tuple[str, str]]:
        """(env, variant) pairs in spec order."""
        out = []
        for item in self.data["environments"]:
            env, _, variant = item.partition("/")
            out.append((env, variant))
        return out


def resolve(profile_or_path: str) -> Path:
    """A profile name (quick, paper) or a path to a spec file."""
    candidate = Path(profile_or_path)
    if candidate.suffix in (".yml", ".yaml") or "/" in profile_or_path:
        if not candidate.is_file():
            raise SpecError(f"spec file not found: {profile_or_path}")
        return candidate
    path = profiles_dir() / f"{profile_or_path}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir().glob("*.yml"))
        raise SpecError(f"unknown profile {profile_or_path!r}; known profiles: {', '.join(known)}")
    return path


def _schema() -> dict[str, Any]:
    with (schemas_dir() / "experiment.schema.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def _shape_errors(data: Any) -> list[str]:
    """Keys that are not strings, control characters, and specs too large or too deeply
    nested to be real (alias bombs, self-referencing aliases); each names its key path."""
    errors: list[str] = []
    budget = [MAX_NODES]

    def where(path: tuple[str, ...]) -> str:
        return "/".join(path) or "(top level)"

    def walk(node: Any, path: tuple[str, ...]) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooBig
        if len(path) > MAX_DEPTH:
            errors.append(f"{where(path)}: nested deeper than {MAX_DEPTH} levels")
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    errors.append(f"{where(path)}: key {key!r} is not a string")
                    continue
                if _CONTROL.search(key):
                    errors.append(f"{where(path)}: key {key!r} contains a control character")
                    continue
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, str(index)))
        elif isinstance(node, str):
            pattern = _CONTROL_IN_TEXT if path in _FREE_TEXT else _CONTROL
            if pattern.search(node):
                errors.append(
                    f"{where(path)}: {node!r} contains a control character (newline, tab, ...)"
                )

    try:
        walk(data, ())
    except _TooBig:
        return [f"(top level): more than {MAX_NODES} values; not a spec (YAML alias bomb?)"]
    return errors


def _mirror_errors(mirror: Any) -> list[str]:
    """userland.mirror: "" or an http(s) URL with a host, or a file:/// URL with an absolute
    path, without whitespace, quotes or shell characters."""
    if not isinstance(mirror, str) or mirror == "":
        return []
    from urllib.parse import urlsplit

    problem = f"userland/mirror: {mirror!r} must be an http(s)://host/... or file:///path URL"
    if not re.fullmatch(r"[A-Za-z0-9._:/~+%-]+", mirror):
        return [problem + " without whitespace, quotes or shell characters"]
    try:
        url = urlsplit(mirror)
        host, _port = url.hostname, url.port  # a bad port raises ValueError
    except ValueError:
        return [problem]
    if url.scheme in ("http", "https") and host:
        return []
    if url.scheme == "file" and not url.netloc and url.path.startswith("/"):
        if ".." in url.path.split("/"):
            return [problem + " without '..'"]
        return []
    return [problem]


def _semantic_errors(data: dict[str, Any]) -> list[str]:
    errors = []
    benchmarks = data.get("benchmarks")
    for name in benchmarks if isinstance(benchmarks, dict) else {}:
        if name not in BENCHMARKS:
            errors.append(
                f"benchmarks/{name}: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}"
            )
    environments = data.get("environments")
    for index, item in enumerate(environments if isinstance(environments, list) else []):
        if not isinstance(item, str):
            continue  # the schema names the wrong type
        env = item.partition("/")[0]
        if env not in ENVIRONMENTS:
            errors.append(
                f"environments/{index}: unknown environment {item!r}; "
                f"known: {', '.join(ENVIRONMENTS)}"
            )
    userland = data.get("userland")
    if isinstance(userland, dict):
        errors.extend(_mirror_errors(userland.get("mirror")))
    return errors


def validate(data: Any) -> list[str]:
    """Every problem of a spec, each naming where it is; empty when the spec is valid."""
    if not isinstance(data, dict):
        return ["(top level): a spec must be a YAML mapping"]
    shape = _shape_errors(data)
    if shape:
        return shape  # the schema would trip over these (or never end)
    errors = _semantic_errors(data)
    validator = jsonschema.Draft202012Validator(_schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = _where(error)
        if any(e.startswith(where + ":") for e in errors):
            continue  # already explained in plain words
        errors.append(f"{where}: {error.message}")
    return errors


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    merged = json.loads(json.dumps(DEFAULTS))
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def load(profile_or_path: str) -> Spec:
    path = resolve(profile_or_path)
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES} bytes; not a spec")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a spec") from None
    errors = validate(data)
    if errors:
        raise SpecError(f"{path}: invalid spec:\n  " + "\n  ".join(errors))
    return Spec(data=with_defaults(data), path=path, text=text)
