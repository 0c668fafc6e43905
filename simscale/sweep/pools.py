"""The executors a sweep runs on: a local process pool or a Dask client, both a
`concurrent.futures.Executor`, so one code path (simscale.sweep.engine.execute) serves both."""

from __future__ import annotations

import os

from simscale.errors import InputError

ENGINES = ("local", "dask")
# Imported once by the forkserver, so each worker starts with the simulator loaded
# (a module that fails to import is skipped).
PRELOAD = ["simscale.sweep.engine", "simscale.model.runner", "policies.balancers",
           "policies.autoscalers", "policies.caches", "policies.limiters"]


def exit_with_parent(alive) -> None:
    """Worker initializer: end this worker at once when the process that started the pool is
    gone, however it ended (a SIGKILL included), so no run goes on without its sweep.

    `alive` is the read end of a pipe whose only write end the pool's owner holds: the
    system closes it when the owner dies, and the read returns. The same watch as Dask's
    nanny processes keep on their parent.
    """
    import threading

    def watch() -> None:
        try:
            alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="simscale-parent-watch", daemon=True).start()


class LocalPool:
    """A process pool; `renew()` replaces it after a worker process died. Its workers exit
    when this process does (exit_with_parent)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.slots = workers
        self._pipes: tuple = ()
        self.executor = self._make()

    def _make(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: workers fork from a clean server process that has the simulator
        # imported already, so start-up is cheap and no parent thread is copied.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        reader, writer = ctx.Pipe(duplex=False)
        self._pipes = (reader, writer)
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                   initializer=exit_with_parent, initargs=(reader,))

    def _close_pipes(self) -> None:
        for conn in self._pipes:
            conn.close()
        self._pipes = ()

    def renew(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._close_pipes()  # workers of the broken pool that are still up exit
        self.executor = self._make()

    def close(self, abort: bool = False) -> None:
        if abort:
            processes = list(getattr(self.executor, "_processes", {}).values())
            self.executor.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
            for proc in processes:
                proc.join(timeout=5)
        else:
            self.executor.shutdown(wait=True)
        self._close_pipes()


class DaskPool:
    """A Dask client's executor: on an existing scheduler, or on a loopback LocalCluster.

    Workers of an existing scheduler need simscale installed (same version) and see the
    sweep folder at the same path (a shared filesystem): each run writes its own folder.
    """

    def __init__(self, workers: int, address: str | None, processes: bool = True,
                 connect_timeout_s: float = 5.0) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--engine dask needs Dask: pip install 'simscale[dask]'") from None
        self.cluster = None
        if address is None:
            # Loopback only, no dashboard; the scheduler's HTTP routes take a free port.
            # Worker threads in this process (processes=False) talk in-process, no sockets.
            network = {"host": "127.0.0.1"} if processes else {}
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=processes,
                dashboard_address=None, worker_dashboard_address=None,
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                **network,
            )
            self.client = Client(self.cluster)
        else:
            if "://" not in address:
                raise InputError(f"--address {address}: expected tcp://HOST:PORT")
            try:
                self.client = Client(address, timeout=f"{connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"--address {address}: cannot reach the Dask scheduler "
                                 f"({exc})") from None
        threads = sum(self.client.nthreads().values()) or workers
        self.slots = 2 * threads
        self.executor = self.client.get_executor(pure=False)

    def renew(self) -> None:  # Dask reschedules work from lost workers by itself
        pass

    def close(self, abort: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_pool(engine: str, workers: int | None, address: str | None,
              dask_processes: bool = True) -> LocalPool | DaskPool:
    """The executor for `engine` with `workers` workers (default: the machine's cores)."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine}: expected one of {', '.join(ENGINES)}")
    if address is not None and engine != "dask":
        raise InputError("--address needs --engine dask")
    n = workers or os.cpu_count() or 1
    if engine == "local":
        return LocalPool(n)
    return DaskPool(n, address, processes=dask_processes)
