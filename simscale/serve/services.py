"""What one server holds: its settings, the run pool, the fleets, the rate limiter, metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simscale.serve.dashboard import ReplayCache
from simscale.serve.exposition import ServeMetrics
from simscale.serve.fleet import Fleet
from simscale.serve.fleetspec import FleetSpec
from simscale.serve.hooks import ApplyHook, Shadow
from simscale.serve.runs import RunPool
from simscale.serve.security import ClientLimiter

HOUSEKEEPING_S = 1.0
log = logging.getLogger("simscale.serve")


@dataclass
class Settings:
    """Everything `simscale serve` was started with (already checked)."""

    runs_dir: Path = Path("runs")
    fleets_dir: Path = Path("fleets")
    spec_root: Path = Path(".")
    token: str | None = None
    fleets: list[FleetSpec] = field(default_factory=list)
    hook: ApplyHook = field(default_factory=Shadow)
    workers: int = 2
    max_queued: int = 100
    rate_per_s: float = 20.0
    burst: float = 40.0
    max_body_bytes: int = 1_048_576
    roll_s: float = 60.0


class WallClock:
    """time.time() that never goes back (a fleet's records are stamped with it)."""

    def __init__(self) -> None:
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._last = max(self._last, time.time())
            return self._last


class Services:
    """The server's parts; start() before serving, stop() after (compacts every store)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] | None = None,
                 fleet_sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.clock = clock or WallClock()
        self.started_s = time.time()
        self.pool = RunPool(settings.runs_dir, settings.workers, settings.max_queued)
        self.fleets: dict[str, Fleet] = {
            spec.name: Fleet(spec, settings.fleets_dir / spec.name, clock=self.clock,
                             sleep=fleet_sleep, hook=settings.hook, roll_s=settings.roll_s)
            for spec in settings.fleets}
        self.limiter = ClientLimiter(settings.rate_per_s, settings.burst)
        self.replays = ReplayCache()
        self.metrics = ServeMetrics(self)
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None

    def start(self) -> None:
        self.pool.start()
        for fleet in self.fleets.values():
            fleet.start()
        self._housekeeper = threading.Thread(target=self._housekeep, name="housekeeping",
                                             daemon=True)
        self._housekeeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._housekeeper is not None:
            self._housekeeper.join(5.0)
        for fleet in self.fleets.values():
            fleet.stop()
        self.pool.close()

    def _housekeep(self) -> None:
        """Sync the fleets' logs every second; compact segments that are due."""
        while not self._stop.wait(HOUSEKEEPING_S):
            for fleet in self.fleets.values():
                try:
                    fleet.store.maybe_roll(self.clock())
                except OSError as exc:
                    log.error("fleet %s: cannot write its records: %s", fleet.name, exc)
