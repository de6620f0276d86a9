#!/usr/bin/env python3
"""Print the Debian archive URI that the host's own apt configuration uses for SUITE.

usage: apt-mirror.py SUITE

Reads /etc/apt/sources.list and the enabled files of /etc/apt/sources.list.d (*.list in
one-line format, *.sources in deb822 format) and prints the first "deb" URI that serves
SUITE exactly (so bookworm-security and third-party repositories are skipped). Exits 1
when there is none. No mirror name is ever hard-coded in isobench.
"""

import glob
import sys


def one_line(path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            words = line.split("#", 1)[0].split()
            if len(words) < 3 or words[0] != "deb":
                continue
            words = words[1:]
            if words[0].startswith("["):
                while words and not words[0].endswith("]"):
                    words = words[1:]
                words = words[1:]
            if len(words) >= 2:
                yield words[0], [words[1]]


def deb822(path):
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    for stanza in text.split("\n\n"):
        fields, key = {}, None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split()


def main():
    suite = sys.argv[1]
    sources = []
    if glob.glob("/etc/apt/sources.list"):
        sources.append(("list", "/etc/apt/sources.list"))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*")):
        if path.endswith(".list"):
            sources.append(("list", path))
        elif path.endswith(".sources"):
            sources.append(("deb822", path))
    for kind, path in sources:
        entries = one_line(path) if kind == "list" else deb822(path)
        for uri, suites in entries:
            if suite in suites:
                print(uri.rstrip("/"))
                return 0
    print(f"no apt source for suite {suite} in the host's apt configuration", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
