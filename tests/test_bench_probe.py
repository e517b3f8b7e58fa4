"""The benchmark's probe of the server's own delivery time (bench/probe.py)."""

from __future__ import annotations

import asyncio
import time

from bench.probe import INTERVAL_S, ServerProbe, during

from . import harness


async def test_the_probe_times_its_own_headlines_through_the_real_server(xmpp_server):
    probe = ServerProbe(xmpp_server.ports.c2s, "dave", harness.password("dave"), register=False)
    begin = time.monotonic()
    probe.start()
    await asyncio.sleep(0.5)
    samples = probe.stop()
    end = time.monotonic()
    # Every 10 ms over half a second, less the login: each one back, timed once, in sending order.
    assert 0.3 / INTERVAL_S <= len(samples) <= 0.5 / INTERVAL_S + 1
    sent = [sent_at for sent_at, _delay in samples]
    assert sent == sorted(sent) and len(set(sent)) == len(sent)
    assert all(begin < sent_at < end and 0 < delay < (end - sent_at) * 1000 for sent_at, delay in samples)
    whole = during(samples, begin, end)
    assert whole["samples"] == len(samples) and whole["max_ms"] == max(delay for _s, delay in samples)


def test_a_phase_holds_the_headlines_sent_in_it():
    samples = [(float(second), float(second * 10)) for second in range(1, 11)]
    third_to_fifth = during(samples, 3.0, 5.0)
    assert third_to_fifth["samples"] == 3 and third_to_fifth["max_ms"] == 50.0
    assert third_to_fifth["p50_ms"] == 40.0
    assert during(samples, 11.0, 12.0) == {"samples": 0}


def test_a_cpu_timeline_gives_each_process_its_share_of_a_core_in_any_part_of_a_run():
    import os

    from bench.procstat import CpuTimeline

    timeline = CpuTimeline({"me": os.getpid()}, interval=0.02)
    timeline.start()
    time.sleep(0.3)  # idle
    middle, used_before = time.monotonic(), time.process_time()
    while time.monotonic() - middle < 0.4:  # busy (a whole core, less what other work takes)
        pass
    end, used = time.monotonic(), time.process_time() - used_before
    timeline.stop()
    busy = used / (end - middle)
    assert busy > 0.2 and abs(timeline.shares(middle, end)["me"] - busy) < 0.25
    assert timeline.shares(middle - 0.3, middle - 0.05)["me"] < 0.2
    # Read from the readings just outside the span asked for.
    timeline.readings = [(0.0, {"me": 0.0}), (1.0, {"me": 0.5}), (2.0, {"me": 1.5})]
    assert timeline.shares(0.2, 1.8) == {"me": 0.75} and timeline.shares(1.0, 2.0) == {"me": 1.0}
