"""The ``gateway`` benchmark suite runs and reports its ratio with its goal (tiny sizes)."""

from __future__ import annotations

from conclab.bench import gateway


def test_quick_run_gives_the_ratio_with_its_goal() -> None:
    (result,) = gateway.run(quick=True, scale=0.01)
    assert result.name == "gateway.publish10_vs_raw_fanout" and result.goal == ">= 0.7"
    assert result.ratio is not None and result.ratio > 0 and result.value and result.value > 0
    assert result.met in (True, False)
