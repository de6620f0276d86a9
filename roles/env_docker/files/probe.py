"""Run inside a new isobench container: create the workdir, report what the target sees.

Prints one JSON object: cpus (CPUs this process may run on), mem_mb (the smaller of
MemTotal and the cgroup memory limit), llc_bytes (size of the highest-level CPU cache),
and the filesystem type and mount source of the workdir.
"""

import glob
import json
import os
import sys

workdir = sys.argv[1]
os.makedirs(workdir, exist_ok=True)


def read(path):
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def mem_mb():
    total_kb = 0
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            total_kb = int(line.split()[1])
    limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = read(path)
        if value.isdigit():
            limit = int(value)
            break
    total = total_kb * 1024
    if limit is not None and limit < total:
        total = limit
    return total // (1024 * 1024)


def size_bytes(text):
    text = text.strip().upper()
    factor = {"K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024}.get(text[-1:], 1)
    digits = text.rstrip("KMGB").strip()
    return int(digits) * factor if digits.isdigit() else 0


def llc_bytes():
    best_level, best_size = -1, 0
    for index in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        kind = read(index + "/type")
        level = read(index + "/level")
        size = size_bytes(read(index + "/size"))
        if kind == "Instruction" or not level.isdigit() or size == 0:
            continue
        if int(level) > best_level or (int(level) == best_level and size > best_size):
            best_level, best_size = int(level), size
    if best_size:
        return best_size
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("cache size"):
            return size_bytes(line.split(":", 1)[1].replace(" ", ""))
    return 0


def mount_of(path):
    """(fstype, source, mountpoint) of the longest mount prefix of path."""
    best = ("", "", "")
    real = os.path.realpath(path)
    for line in read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        point = fields[4].replace("\\040", " ")
        fstype, source = right.split()[:2]
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[2]):
            best = (fstype, source, point)
    return best


fstype, source, point = mount_of(workdir)
print(
    json.dumps(
        {
            "cpus": len(os.sched_getaffinity(0)),
            "mem_mb": mem_mb(),
            "llc_bytes": llc_bytes(),
            "workdir_fstype": fstype,
            "workdir_source": source,
            "workdir_mountpoint": point,
        }
    )
)
