#!/usr/bin/env python3
"""The host-memory admission check (issue 9, guarantee 9): with ukd
--mem-overcommit R, guests that may be running never commit more than R x the
host's memory; a create or start beyond it is 507 `insufficient_capacity` with
a clear message, and nothing is created or changed.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402


def host_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) >> 10
    raise AssertionError("no MemTotal")


class CapacityTest(td.DaemonTest):
    def setUp(self):
        super().setUp()
        # A limit of about 48 MiB, whatever this host's memory: room for one
        # 32 MiB guest, not two.
        self.ratio = 48.5 / host_mib()
        self.ukd.stop()
        self.ukd.start("--mem-overcommit", "%.6f" % self.ratio)

    def test_start_beyond_capacity_is_507_and_changes_nothing(self):
        self.spin_image()
        info = self.api("GET", "/v1/system/info", expect=200).json["capacity"]
        self.assertEqual(info["memory_committed_mib"], 0)
        self.assertIn(info["memory_limit_mib"], (47, 48))

        self.run_instance({"image": "spin", "name": "a", "memory_mib": 32})
        self.wait_log("a", "spinning")
        self.assertEqual(
            self.api("GET", "/v1/system/info").json["capacity"]["memory_committed_mib"], 32)

        r = self.run_instance({"image": "spin", "name": "b", "memory_mib": 32}, expect=507)
        self.assertEqual(r.json["error"]["code"], "insufficient_capacity")
        self.assertIn("--mem-overcommit", r.json["error"]["message"])
        self.assertEqual([i["name"] for i in self.api("GET", "/v1/instances").json], ["a"])

        # Created without starting is fine; starting it is refused and changes nothing.
        self.run_instance({"image": "spin", "name": "c", "memory_mib": 32, "start": False})
        before = self.api("GET", "/v1/instances/c").json
        r = self.api("POST", "/v1/instances/c/start", expect=507)
        self.assertEqual(r.json["error"]["code"], "insufficient_capacity")
        self.assertEqual(self.api("GET", "/v1/instances/c").json, before)

        # A smaller guest still fits; once a stops, c may start.
        self.run_instance({"image": "spin", "name": "d", "memory_mib": 16})
        self.api("POST", "/v1/instances/d/kill", expect=200)
        self.api("POST", "/v1/instances/a/kill", expect=200)
        self.wait_state("a", "exited")
        self.wait_state("d", "exited")
        r = self.api("POST", "/v1/instances/c/start", expect=200)
        self.domains.add(r.json["domain"])
        self.wait_log("c", "spinning")
        self.api("POST", "/v1/instances/c/kill", expect=200)


def cases():
    """Only this file's cases, not those it inherits from DaemonTest."""
    return ["CapacityTest." + n for n in unittest.TestLoader().getTestCaseNames(CapacityTest)
            if n in CapacityTest.__dict__]


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(cases()))
        sys.exit(0)
    unittest.main(verbosity=2)
