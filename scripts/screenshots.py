"""Regenerate screenshots/<pane>.svg from the prepared sample records (the same ones the snapshot tests use).

Run from the repository root: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TZ"] = "UTC"  # the same zone as the snapshot tests
os.environ["TEXTUAL_ANIMATIONS"] = "none"  # else a tab's underline may be caught mid-slide
time.tzset()

from tests.uihelpers import frozen_app, populate, show  # noqa: E402  (needs the path above)
from tui import registry  # noqa: E402

SIZE = (140, 40)


async def shoot(pane: str, out_dir: Path) -> Path:
    app = frozen_app()
    async with app.run_test(size=SIZE) as pilot:
        await populate(pilot)
        await show(pilot, pane)
        await pilot.pause(0.2)
        path = app.save_screenshot(filename=f"{pane}.svg", path=str(out_dir))
        await app.workers.wait_for_complete()
    return Path(path)


def main() -> int:
    os.chdir(ROOT)  # the Env pane's quick picks list files in the current folder
    out_dir = ROOT / "screenshots"
    out_dir.mkdir(exist_ok=True)
    for pane in registry.names():
        print(asyncio.run(shoot(pane, out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
