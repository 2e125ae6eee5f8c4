"""The ``bridge`` benchmark suite runs and reports every ratio with its goal (tiny sizes)."""

from __future__ import annotations

import pytest

from conclab.bench import bridge

NAMES = ["bridge.roundtrip_vs_janus", "bridge.roundtrip_vs_culsans",
         "bridge.throughput_vs_janus", "bridge.throughput_vs_culsans",
         "bridge.sync_vs_queue", "bridge.async_vs_asyncio"]
GOALS = [">= 1.2", ">= 1.2", ">= 1.5", ">= 1.5", ">= 0.8", ">= 0.8"]


def test_quick_run_gives_every_ratio_with_its_goal() -> None:
    results = bridge.run(quick=True, scale=0.005)
    assert [r.name for r in results] == NAMES
    for r in results:
        if r.name.endswith(("janus", "culsans")) and r.skipped:
            continue  # a peer library missing here is reported, not failed
        assert r.goal == GOALS[NAMES.index(r.name)]
        assert r.ratio is not None and r.ratio > 0 and r.value and r.value > 0
        assert r.met in (True, False)


def test_a_missing_peer_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bridge._peer
    monkeypatch.setattr(bridge, "_peer", lambda name: "culsans is not installed (test)"
                        if name == "culsans" else real(name))
    results = {r.name: r for r in bridge.run(quick=True, scale=0.005)}
    assert results["bridge.roundtrip_vs_culsans"].skipped == "culsans is not installed (test)"
    assert results["bridge.roundtrip_vs_culsans"].met is None
    assert not results["bridge.sync_vs_queue"].skipped
