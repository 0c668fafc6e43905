"""The bench's reference models simulate the M/M/c they claim to (the timings are not tested:
speed is measured by `simscale bench`, never by tests)."""

import numpy as np
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
