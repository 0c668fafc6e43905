"""The bench's reference models simulate the M/M/c they claim to (the timings are not tested:
speed is measured by `simscale bench`, never by tests)."""

import numpy as np
import pytest
from scipy import stats

from simscale.selfcheck.queueing import mmc_mean_wait
from simscale.selfcheck.speed import callback_mmc, textbook_mmc


def test_callback_and_textbook_models_follow_the_same_sample_path():
    textbook = textbook_mmc(3000, seed=7)
    callbacks = callback_mmc(3000, seed=7)
    assert len(textbook) == len(callbacks) == 3000
    np.testing.assert_allclose(callbacks, textbook, rtol=1e-9)


def test_textbook_model_mean_time_in_system_matches_erlang_c():
    # M/M/8 at rho = 0.8: W = Wq + 1/mu; a 99.9% interval from batch means of 20 batches
    times = np.array(textbook_mmc(40_000, seed=3)[2_000:])
    batches = times[: len(times) // 20 * 20].reshape(20, -1).mean(axis=1)
    half = stats.t.ppf(0.9995, 19) * batches.std(ddof=1) / np.sqrt(20)
    expected = mmc_mean_wait(8, 6.4, 1.0) + 1.0
    assert abs(batches.mean() - expected) < half


def test_bench_cases_are_chosen_by_key_with_the_textbook_model_always_first():
    from simscale.selfcheck.speed import CASE_KEYS, select_cases

    assert select_cases(None) == list(CASE_KEYS)
    assert select_cases(["trace", "phase3"]) == ["textbook", "phase3", "trace"]
    assert select_cases(["textbook"]) == ["textbook"]
    with pytest.raises(ValueError, match=r"unknown case\(s\) nope; known: textbook, .*phase3"):
        select_cases(["phase3", "nope"])


def test_bench_refuses_an_unknown_case_with_exit_2():
    from typer.testing import CliRunner

    from simscale.cli import app

    result = CliRunner().invoke(app, ["bench", "--case", "nope"])
    assert result.exit_code == 2
    assert "--case: unknown case(s) nope" in result.output
