"""Make docs/tui.png: the live dashboard of a seeded quickstart run, paused at a fixed time.

    .venv/bin/python docs/screenshot.py            # needs rsvg-convert (Debian: librsvg2-bin)

The run is the quickstart with its arrival rate raised to 170 rps (CPU near 85%, so the CPU
warning fires), run as fast as possible and paused at t=300 s, at 100×30.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (100, 30)


async def capture(svg_path: Path, runs_dir: Path) -> None:
    from textual.widgets import Input

    from simscale.tui.app import SimscaleApp
    from simscale.tui.live import PAUSED
    from simscale.tui.screens import LiveScreen

    app = SimscaleApp(spec_path=ROOT / "experiments" / "quickstart.toml",
                      experiments_dir=ROOT / "experiments", runs_dir=runs_dir, speed=None,
                      pause_at_s=300.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        app.screen.query_one("#f-workload--arrivals--rate-rps", Input).value = "170"
        await pilot.pause(0.2)
        await pilot.press("ctrl+r")
        for _ in range(600):
            await pilot.pause(0.05)
            screen = app.screen
            if isinstance(screen, LiveScreen) and screen.run_state == PAUSED:
                break
        else:
            raise SystemExit("the run did not reach its pause point")
        await pilot.pause(0.5)
        app.screen.refresh_view()
        await pilot.pause(0.2)
        svg = app.export_screenshot(title="simscale tui")
        # rsvg-convert drops leading spaces of text runs unless told to keep them
        svg_path.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1))
        app.screen.live.stop()


def main() -> None:
    out = ROOT / "docs" / "tui.png"
    if shutil.which("rsvg-convert") is None:
        sys.exit("rsvg-convert not found (apt-get install -y librsvg2-bin)")
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "tui.svg"
        asyncio.run(capture(svg, Path(tmp) / "runs"))
        subprocess.run(["rsvg-convert", "-w", "1200", str(svg), "-o", str(out)], check=True)
    print(out)


if __name__ == "__main__":
    main()
