"""The Dask engine gives the same summary table as the process pool; bad addresses fail fast."""

from __future__ import annotations

import socket

import pyarrow.parquet as pq
import pytest

from simscale.errors import InputError
from simscale.sweep.engine import run_sweep
from simscale.sweep.runlist import load_sweep

distributed = pytest.importorskip("distributed")


def test_a_local_dask_cluster_gives_a_bit_identical_summary_table(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep)
    local = run_sweep(sweep, tmp_path / "local", workers=2)
    dask = run_sweep(sweep, tmp_path / "dask", workers=2, engine="dask", dask_processes=False)
    assert local.counts == dask.counts == {"ok": 6}
    assert pq.read_table(tmp_path / "local" / "summary.parquet").equals(
        pq.read_table(tmp_path / "dask" / "summary.parquet"), check_metadata=True)
    assert sorted(p.name for p in (tmp_path / "dask" / "runs").iterdir()) == [
        "least_connections", "power_of_two_choices", "round_robin"]


def test_an_existing_scheduler_on_loopback_runs_the_sweep(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep, replications=1)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = run_sweep(sweep, tmp_path / "out", engine="dask",
                           address=cluster.scheduler_address)
    finally:
        cluster.close()
    assert result.counts == {"ok": 3}
    run_sweep(sweep, tmp_path / "local", workers=1)
    assert pq.read_table(tmp_path / "out" / "summary.parquet").equals(
        pq.read_table(tmp_path / "local" / "summary.parquet"), check_metadata=True)


def test_an_unreachable_scheduler_is_a_clear_input_error(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep, replications=1)
    # a port that is bound but never listens, held for the whole test: nobody else can take
    # it, and a connection to it is refused
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
            run_sweep(sweep, tmp_path / "out", engine="dask", address=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "out" / "runs").exists()


def test_the_connection_to_a_scheduler_has_a_deadline(monkeypatch):
    """The client is told to give up after the connect timeout (5 s by default), so an
    unreachable address fails fast instead of waiting for Dask's own 30 s default."""
    from simscale.sweep.pools import DaskPool

    asked = []

    def client(address, **options):
        asked.append((address, options))
        raise OSError("refused")

    monkeypatch.setattr(distributed, "Client", client)
    for timeout_s, expected in ((None, "5.0s"), (1.5, "1.5s")):
        options = {} if timeout_s is None else {"connect_timeout_s": timeout_s}
        with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
            DaskPool(1, "tcp://127.0.0.1:1", **options)
        assert asked.pop() == ("tcp://127.0.0.1:1", {"timeout": expected})


def test_an_address_without_a_scheme_is_an_input_error(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep, replications=1)
    with pytest.raises(InputError, match="expected tcp://HOST:PORT"):
        run_sweep(sweep, tmp_path / "out", engine="dask", address="127.0.0.1:8786")
