"""Following log files for real: a RotatingFileHandler in a child process, copytruncate, a file that appears
later, bytes that are not UTF-8, a sparse 10 GB file, a 1 MB line, a last line still being written."""

from __future__ import annotations

import os
import shutil
import subprocess

from children import READY, python_child
from tui.config import Config
from tui.logs.readers import CUT_MARK, LAG_SKIP_BYTES, LINE_CAP, POLL_LINES, START_TAIL_BYTES, FileReader
from tui.logs.source import LogsSource
from tui.redact import MASK
from tui.safefile import MB

GB = 1024 * MB

# A child that logs through a real RotatingFileHandler: each "N" on stdin writes N numbered lines, then "done".
ROTATING_WRITER = f"""
import logging, logging.handlers, sys
handler = logging.handlers.RotatingFileHandler(sys.argv[1], maxBytes=4000, backupCount=5)
handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
log = logging.getLogger("app"); log.addHandler(handler); log.setLevel(logging.INFO)
log.info("before following")
{READY}
number = 0
for command in sys.stdin:
    for _ in range(int(command)):
        log.info("request %05d served", number)
        number += 1
    print("done", flush=True)
"""


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_a_rotating_file_handler_is_followed_through_every_rotation(tmp_path):
    path = tmp_path / "app.log"
    writer = python_child(ROTATING_WRITER, str(path), stdin=subprocess.PIPE)
    reader = FileReader(str(path), "config")
    try:
        seen = texts(reader.read())
        assert [t.split(" ", 3)[-1] for t in seen] == ["before following"]  # the file was there: its tail
        for _ in range(8):  # 60 lines of ~50 bytes: at most one rollover (4000 bytes) between two reads
            writer.stdin.write("60\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"
            seen += texts(reader.read())
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
        reader.close()
    served = [t.rsplit(" ", 2)[-2] for t in seen if "served" in t]
    assert served == [f"{n:05d}" for n in range(480)]  # every line once, in order, across the rotations
    assert (tmp_path / "app.log.5").exists()  # it did rotate, more than once
    assert all(" INFO request " in t for t in seen[1:])
    assert reader.source.status == "following" and reader.source.lines_read == 481


def test_copytruncate_and_truncation_start_again_from_the_beginning(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old 1\nold 2\n")
    reader = FileReader(str(path), "--log")
    assert texts(reader.read()) == ["old 1", "old 2"]
    shutil.copy(path, tmp_path / "app.log.1")  # logrotate's copytruncate: copy, then truncate in place
    with open(path, "r+") as file:
        file.truncate(0)
    with open(path, "a") as file:
        file.write("new 1\n")
    assert texts(reader.read()) == ["new 1"]
    path.write_text("")  # `> app.log`
    assert texts(reader.read()) == []
    with open(path, "a") as file:
        file.write("after truncation\n")
    assert texts(reader.read()) == ["after truncation"]


def test_a_file_that_appears_later_is_read_from_its_start(tmp_path):
    path = tmp_path / "later.log"
    reader = FileReader(str(path), "config")
    assert reader.read() == []
    assert reader.source.status == "waiting" and "not there yet" in reader.source.error
    path.write_text("first\nsecond\n")
    assert texts(reader.read()) == ["first", "second"]
    assert reader.source.status == "following"


def test_renamed_away_keeps_following_the_old_file_until_a_new_one_appears(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("")
    reader = FileReader(str(path), "config")
    reader.read()
    with open(path, "a", buffering=1) as old:
        old.write("one\n")
        os.rename(path, tmp_path / "app.log.1")
        assert texts(reader.read()) == ["one"]
        old.write("two, written after the rename\n")
        assert texts(reader.read()) == ["two, written after the rename"]
        old.write("three, unfinished")  # the old file's last line never gets its newline
        old.flush()
        path.write_text("fresh\n")
        assert texts(reader.read()) == ["three, unfinished", "fresh"]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path):
    path = tmp_path / "latin1.log"
    path.write_bytes(b"")
    reader = FileReader(str(path), "config")
    reader.read()
    with open(path, "ab") as file:
        file.write(b"caf\xe9 \xff\xfe ok\r\nnext\n")
    assert texts(reader.read()) == ["caf\ufffd \ufffd\ufffd ok", "next"]


def test_a_10_gb_file_is_read_from_its_tail_only(tmp_path):
    path = tmp_path / "huge.log"
    with open(path, "wb") as file:
        file.truncate(10 * GB)  # sparse: 10 GB of zeros that take no disk
        file.seek(10 * GB)
        file.write(b"".join(b"tail line %d\n" % n for n in range(100)))
    reader = FileReader(str(path), "config")
    lines = texts(reader.read())
    # the line the start cuts (zeros, then "tail line 0") is dropped whole; the rest is read
    assert lines == [f"tail line {n}" for n in range(1, 100)]
    assert reader.source.bytes_read <= START_TAIL_BYTES
    assert reader.source.skipped_bytes >= 10 * GB - START_TAIL_BYTES
    with open(path, "ab") as file:  # a writer 1 GB ahead of us: jump to its tail, never read the gigabyte
        file.truncate(11 * GB)
        file.seek(11 * GB)
        file.write(b"\nafter the jump\n")  # (the line the jump lands in is dropped: here, the zeros)
    before = reader.source.bytes_read
    assert texts(reader.read()) == ["after the jump"]
    assert reader.source.bytes_read - before <= START_TAIL_BYTES
    assert reader.source.skipped_bytes >= 11 * GB - 2 * START_TAIL_BYTES


def test_a_file_behind_by_less_than_the_skip_is_read_in_bounded_steps(tmp_path):
    path = tmp_path / "busy.log"
    path.write_bytes(b"")
    reader = FileReader(str(path), "config")
    reader.read()
    total = LAG_SKIP_BYTES // 8 // 100  # 8 MB of 100-byte lines
    with open(path, "ab") as file:
        file.write((b"x" * 99 + b"\n") * total)
    counts = []
    while count := len(reader.read()):
        counts.append(count)
    assert sum(counts) == total and max(counts) <= POLL_LINES and len(counts) > 1
    assert reader.source.skipped_bytes == 0 and reader.source.bytes_read == total * 100


def test_a_1_mb_line_is_cut_and_the_rest_skipped(tmp_path):
    path = tmp_path / "long.log"
    path.write_bytes(b"")
    reader = FileReader(str(path), "config")
    reader.read()
    with open(path, "ab") as file:
        file.write(b"before\n" + b"y" * (1 * MB))
    assert texts(reader.read()) == ["before"]  # the long line is unfinished: held, but only its first LINE_CAP
    assert len(reader._splitter.partial) == LINE_CAP
    with open(path, "ab") as file:
        file.write(b"z" * (1 * MB) + b"\nafter\n")
    long, after = texts(reader.read())
    assert long == "y" * LINE_CAP + CUT_MARK and after == "after"


def test_a_last_line_without_its_newline_waits_for_it(tmp_path):
    path = tmp_path / "partial.log"
    path.write_bytes(b"")
    reader = FileReader(str(path), "config")
    reader.read()
    with open(path, "ab") as file:
        file.write(b"half a li")
        file.flush()
        assert reader.read() == []
        file.write(b"ne\n")
    assert texts(reader.read()) == ["half a line"]


def test_lines_are_masked_as_the_source_keeps_them(tmp_path):
    """The reader hands lines on as they are; every line a section carries is masked."""
    path = tmp_path / "secrets.log"
    path.write_text("connecting to postgresql://app:hunter2@db/app password=hunter2\n"
                    "Authorization: Bearer abc.def.ghi\n" + "".join(f"request {n} served\n" for n in range(3)))
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        section = source.collect()
    finally:
        source.close()
    kept = [line.text for line in section.lines]
    assert len(kept) == 5 and not any("hunter2" in text or "abc.def.ghi" in text for text in kept)
    assert sum(MASK in text for text in kept) == 2 and "request 0 served" in kept


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        reader = FileReader(str(path), "config")
        assert reader.read() == []
        assert reader.source.status == "unreadable" and "not a regular file" in reader.source.error
