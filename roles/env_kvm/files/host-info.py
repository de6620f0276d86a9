#!/usr/bin/env python3
"""Describe the host for guest sizing, as JSON on stdout.

cpus, sockets, cores_per_socket, threads_per_core, cpu_order (host CPUs sorted by
socket, core, CPU: the order in which QEMU numbers the vCPUs of a guest with the same
topology, so pinning vCPU i to cpu_order[i] maps guest siblings to host siblings),
mem_mb, llc_bytes (size of one instance of the last-level cache), vhost_net,
hugepage_kb, hugepages_total, hugepages_free.
"""

import json
import os
import subprocess


def lscpu(*args):
    out = subprocess.run(["lscpu", *args], check=True, capture_output=True, text=True)
    return out.stdout


def main():
    rows = []
    for line in lscpu("-p=CPU,CORE,SOCKET,ONLINE").splitlines():
        if line.startswith("#"):
            continue
        cpu, core, socket, online = line.split(",")
        if online.upper() in ("Y", ""):
            rows.append((int(socket or 0), int(core or 0), int(cpu)))
    rows.sort()
    sockets = len({r[0] for r in rows}) or 1
    cores = len({(r[0], r[1]) for r in rows}) or 1
    info = {
        "cpus": len(rows),
        "sockets": sockets,
        "cores_per_socket": max(1, cores // sockets),
        "threads_per_core": max(1, len(rows) // cores),
        "cpu_order": [r[2] for r in rows],
    }

    llc = 0
    try:
        caches = json.loads(lscpu("-C=NAME,ONE-SIZE,LEVEL", "-B", "-J"))["caches"]
        top = max(caches, key=lambda c: int(c.get("level") or 0))
        llc = int(top.get("one-size") or 0)
    except (subprocess.CalledProcessError, KeyError, ValueError, json.JSONDecodeError):
        pass
    info["llc_bytes"] = llc

    meminfo = {}
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            meminfo[key] = int(value.split()[0])
    info["mem_mb"] = meminfo["MemTotal"] // 1024
    info["hugepage_kb"] = meminfo.get("Hugepagesize", 2048)
    info["hugepages_total"] = meminfo.get("HugePages_Total", 0)
    info["hugepages_free"] = meminfo.get("HugePages_Free", 0)
    info["vhost_net"] = os.path.exists("/dev/vhost-net")
    print(json.dumps(info))


if __name__ == "__main__":
    main()
