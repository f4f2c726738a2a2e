"""Perturbations from keys: deterministic, in range, and summed exactly."""

import numpy as np
import pytest

from mpies.config import ConfigError
from mpies.noise import CounterNoise, NoiseTable, make_noise


@pytest.mark.parametrize("mode", ["table", "generator"])
def test_keys_and_vectors_are_deterministic(mode):
    a = make_noise(mode, seed=7, dim=50, table_size=5000)
    b = make_noise(mode, seed=7, dim=50, table_size=5000)
    other = make_noise(mode, seed=8, dim=50, table_size=5000)
    keys = a.keys(generation=3, count=20)
    np.testing.assert_array_equal(keys, b.keys(3, 20))
    assert not np.array_equal(keys, a.keys(4, 20))
    # another run seed gives other perturbations
    assert not np.array_equal(a.vector(int(keys[0])), other.vector(int(other.keys(3, 20)[0])))
    for k in keys:
        v = a.vector(int(k))
        assert v.shape == (50,) and v.dtype == np.float32
        np.testing.assert_array_equal(v, b.vector(int(k)))


def test_table_keys_stay_inside_the_table_and_look_gaussian():
    noise = NoiseTable(seed=1, dim=100, size=1000)
    keys = noise.keys(0, 5000)
    assert keys.min() >= 0 and keys.max() <= 900
    assert abs(noise.table.mean()) < 0.1 and abs(noise.table.std() - 1) < 0.1


def test_generator_vectors_are_standard_normal():
    noise = CounterNoise(seed=1, dim=100_000)
    v = noise.vector(int(noise.keys(0, 1)[0]))
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1) < 0.01


@pytest.mark.parametrize("mode", ["table", "generator"])
def test_weighted_sum_equals_explicit_sum(mode):
    noise = make_noise(mode, seed=0, dim=30, table_size=3000)
    keys = noise.keys(0, 10)
    weights = np.linspace(-1, 1, 10)
    weights[4] = 0.0
    expected = sum(w * noise.vector(int(k)).astype(np.float64) for w, k in zip(weights, keys))
    np.testing.assert_allclose(noise.weighted_sum(weights, keys), expected, rtol=1e-12, atol=1e-12)
    squares = sum(w * noise.vector(int(k)).astype(np.float64) ** 2 for w, k in zip(weights, keys))
    np.testing.assert_allclose(noise.weighted_square_sum(weights, keys), squares, rtol=1e-12, atol=1e-12)
    salted = noise.salted((3,))
    assert np.array_equal(salted.weighted_square_sum(weights, keys), noise.weighted_square_sum(weights, keys))


def test_table_smaller_than_the_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="noise.table_size"):
        NoiseTable(seed=0, dim=2000, size=1000)
