"""End-to-end tests of `isobench clean-hosts` on this machine (root, Debian).

Leftovers are made the way a killed run leaves them: a process chrooted into a userland,
/proc bind-mounted into it and a tmpfs below its work folder, test files, a guest run
folder and base image, libvirt domains isobench--* (defined, never started), and a Docker
container, volume, network and userland image (created, never started). clean-hosts must
remove them all, and a second run must change nothing.

Most of it runs against a scratch inventory (localhost, with the isobench folders moved
under the test's tmp folder and clean_hosts_run_pattern limited to the test's runs), so
that nothing of other tests or runs is touched. One test runs `--inventory local
--keep-userlands --keep-images` on the real folders; it is skipped while another isobench
run may be live on this machine (an ansible-playbook process runs, or a process runs
inside /var/lib/isobench).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import run_cli, userland_mounts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, chroot, engines)"),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("chroot", "findmnt", "ldd", "mountpoint")),
        reason="needs chroot, findmnt, ldd and mountpoint",
    ),
]

STATE = Path("/var/lib/isobench")
URI = "qemu:///system"


# ---------------------------------------------------------------- guards and helpers


def _busy_reason() -> str | None:
    """Why cleaning this machine now could hurt another run, or None."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            root = os.readlink(proc / "root")
        except OSError:
            continue
        if any(os.path.basename(a) == b"ansible-playbook" for a in argv[:3]):
            return f"an ansible-playbook runs (pid {proc.name}): another isobench run may be live"
        if root.startswith(str(STATE) + "/"):
            return f"pid {proc.name} runs inside {root}: an isobench run may be live"
    return None


@pytest.fixture
def quiet_machine() -> None:
    """Skips a test that cleans this machine while another isobench run may be live."""
    reason = _busy_reason()
    if reason:
        pytest.skip(reason)


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


def _mounts_below(path: Path) -> list[str]:
    prefix = str(path) + "/"
    out = _sh("findmnt", "--raw", "--noheadings", "--output", "TARGET").stdout
    return [m for m in out.splitlines() if m.startswith(prefix)]


def _mini_rootfs(root: Path) -> None:
    """A root file system with only /usr/bin/sleep and the libraries it loads."""
    sleep = Path(shutil.which("sleep") or "/usr/bin/sleep").resolve()
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copy2(sleep, root / "usr" / "bin" / "sleep")
    for lib in re.findall(r"(/\S+) \(0x", _sh("ldd", str(sleep)).stdout):
        dest = root / lib.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(lib).resolve(), dest)


def _leave_native_leftovers(userland: Path) -> subprocess.Popen[bytes]:
    """What a killed native cell leaves: /proc bound into the userland, a tmpfs below the
    work folder, a test file, and a tool still running chrooted into the userland."""
    root = userland / "rootfs"
    _mini_rootfs(root)
    (root / "proc").mkdir()
    work = root / "var" / "lib" / "isobench" / "work"
    (work / "mnt").mkdir(parents=True)
    (work / "input.txt").write_text("benchmark input\n")
    _sh("mount", "--bind", "/proc", str(root / "proc"))
    _sh("mount", "-t", "tmpfs", "isobench-test", str(work / "mnt"))
    proc = subprocess.Popen(["chroot", str(root), "/usr/bin/sleep", "300"], start_new_session=True)
    for _ in range(50):
        try:
            if os.readlink(f"/proc/{proc.pid}/root") == str(root):
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"chroot {root} sleep did not start")


def _remove_tree(path: Path) -> None:
    """Undo what a test left, never following a mount out of the tree."""
    for mount in sorted(_mounts_below(path), reverse=True):
        _sh("umount", "-l", mount, check=False)
    if path.exists():
        _sh("rm", "-rf", "--one-file-system", "--", str(path))


def _virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _sh("virsh", "-c", URI, *args, check=check)


def _libvirt_ready() -> bool:
    if shutil.which("virsh") is None:
        return False
    comms = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            comms.add(comm.read_text().strip())
        except OSError:
            continue
    return bool({"libvirtd", "virtqemud"} & comms) and _virsh("list", check=False).returncode == 0


def _domains() -> list[str]:
    return _virsh("list", "--all", "--name").stdout.split()


def _define_domain(name: str, disk: Path | None = None) -> None:
    disk_xml = (
        f"<devices><disk type='file' device='disk'><source file='{disk}'/>"
        "<target dev='vda' bus='virtio'/></disk></devices>"
        if disk
        else ""
    )
    xml = Path(f"/tmp/{name}.xml")
    xml.write_text(
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
        f"{disk_xml}</domain>"
    )
    try:
        _virsh("define", str(xml))
    finally:
        xml.unlink()


