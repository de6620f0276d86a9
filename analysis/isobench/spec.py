"""Experiment specs: load, validate (jsonschema + semantic checks), hash."""

from __future__ import annotations

import hashlib
import json
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


def _semantic_errors(data: dict[str, Any]) -> list[str]:
    errors = []
    for name in data.get("benchmarks", {}) or {}:
        if name not in BENCHMARKS:
            errors.append(
                f"benchmarks/{name}: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}"
            )
    for item in data.get("environments", []) or []:
        env = str(item).partition("/")[0]
        if env not in ENVIRONMENTS:
            errors.append(
                f"environments: unknown environment {item!r}; known: {', '.join(ENVIRONMENTS)}"
            )
    return errors


def validate(data: Any) -> list[str]:
    """Every problem of a spec, each naming where it is; empty when the spec is valid."""
    if not isinstance(data, dict):
        return ["(top level): a spec must be a YAML mapping"]
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
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    errors = validate(data)
    if errors:
        raise SpecError(f"{path}: invalid spec:\n  " + "\n  ".join(errors))
    return Spec(data=with_defaults(data), path=path, text=text)
