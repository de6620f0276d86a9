#!/usr/bin/env python3
"""Check that a guest image's copy of the userland kept the benchmark binaries intact.

usage: verify-binaries.py USERLAND_ROOT IMAGE_ROOT [PACKAGE...]

The reference is the userland manifest (/isobench-manifest.json in USERLAND_ROOT: a
mapping path -> sha256 under "binaries" or "sha256", or a list of {path, sha256}); when
the manifest lists none, it is every executable that dpkg installed for PACKAGE... in
USERLAND_ROOT's bin and sbin directories. Prints JSON {source, checked, mismatches,
digests}. Reads USERLAND_ROOT only.
"""

import hashlib
import json
import os
import sys

BIN_DIRS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def from_manifest(root):
    path = os.path.join(root, "isobench-manifest.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    for key in ("binaries", "sha256", "checksums"):
        entries = manifest.get(key) if isinstance(manifest, dict) else None
        if isinstance(entries, dict):
            return {p: (v if isinstance(v, str) else v.get("sha256")) for p, v in entries.items()}
        if isinstance(entries, list):
            return {e["path"]: e["sha256"] for e in entries if "path" in e and "sha256" in e}
    return {}


def from_dpkg(root, packages):
    wanted = {}
    info = os.path.join(root, "var/lib/dpkg/info")
    for spec in packages:
        pkg = spec.split("=", 1)[0]
        for name in (f"{pkg}.list", f"{pkg}:amd64.list"):
            listing = os.path.join(info, name)
            if not os.path.exists(listing):
                continue
            with open(listing, encoding="utf-8") as fh:
                for line in fh:
                    path = line.strip()
                    if not path.startswith(BIN_DIRS):
                        continue
                    full = os.path.join(root, path.lstrip("/"))
                    if os.path.isfile(full) and not os.path.islink(full) and os.access(full, os.X_OK):
                        wanted[path] = sha256(full)
    return wanted


def main():
    userland, image, packages = sys.argv[1], sys.argv[2], sys.argv[3:]
    reference = from_manifest(userland)
    source = "manifest"
    if not reference:
        reference = from_dpkg(userland, packages)
        source = "dpkg"
    mismatches = []
    for path, expected in sorted(reference.items()):
        full = os.path.join(image, path.lstrip("/"))
        actual = sha256(full) if os.path.isfile(full) else None
        if actual != expected:
            mismatches.append({"path": path, "expected": expected, "actual": actual})
    print(json.dumps({"source": source, "checked": len(reference), "mismatches": mismatches,
                      "digests": reference}))


if __name__ == "__main__":
    main()