def _docker_reason() -> str | None:
    """None when a Docker engine answers (started the way role docker starts it without
    systemd when it is installed but stopped), else why the Docker part is skipped."""
    if shutil.which("docker") is None:
        return "no docker CLI on this machine"
    if _sh("docker", "info", check=False).returncode == 0:
        return None
    dockerd, config = Path("/usr/sbin/dockerd"), Path("/etc/docker/daemon.json")
    if not dockerd.exists() or not config.exists():
        return "Docker engine not installed (role docker never ran here)"
    _sh(
        "start-stop-daemon", "--start", "--background", "--output", "/var/log/docker.log",
        "--pidfile", "/run/docker.pid", "--exec", str(dockerd), "--",
        "--pidfile", "/run/docker.pid", "--config-file", str(config),
        check=False,
    )  # fmt: skip
    for _ in range(60):
        if _sh("docker", "info", check=False).returncode == 0:
            return None
        time.sleep(1)
    return "the Docker engine does not answer (see /var/log/docker.log)"


def _scratch_inventory(tmp_path: Path, state: Path) -> Path:
    """localhost, with every isobench folder moved below ``state``, the image repository
    renamed and only runs test-clean-* cleaned: runs of other tests are never touched."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  children:\n    isobench_hosts:\n      hosts:\n        localhost:\n"
        "          ansible_connection: local\n"
        "          ansible_python_interpreter: /usr/bin/python3\n"
        f"          userland_base_dir: {state}/userland\n"
        f"          clean_hosts_state_dir: {state}\n"
        "          clean_hosts_docker_image_repository: isobench-test-clean\n"
        '          clean_hosts_run_pattern: "^test-clean-"\n'
    )
    return inv


@pytest.fixture
def tag() -> str:
    return f"test-clean-{secrets.token_hex(3)}"


@pytest.fixture
def scratch(tmp_path: Path, tag: str) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    _remove_tree(state)
    if shutil.which("virsh") and _libvirt_ready():
        for name in _domains():
            if tag in name:
                _virsh("destroy", name, check=False)
                _virsh("undefine", name, "--nvram", check=False)


# ---------------------------------------------------------------- tests


def test_clean_hosts_removes_every_leftover_then_changes_nothing(
    tmp_path: Path, scratch: Path, tag: str
) -> None:
    state = scratch
    userland = state / "userland" / "bookworm-0123456789ab"
    chrooted = _leave_native_leftovers(userland)
    run_dir = state / "kvm" / "runs" / tag
    run_dir.mkdir(parents=True)
    (run_dir / "kvm-untuned.qcow2").write_bytes(b"\0" * 4096)
    (state / "kvm" / "images" / "0123456789abcdef").mkdir(parents=True)
    (state / "kvm" / "images" / "0123456789abcdef" / "base.raw").write_bytes(b"\0" * 4096)

    libvirt = _libvirt_ready()
    if libvirt:
        others = sorted(d for d in _domains() if d.startswith("isobench--"))
        stray_disk = state / "kvm" / f"{tag}-stray.qcow2"
        stray_disk.write_bytes(b"\0" * 4096)
        _define_domain(f"isobench--{tag}--kvm-untuned")
        _define_domain(f"isobench--{tag}-stray", disk=stray_disk)

    docker_skipped = _docker_reason()
    image = f"isobench-test-clean:{tag}"
    if docker_skipped is None:
        empty = tmp_path / "empty-image"
        (empty / "etc").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(empty), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", "LABEL isobench.userland=test", "-", image],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
        tar.wait()
        label = f"isobench.run={tag}"
        _sh("docker", "volume", "create", "--label", label, f"isobench-{tag}-work")
        _sh("docker", "network", "create", "--label", label, f"isobench-{tag}")
        _sh(
            "docker", "create", "--name", f"isobench-{tag}", "--label", label,
            "--mount", f"type=volume,source=isobench-{tag}-work,target=/work",
            image, "/nonexistent",
        )  # fmt: skip
    else:
        print(f"Docker part skipped: {docker_skipped}")

    inventory = _scratch_inventory(tmp_path, state)
    started = time.monotonic()
    first = run_cli("clean-hosts", "--inventory", str(inventory), timeout=600)
    print(f"clean-hosts: {time.monotonic() - started:.1f} s\n{first.stdout}{first.stderr}")
    assert first.returncode == 0, first.stdout + first.stderr

    assert chrooted.wait(timeout=10) == -9  # SIGKILL
    assert _mounts_below(state) == []
    assert not state.exists()
    summary = next(line for line in first.stdout.splitlines() if "removed" in line)
    assert "removed 1 process(es), 2 mount(s)" in summary
    assert "1 guest run folder(s), 1 work folder(s), 1 userland(s), 1 guest image(s)" in summary
    if libvirt:
        assert not [d for d in _domains() if tag in d]
        assert "2 domain(s)" in summary
        assert sorted(d for d in _domains() if d.startswith("isobench--")) == others
    if docker_skipped is None:
        assert _sh("docker", "ps", "-aq", "--filter", f"label=isobench.run={tag}").stdout == ""
        volumes = _sh("docker", "volume", "ls", "-q", "--filter", f"label=isobench.run={tag}")
        assert volumes.stdout == ""
        networks = _sh("docker", "network", "ls", "-q", "--filter", f"label=isobench.run={tag}")
        assert networks.stdout == ""
        assert _sh("docker", "image", "inspect", image, check=False).returncode != 0
        assert "1 container(s), 1 volume(s), 1 network(s), 1 image(s) from Docker" in summary

    started = time.monotonic()
    second = run_cli("clean-hosts", "--inventory", str(inventory), timeout=600)
    print(f"again: {time.monotonic() - started:.1f} s\n{second.stdout}{second.stderr}")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed:" not in second.stdout
    assert ", 0 change(s)" in second.stdout


def test_keep_userlands_on_the_real_folders(tag: str, quiet_machine: None) -> None:
    """--inventory local --keep-userlands --keep-images: the processes, mounts and work
    folder of a userland go, the userland itself and every cache other tests use stay."""
    userlands = STATE / "userland"
    before = sorted(p.name for p in userlands.iterdir()) if userlands.is_dir() else []
    images = STATE / "kvm" / "images"
    images_before = sorted(p.name for p in images.iterdir()) if images.is_dir() else []
    fake = userlands / tag
    stray_disk = STATE / "kvm" / f"{tag}-stray.qcow2"
    libvirt = _libvirt_ready()
    try:
        chrooted = _leave_native_leftovers(fake)
        if libvirt:  # a guest of no known run: its disk below the state folder goes too
            stray_disk.parent.mkdir(parents=True, exist_ok=True)
            stray_disk.write_bytes(b"\0" * 4096)
            _define_domain(f"isobench--{tag}-stray", disk=stray_disk)
        result = run_cli(
            "clean-hosts", "--inventory", "local", "--keep-userlands", "--keep-images",
            timeout=600,
        )  # fmt: skip
        print(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "(keeping userlands and images)" in result.stdout
        assert chrooted.wait(timeout=10) == -9
        assert _mounts_below(fake) == []
        assert userland_mounts() == []
        assert not (fake / "rootfs" / "var" / "lib" / "isobench" / "work").exists()
        assert (fake / "rootfs" / "usr" / "bin" / "sleep").is_file()  # kept
        assert sorted(p.name for p in userlands.iterdir()) == sorted([*before, tag])
        if images_before:
            assert sorted(p.name for p in images.iterdir()) == images_before
        if libvirt:
            assert not [d for d in _domains() if tag in d]
            assert not stray_disk.exists()
    finally:
        _remove_tree(fake)
        stray_disk.unlink(missing_ok=True)
        if libvirt and f"isobench--{tag}-stray" in _domains():
            _virsh("undefine", f"isobench--{tag}-stray", check=False)


def test_a_mount_in_use_fails_with_its_name(tmp_path: Path, scratch: Path) -> None:
    """A removal that cannot be done (a mount held by a process outside the userlands)
    ends non-zero, names the mount, and removes nothing below it."""
    state = scratch
    held = state / "userland" / "bookworm-0123456789ab" / "rootfs" / "var" / "lib" / "held"
    held.mkdir(parents=True)
    _sh("mount", "-t", "tmpfs", "isobench-test", str(held))
    (held / "keep.txt").write_text("still here\n")
    holder = subprocess.Popen(["sleep", "300"], cwd=held, start_new_session=True)
    try:
        result = run_cli("clean-hosts", "--inventory", str(_scratch_inventory(tmp_path, state)),
                         timeout=600)  # fmt: skip
        print(result.stdout + result.stderr)
        assert result.returncode == 1
        assert str(held) in result.stderr
        assert (held / "keep.txt").is_file()
    finally:
        holder.kill()
        holder.wait()
    again = run_cli("clean-hosts", "--inventory", str(_scratch_inventory(tmp_path, state)),
                    timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert not state.exists()


def test_unreachable_host_fails_clearly(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  children:\n    isobench_hosts:\n      hosts:\n        gone:\n"
        "          ansible_host: 127.0.0.1\n          ansible_port: 1\n"
        "          ansible_user: root\n"
    )
    result = run_cli("clean-hosts", "--inventory", str(inv), timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gone: unreachable" in result.stderr
