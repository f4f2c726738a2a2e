"""Every dataset of a run file says what it holds: ``doc`` and ``units`` attributes, and per column
``doc:NAME`` and ``units:NAME`` for tables, so that ``h5dump -A`` alone explains a run."""

import h5py
import pytest

import mpies
from conftest import undocumented
from mpies import registry
from mpies.strategies.base import attribute_docs

QD_CONFIGS = {"map_elites": "arm-map-elites", "cma_me": "arm-cma-me", "cma_mae": "arm-cma-mae"}
SEARCH_ALGORITHMS = [name for name in registry.algorithms() if name not in (*QD_CONFIGS, "poet")]


@pytest.mark.parametrize("algorithm", SEARCH_ALGORITHMS)
def test_every_dataset_of_a_search_run_is_documented(tmp_path, algorithm):
    config = tmp_path / "sphere.toml"
    config.write_text(f'algorithm = "{algorithm}"\nenv = "fn:sphere"\nenv_kwargs = {{dim = 4}}\n'
                      f'generations = 2\n[strategy]\npopulation = 12\n[noise]\ntable_size = 10000\n')
    out = mpies.run(config, path=tmp_path / "run.h5", log=lambda line: None)
    assert out.status == "finished"
    assert undocumented(out.path) == []


@pytest.mark.parametrize("algorithm", sorted(QD_CONFIGS))
def test_every_dataset_of_a_quality_diversity_run_is_documented(tmp_path, algorithm):
    size = {"population": 8} if algorithm == "map_elites" else {"emitters": 2, "batch": 4}
    out = mpies.run(QD_CONFIGS[algorithm], path=tmp_path / "arm.h5", log=lambda line: None, generations=2,
                    strategy={**size, "bins": [5, 5]})
    with h5py.File(out.path, "r") as f:
        assert "archive/occupied" in f
        assert ("state/slot0/strategy/emitters/C" in f) == (algorithm != "map_elites")
    assert undocumented(out.path) == []


def test_cvt_centroids_stored_as_a_dataset_are_documented(tmp_path):
    out = mpies.run("arm-map-elites", path=tmp_path / "cvt.h5", log=lambda line: None, generations=1,
                    strategy={"population": 8, "archive": "cvt", "cells": 100, "bins": []})
    with h5py.File(out.path, "r") as f:
        assert isinstance(f["archive/centroids"], h5py.Dataset)
    assert undocumented(out.path) == []


def test_attribute_docs_reads_the_attributes_section_and_joins_continuations():
    class Example:
        """Summary.

        Attributes:
            a: float64 ``()`` the first,
                continued here.
            b, c: int64 ``(n,)`` two at once.

        Notes:
            d: not an attribute.
        """
    assert attribute_docs(Example) == {"a": "float64 () the first, continued here.",
                                       "b": "int64 (n,) two at once.", "c": "int64 (n,) two at once."}
