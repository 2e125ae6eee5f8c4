"""Show that the actor tests can fail: break each property of ``conclab.actors`` once, expect red.

Usage: ``python scripts/break_actors.py [NAME ...]`` from the repository root, with the
course's virtual environment. It works as ``scripts/break_check.py`` does (and uses its
machinery): each break is written into a copy of the package, the test that guards that
property runs against the copy, and a test that still passes means it cannot fail.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from break_check import Break, run_broken

A = "src/conclab/actors/"
T = "tests/test_actors.py::"

BREAKS = [
    Break("ask-error-kills-the-actor", A + "_cell.py",
          "        reply = env[1]\n        if reply is not None:\n            if (type(reply)",
          "        reply = env[1] if ok else None\n        if reply is not None:\n"
          "            if (type(reply)",
          T + "test_messages_in_order_one_at_a_time_and_an_ask_s_exception_goes_to_the_asker"
              "[thread]"),
    Break("tell-failure-ignored", A + "_cell.py",
          "        self._fail(value)\n        return False",
          "        return True",
          T + "test_a_failure_on_a_tell_calls_on_failure_stops_the_actor_and_fails_its_asks"
              "[asyncio]"),
    Break("tell-after-stop-dropped", A + "_local.py",
          "            cell.put(envelope, block, timeout)\n        except ShutDown:\n"
          "            raise cell.dead() from None",
          "            cell.put(envelope, block, timeout)\n        except ShutDown:\n"
          "            return",
          T + "test_stop_lets_the_mailbox_drain_then_refuses_messages[thread]"),
    Break("stop-drops-the-mailbox", A + "_cell.py",
          "        self.mailbox.shutdown()  # idempotent",
          "        self.mailbox.shutdown(True)  # idempotent",
          T + "test_stop_lets_the_mailbox_drain_then_refuses_messages[asyncio]"),
    Break("immediate-stop-does-not-fail-asks", A + "_cell.py",
          "        if immediate:\n            self._drain()",
          "        if False:\n            self._drain()",
          T + "test_stop_immediate_fails_what_is_left_at_once[thread]"),
    Break("mailbox-bound-off-by-one", A + "_cell.py",
          "BridgeQueue(maxsize, name=",
          "BridgeQueue(maxsize and maxsize + 1, name=",
          T + "test_a_full_mailbox_refuses_or_waits_for_room[thread]"),
    Break("gate-one-token-too-many", A + "_gate.py",
          'os.write(gate.fd, b"x" * maxsize)',
          'os.write(gate.fd, b"x" * (maxsize + 1))',
          T + "test_a_full_mailbox_refuses_or_waits_for_room[process-fork]"),
    Break("no-receive-event", A + "_cell.py",
          '        self.observer.event("receive", now, sender, self.name, label)\n',
          "",
          T + "test_a_with_block_stops_the_actor_and_the_observer_sees_each_message[thread]"),
    Break("awaits-reported-as-run", A + "_cell.py",
          "                            value = await (value if self.observer is None\n"
          "                                           else self._steps(value))",
          "                            value = await value",
          T + "test_an_async_on_receive_is_reported_step_by_step_its_awaits_as_waits[asyncio]"),
    Break("deadlock-not-detected", A + "_answer.py",
          "    names, seen = [me.name, name], {id(key)}\n",
          "    return []\n    names, seen = [me.name, name], {id(key)}\n",
          T + "test_two_actors_asking_each_other_get_an_error_naming_the_cycle[thread]"),
    Break("wait-checked-apart-from-its-record", A + "_answer.py",
          "        with _WAITING_LOCK:\n", "        if True:\n",
          T + "test_two_waits_recorded_at_the_same_moment_still_see_their_cycle"),
    Break("unpicklable-message-not-caught", A + "_process.py",
          "        payload = _pickled(message, self.name)\n        link = self._link()\n"
          "        if self._gate is not None:\n            def dead",
          "        payload = message\n        link = self._link()\n"
          "        if self._gate is not None:\n            def dead",
          T + "test_process_refs_cross_processes_and_what_cannot_be_pickled_fails_clearly"
              "[fork]"),
    Break("unpickled-ref-is-a-stranger", A + "_process.py",
          "    return home if home is not None else ProcessRef(",
          "    return ProcessRef(",
          T + "test_process_refs_cross_processes_and_what_cannot_be_pickled_fails_clearly"
              "[fork]"),
    Break("listener-without-authkey", A + "_wire.py",
          'self.listener = Listener(address, family="AF_UNIX", authkey=current_process().authkey)',
          'self.listener = Listener(address, family="AF_UNIX")',
          T + "test_a_process_actor_listens_only_on_a_unix_socket_and_refuses_a_caller_without"
              "_the_key"),
    Break("death-leaves-asks-pending", A + "_wire.py",
          "        for ident in list(self.pending):",
          "        for ident in []:",
          T + "test_a_killed_process_actor_fails_its_pending_and_later_asks[fork]"),
    Break("answer-loses-a-wake-up", A + "_answer.py",
          "            sleeper.release()\n",
          "            pass\n",
          T + "test_messages_in_order_one_at_a_time_and_an_ask_s_exception_goes_to_the_asker"
              "[thread]"),
    Break("shared-loop-never-stops", "src/conclab/lifecycle.py",
          "        loop.call_soon_threadsafe(loop.stop)\n",
          "",
          T + "test_asyncio_actors_share_one_background_loop_that_stops_with_the_last"),
]


def main(argv: list[str] | None = None) -> int:
    """Run every break (or those named) and print what each test did against it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these breaks (default: all)")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKS if not args.names or b.name in args.names]
    stayed_green = 0
    with tempfile.TemporaryDirectory(prefix="conclab-break-actors-") as tmp:
        for brk in chosen:
            failed, last = run_broken(brk, Path(tmp))
            stayed_green += not failed
            verdict = "fails, as it must" if failed else "STILL PASSES: this test cannot fail"
            print(f"{brk.name:34} {verdict:38}\n{'':34} {last}", flush=True)
    print(f"\n{len(chosen) - stayed_green} of {len(chosen)} broken implementations were caught")
    return 1 if stayed_green else 0


if __name__ == "__main__":
    raise SystemExit(main())
