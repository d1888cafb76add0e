"""`tshoot ARGS...` with one fault planted, for the tests of crashes and quitting (run in a real terminal).

    ui_faults.py crash ARGS   the UI raises an unexpected error half a second after it starts
    ui_faults.py block ARGS   the only source's collect() blocks for 60 s (writes STARTED_FILE when it begins)
    ui_faults.py block-in-pool ARGS   the same, blocked in a thread of the source's own (non-daemon) pool
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import tui.registry
from tui import cli
from tui.app import TshootApp
from tui.source import Source


def crash() -> None:
    raise RuntimeError("planted crash: postgresql://app:hunter2-planted@db/x")


class BlockingSource(Source):
    name = "processes"
    title = "Processes"
    section_type = dict

    def collect(self):
        if mode == "block-in-pool":
            return ThreadPoolExecutor(1).submit(self._block).result()
        return self._block()

    def _block(self):
        with open(os.environ["STARTED_FILE"], "w") as started:
            started.write("collecting")
        time.sleep(60)
        return {}


mode, args = sys.argv[1], sys.argv[2:]
if mode == "crash":
    original_on_mount = TshootApp.on_mount

    def on_mount(self) -> None:
        original_on_mount(self)
        self.set_timer(0.5, crash)

    TshootApp.on_mount = on_mount
    tui.registry.build_sources = lambda config: []
elif mode in ("block", "block-in-pool"):
    tui.registry.build_sources = lambda config: [BlockingSource(config)]
sys.exit(cli.main(args))
