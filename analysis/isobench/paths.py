"""Where the project's files are, found from the installed package (editable install)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root: ISOBENCH_ROOT, else two levels above the package."""
    env = os.environ.get("ISOBENCH_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def schemas_dir() -> Path:
    return project_root() / "schemas"


def profiles_dir() -> Path:
    return project_root() / "playbooks" / "profiles"


def inventories_dir() -> Path:
    return project_root() / "inventories"


def ensure_ansible_on_path() -> None:
    """Put this interpreter's bin folder (the venv with ansible) first on PATH."""
    import sys

    venv_bin = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [venv_bin]:
        os.environ["PATH"] = os.pathsep.join([venv_bin, *parts])


def secrets_dir(run_id: str) -> Path:
    """The controller folder of one run's generated keys and passwords (mode 0700), kept
    out of the results folder: .cache/keys/<run-id>."""
    if not run_id or "/" in run_id or run_id in (".", "..") or run_id.startswith("."):
        raise ValueError(f"not a run id: {run_id!r}")
    path = project_root() / ".cache" / "keys" / run_id
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def teardown_dir(run_id: str) -> Path:
    """Runner files of a teardown that cannot go into the run's results folder (full disk)."""
    return project_root() / ".cache" / "teardown" / run_id
