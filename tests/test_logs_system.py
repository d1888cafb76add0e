"""The journal (a real journal file written by systemd-journal-remote), kernel messages (the real ring, through
/dev/kmsg and through dmesg) and container logs (a real container of the test engine)."""

from __future__ import annotations

import os
import shutil
import struct
import time
import uuid

import pytest

from conftest import require_service
from tui.config import Config
from tui.logs.readers import ContainersReader, JournalReader, KernelReader, kernel_event

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


def export_entry(fields: dict[str, str | bytes], realtime_us: int, monotonic_us: int) -> bytes:
    """One entry in the journal export format; a bytes value uses its binary form (any byte allowed)."""
    out = [f"__REALTIME_TIMESTAMP={realtime_us}\n__MONOTONIC_TIMESTAMP={monotonic_us}\n_BOOT_ID={BOOT_ID}\n".encode()]
    for key, value in fields.items():
        if isinstance(value, bytes):
            out.append(key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n")
        else:
            out.append(f"{key}={value}\n".encode())
    return b"".join(out) + b"\n"


def write_journal(tmp_path, journal, entries: list[bytes]) -> None:
    """Append entries to a real journal file, through systemd's own writer."""
    import subprocess

    stream = tmp_path / f"export-{uuid.uuid4().hex}.txt"
    stream.write_bytes(b"".join(entries))
    subprocess.run([JOURNAL_REMOTE, "-o", str(journal), str(stream)], check=True, capture_output=True, timeout=30)


@pytest.fixture
def journal_writer():
    if not os.access(JOURNAL_REMOTE, os.X_OK) or shutil.which("journalctl") is None:
        require_service("systemd-journal-remote", "apt-get install systemd-journal-remote")


def test_the_journal_is_read_from_a_cursor_with_levels_pids_and_units(tmp_path, journal_writer):
    journal = tmp_path / "test.journal"
    now = int(time.time() * 1e6)
    write_journal(tmp_path, journal, [
        export_entry({"MESSAGE": "worker started", "PRIORITY": "6", "_PID": "4242", "_SYSTEMD_UNIT": "app.service"},
                     now, 1),
        export_entry({"MESSAGE": "database unreachable password=hunter2", "PRIORITY": "3", "_PID": "4242",
                      "_SYSTEMD_UNIT": "app.service"}, now + 1, 2),
        export_entry({"MESSAGE": b"not utf-8 \xff\xfe \x1b[31m", "PRIORITY": "2", "SYSLOG_IDENTIFIER": "cron"},
                     now + 2, 3),
        export_entry({"MESSAGE": "from the kernel", "PRIORITY": "4", "_TRANSPORT": "kernel"}, now + 3, 4),
    ])
    reader = JournalReader(str(journal))
    first = reader.read()
    assert [(line.level, line.pid, line.unit) for line in first] == [
        ("info", 4242, "app.service"), ("error", 4242, "app.service"), ("critical", None, "cron")]
    assert first[0].text == "worker started" and first[0].time == pytest.approx(now / 1e6)
    assert first[1].text == "database unreachable password=hunter2"  # masked where it is kept (tui/logs/source.py)
    assert first[2].text == "not utf-8 \ufffd\ufffd \x1b[31m"  # a byte array in the JSON, decoded
    assert reader.read() == []  # nothing new after the cursor
    write_journal(tmp_path, journal, [export_entry({"MESSAGE": "later", "PRIORITY": "5"}, now + 10, 5)])
    assert [line.text for line in reader.read()] == ["later"]
    assert reader.source.status == "following" and reader.source.lines_read == 4


def test_kernel_entries_of_the_journal_are_kept_when_asked(tmp_path, journal_writer):
    journal = tmp_path / "test.journal"
    write_journal(tmp_path, journal, [export_entry({"MESSAGE": "from the kernel", "_TRANSPORT": "kernel"},
                                                   int(time.time() * 1e6), 1)])
    assert [line.text for line in JournalReader(str(journal), skip_kernel=False).read()] == ["from the kernel"]


def test_no_journalctl_is_an_absent_journal_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without systemd: no journalctl anywhere
    reader = JournalReader()
    assert reader.read() == []
    assert reader.source.status == "absent" and "journalctl is not installed" in reader.source.error


def test_a_journal_file_that_is_not_a_journal_is_unreadable(tmp_path):
    if shutil.which("journalctl") is None:
        require_service("journalctl", "apt-get install systemd")
    bogus = tmp_path / "bogus.journal"
    bogus.write_text("not a journal\n")
    reader = JournalReader(str(bogus))
    assert reader.read() == []
    assert reader.source.status == "unreadable" and "journalctl failed: Failed to open files" in reader.source.error


# --- kernel ---------------------------------------------------------------------------------------------------


def kernel_readable() -> bool:
    try:
        os.close(os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return shutil.which("dmesg") is not None and os.system("dmesg >/dev/null 2>&1") == 0


def inject_kernel_message(text: str) -> bool:
    """Write a message into the kernel's ring (root only), so the test knows one line it must find."""
    try:
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(text + "\n")
        return True
    except OSError:
        return False


@pytest.mark.parametrize("kmsg_path", ["/dev/kmsg", "/nonexistent/kmsg"], ids=["kmsg", "dmesg-fallback"])
def test_kernel_messages_are_read_and_classified(kmsg_path):
    if not kernel_readable():
        pytest.skip("neither /dev/kmsg nor dmesg is readable here (dmesg_restrict, not root): nothing to read")
    reader = KernelReader(kmsg_path)
    history = reader.read()
    assert reader.source.status == "following", reader.source.error
    assert history and all(line.source == "kernel" and line.level for line in history)
    assert reader.source.path == ("dmesg" if kmsg_path != "/dev/kmsg" else "/dev/kmsg")
    marker = uuid.uuid4().hex
    if not inject_kernel_message(f"<4>tshoot-kmsg {marker}: INFO: task tshoot-probe:4242 blocked for more than "
                                 "120 seconds."):
        pytest.skip("/dev/kmsg is not writable: cannot plant a known message (the ring itself was read above)")
    fresh = reader.read()
    [planted] = [line for line in fresh if marker in line.text]
    assert (planted.level, planted.pid) == ("error", 4242)
    assert abs(planted.time - time.time()) < 60
    assert not any(marker in line.text for line in reader.read())  # read once


@pytest.mark.parametrize(("text", "priority", "expected"), [
    ("Memory cgroup out of memory: Killed process 12265 (sh) total-vm:26852kB, anon-rss:15880kB", 3, ("critical", 12265)),
    ("Out of memory: Killed process 880 (java) total-vm:9000kB, anon-rss:8000kB", 3, ("critical", 880)),
    ("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),task_memcg=/docker/ab,task=sh,pid=12265,uid=0", 6,
     ("error", 12265)),
    ("python3[3141]: segfault at 0 ip 00007f sp 00007ffd error 4 in libc.so.6", 6, ("error", 3141)),
    ("INFO: task kworker/0:1:77 blocked for more than 120 seconds.", 3, ("error", 77)),
    ("blk_update_request: I/O error, dev sda, sector 2048 op 0x0:(READ)", 3, ("error", None)),
    ("Buffer I/O error on dev sdb1, logical block 0, async page read", 6, ("error", None)),
    ("nfs: server fileserver not responding, still trying", 4, ("error", None)),
    ("EXT4-fs error (device sda1): ext4_lookup:1700: inode #2: comm ls: deleted inode referenced", 2, ("error", None)),
    ("eth0: link up", 6, ("info", None)),
    ("usb 1-1: new device", 7 | 8, ("debug", None)),  # the facility bits above the priority are ignored
])
def test_kernel_events_rank_and_name_their_process(text, priority, expected):
    assert kernel_event(text, priority) == expected


# --- containers -----------------------------------------------------------------------------------------------


def wait_for_lines(reader, wanted, timeout: float = 60) -> list:
    """Poll the reader (as the app does) until every wanted text has been read; fail naming what never came."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += reader.read()
        if all(any(w in line.text for line in seen) for w in wanted):
            return seen
        time.sleep(0.2)
    pytest.fail(f"never read {[w for w in wanted if not any(w in line.text for line in seen)]}; read {seen}")


@pytest.mark.services
def test_running_containers_are_followed_stdout_and_stderr(docker_client, docker_image):
    names = [f"tshoot-logs-{uuid.uuid4().hex[:6]}-{n}" for n in ("a", "b")]
    go = f"/tmp/go-{uuid.uuid4().hex}"
    script = ('echo out-$NAME; echo err-$NAME >&2; echo "DB password=hunter2"; '
              f'while [ ! -e {go} ]; do sleep 0.1; done; echo second-$NAME; echo last words-$NAME; exit 3')
    reader = ContainersReader(Config(), max_containers=50)
    try:
        for name in names:
            docker_client.containers.run(docker_image, ["sh", "-c", script], name=name, detach=True,
                                         environment={"NAME": name})
        seen = wait_for_lines(reader, [f"{kind}-{name}" for kind in ("out", "err") for name in names])
        for name in names:
            mine = [line for line in seen if line.container == name]
            assert all(line.source == f"container:{name}" for line in mine)
            assert [line.text for line in mine].count(f"out-{name}") == 1  # read once, not again on each poll
            assert any("password=hunter2" in line.text for line in mine)  # masked by the source that keeps it
        sources = {source.name: source for source in reader.sources()}
        assert sources["containers"].status == "following"
        assert all(sources[f"container:{name}"].status == "following" for name in names)
        for name in names:  # the container stops: its last lines are read once more, then it is followed no more
            docker_client.containers.get(name).exec_run(["touch", go])
        later = wait_for_lines(reader, [f"last words-{name}" for name in names])
        assert not any(f"out-{name}" in line.text for line in later for name in names)
        for name in names:
            docker_client.containers.get(name).wait(timeout=30)
        reader.read()
        assert not any(f"container:{name}" == s.name for s in reader.sources() for name in names)
    finally:
        reader.close()
        for name in names:
            try:
                docker_client.api.remove_container(name, force=True)
            except Exception:
                pass


def test_a_missing_docker_socket_is_an_absent_source(tmp_path):
    reader = ContainersReader(Config(docker_host=f"unix://{tmp_path}/docker.sock"), max_containers=5)
    assert reader.read() == []
    [engine] = reader.sources()
    assert engine.status == "absent" and "Docker socket missing" in engine.error
