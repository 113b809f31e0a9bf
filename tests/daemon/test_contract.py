#!/usr/bin/env python3
"""The API contract: api/openapi.yaml against a real ukd (its own --root,
--socket and --netns) and the real libvirtd. Every path and method the YAML
documents is driven at least once with a valid request, and with the cheap
documented errors (unknown instance, bad spec, conflicts, bad query), plus an
undocumented method on every path (405). Each answer's status must be one the
YAML lists for that operation, its Content-Type one the YAML lists for that
status, and a JSON body (or each NDJSON line) must validate against the
documented schema.

The schemas are checked by the small validator below: the OpenAPI 3.0 schema
keywords the YAML uses (a keyword it does not know fails the test, so the YAML
cannot outgrow it unnoticed).

Environment: UKD, UKD_HELLO (the hello example). Needs PyYAML.
Run one case: test_contract.py CASE; list them: test_contract.py --list.
"""
import http.client
import json
import os
import re
import sys
import threading
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_daemon import (main, DaemonTest, HELLO, Response, UnixHTTPConnection, free_port,  # noqa: E402
                         tar_of)

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "api",
                         "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")

# An idle guest that says when it is up.
SLEEPER_C = b"""#include <stdio.h>
#include <unistd.h>
int main(void)
{
	printf("sleeping\\n");
	fflush(stdout);
	sleep(600);
	return 0;
}
"""

# A guest that panics: the health answer's panic and exit objects.
CRASH_C = b"""__attribute__((noinline)) static void crash_here(volatile int *p)
{
	*p = 1;
}
int main(void)
{
	crash_here(0);
	return 0;
}
"""

# Keywords that only document: the validator has nothing to check for them.
DOC_KEYWORDS = {"description", "default", "example", "title"}
CHECKED_KEYWORDS = {"$ref", "type", "nullable", "required", "properties",
                    "additionalProperties", "items", "enum", "pattern", "minimum",
                    "maximum", "maxItems", "oneOf", "format"}

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Contract:
    """api/openapi.yaml, with $ref resolution and a schema validator."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise AssertionError("only local $refs are supported: " + ref)
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def operations(self):
        return {(p, m) for p, item in self.doc["paths"].items() for m in item if m in METHODS}

    def operation(self, path, method):
        item = self.doc["paths"].get(path)
        if item is None or method not in item:
            raise AssertionError("%s %s is not in openapi.yaml" % (method.upper(), path))
        return item[method]

    def errors(self, schema, value, where="$"):
        """The ways value does not match schema (an empty list when it does)."""
        s = self.resolve(schema)
        unknown = set(s) - CHECKED_KEYWORDS - DOC_KEYWORDS
        if unknown:
            return ["%s: the schema uses keywords this validator does not know: %s"
                    % (where, sorted(unknown))]
        if value is None:
            return [] if s.get("nullable") else ["%s: null, and the schema is not nullable"
                                                 % where]
        if "oneOf" in s:
            matching = [alt for alt in s["oneOf"] if not self.errors(alt, value, where)]
            if len(matching) != 1:
                return ["%s: %r matches %d of oneOf's schemas, not exactly one"
                        % (where, value, len(matching))]
            return []
        t = s.get("type")
        if t is not None and not isinstance(t, str):
            return ["%s: type %r is not OpenAPI 3.0 (one type name; nullable: true for null)"
                    % (where, t)]
        ok = {"object": lambda v: isinstance(v, dict),
              "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool)}
        if t is not None and not ok[t](value):
            return ["%s: %r is not of type %s" % (where, value, t)]
        errs = []
        if "enum" in s and value not in s["enum"]:
            errs.append("%s: %r is not one of %r" % (where, value, s["enum"]))
        if isinstance(value, str):
            if "pattern" in s and not re.search(s["pattern"], value):
                errs.append("%s: %r does not match %s" % (where, value, s["pattern"]))
            if s.get("format") == "date-time" and not DATE_TIME.match(value):
                errs.append("%s: %r is not an RFC 3339 date-time" % (where, value))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in s and value < s["minimum"]:
                errs.append("%s: %r < minimum %r" % (where, value, s["minimum"]))
            if "maximum" in s and value > s["maximum"]:
                errs.append("%s: %r > maximum %r" % (where, value, s["maximum"]))
        if isinstance(value, list):
            if "maxItems" in s and len(value) > s["maxItems"]:
                errs.append("%s: %d items > maxItems %d" % (where, len(value), s["maxItems"]))
            if "items" in s:
                for i, v in enumerate(value):
                    errs += self.errors(s["items"], v, "%s[%d]" % (where, i))
        if isinstance(value, dict):
            props = s.get("properties", {})
            for key in s.get("required", []):
                if key not in value:
                    errs.append("%s: required property %r is missing" % (where, key))
            extra = s.get("additionalProperties", True)
            for key, v in value.items():
                if key in props:
                    errs += self.errors(props[key], v, "%s.%s" % (where, key))
                elif extra is False:
                    errs.append("%s: property %r is not documented" % (where, key))
                elif isinstance(extra, dict):
                    errs += self.errors(extra, v, "%s.%s" % (where, key))
                elif props:
                    # Not forbidden by the YAML, but a field ukd sends and the contract
                    # does not describe is a gap in the contract all the same.
                    errs.append("%s: property %r is not in the schema" % (where, key))
        return errs


class ContractTest(DaemonTest):
    @classmethod
    def setUpClass(cls):
        cls.contract = Contract(SPEC_PATH)

    def setUp(self):
        self.seen = {}  # (path, method) -> set of statuses
        if self._testMethodName != "test_validator":  # needs no daemon
            super().setUp()

    def tearDown(self):
        if self._testMethodName != "test_validator":
            super().tearDown()

    def send(self, method, url, body, headers, announce, tcp):
        if tcp is not None:
            c = http.client.HTTPConnection("127.0.0.1", tcp, timeout=60)
        else:
            c = UnixHTTPConnection(self.ukd.sock)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            if announce is None:
                c.request(method, url, body=body, headers=headers or {})
            else:  # only the headers, announcing a body of that many bytes
                c.putrequest(method, url)
                for k, v in dict(headers or {}, **{"Content-Length": announce}).items():
                    c.putheader(k, str(v))
                c.endheaders()
            return Response(c.getresponse())
        finally:
            c.close()

    def call(self, method, path, query="", body=None, headers=None, expect=None,
             announce=None, tcp=None, **params):
        """method on the documented path (its {params} filled in): the answer, checked
        against the operation's documented responses. announce: send only headers
        with this Content-Length; tcp: a port of ukd's --listen (sent without a token)."""
        op = self.contract.operation(path, method.lower())
        url = path.format(**params) + query
        r = self.send(method.upper(), url, body, headers, announce, tcp)
        what = "%s %s -> %r" % (method.upper(), url, r)
        self.seen.setdefault((path, method.lower()), set()).add(r.status)
        if expect is not None:
            self.assertIn(r.status, expect if isinstance(expect, tuple) else (expect,), what)
        responses = op["responses"]
        key = str(r.status) if str(r.status) in responses else "default"
        self.assertIn(key, responses, "status not documented: " + what)
        self.check_body(self.contract.resolve(responses[key]), r, what)
        return r

    def check_body(self, response, r, what):
        content = response.get("content")
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip()
        if not content:
            self.assertEqual(r.raw, b"", "a body where none is documented: " + what)
            return
        self.assertIn(ctype, content, "Content-Type %r not documented: %s" % (ctype, what))
        schema = content[ctype].get("schema")
        if ctype == "application/json":
            self.assertIsNotNone(r.json, what)
            docs = [r.json]
        elif ctype == "application/x-ndjson":
            docs = [json.loads(line) for line in r.raw.decode().splitlines() if line]
        else:
            r.raw.decode()  # text: UTF-8
            self.assertEqual(schema, {"type": "string"}, what)
            return
        for d in docs:
            errs = self.contract.errors(schema, d)
            self.assertEqual(errs, [], "%s\n%s" % (what, json.dumps(d, indent=1)[:3000]))

    def stream(self, path, query, lines, **params):
        """A streamed (chunked) GET: its status, Content-Type and its first lines
        checked as documented, then the client goes away."""
        op = self.contract.operation(path, "get")
        url = path.format(**params) + query
        c = UnixHTTPConnection(self.ukd.sock, timeout=60)
        try:
            c.request("GET", url)
            r = c.getresponse()
            what = "GET %s -> %d" % (url, r.status)
            self.seen.setdefault((path, "get"), set()).add(r.status)
            self.assertEqual(r.status, 200, what)
            self.assertEqual(r.headers.get("Transfer-Encoding"), "chunked", what)
            content = self.contract.resolve(op["responses"]["200"])["content"]
            ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip()
            self.assertIn(ctype, content, what)
            got = [r.readline() for _ in range(lines)]
        finally:
            c.close()
        for line in got:
            if ctype == "application/x-ndjson":
                self.assertEqual(self.contract.errors(content[ctype]["schema"],
                                                      json.loads(line)), [], what)
            else:
                line.decode()
        return got

    def undocumented_method(self, path, **params):
        """Any method the YAML does not list for path: 405 with an Error body and Allow
        naming exactly the documented ones."""
        documented = {m.upper() for m in self.contract.doc["paths"][path] if m in METHODS}
        other = sorted({"GET", "POST", "DELETE", "PUT", "PATCH"} - documented)[0]
        r = self.ukd.request(other, path.format(**params))
        what = "%s %s -> %r" % (other, path, r)
        self.assertEqual(r.status, 405, what)
        self.assertEqual(set(r.headers.get("Allow", "").replace(" ", "").split(",")),
                         documented, what)
        self.assertEqual(self.contract.errors({"$ref": "#/components/schemas/Error"}, r.json),
                         [], what)
        self.assertEqual(r.json["error"]["code"], "method_not_allowed", what)

    def wait_for(self, cond, what, timeout=90):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail("no %s after %ds" % (what, timeout))
            time.sleep(0.2)

    def test_every_operation(self):
        """Every path and method in openapi.yaml answers as documented."""
        octet = {"Content-Type": "application/octet-stream"}
        tar = {"Content-Type": "application/x-tar"}
        jsn = {"Content-Type": "application/json"}
        with open(HELLO, "rb") as f:
            hello = f.read()

        # System, metrics.
        info = self.call("get", "/v1/system/info", expect=200).json
        self.assertTrue(info["libvirt"]["connected"])
        r = self.call("get", "/metrics", expect=200)

        # Images: upload, again, a streamed build, refusals.
        img = self.call("post", "/v1/images", "?name=hello:v1", hello, octet, expect=201).json
        self.call("post", "/v1/images", "?name=hello:v1", hello, octet, expect=200)
        ctx = tar_of([("uk.json", json.dumps({"name": "sleeper", "sources": ["s.c"],
                                               "mem": 16}).encode()), ("s.c", SLEEPER_C)])
        r = self.call("post", "/v1/images", "?stream=1", ctx, tar, expect=200)
        self.assertEqual(r.headers.get("Content-Type").split(";")[0], "application/x-ndjson")
        last = json.loads(r.raw.decode().splitlines()[-1])
        self.assertEqual(last["status"], 201, r)
        bad = tar_of([("uk.json", json.dumps({"name": "bad", "sources": ["bad.c"]}).encode()),
                      ("bad.c", b"int main(void) { return undeclared_thing; }\n")])
        r = self.call("post", "/v1/images", "?stream=1", bad, tar, expect=200)
        last = json.loads(r.raw.decode().splitlines()[-1])
        self.assertEqual((last["status"], last["error"]["code"]), (422, "build_failed"), r)
        self.call("post", "/v1/images", "?name=junk", b"not an elf at all", octet, expect=422)
        self.call("post", "/v1/images", "?name=bad/name", hello, octet, expect=422)
        self.call("post", "/v1/images", "?name=x&mem=lots", hello, octet, expect=400)
        self.call("post", "/v1/images", "?name=x", None, octet, announce=200 << 20, expect=413)
        self.call("post", "/v1/images", "?name=x", b"{}", {"Content-Type": "text/plain"},
                  expect=415)
        self.call("get", "/v1/images", expect=200)
        self.assertEqual(self.call("get", "/v1/images/{ref}", expect=200, ref="hello:v1")
                         .json["id"], img["id"])
        self.call("get", "/v1/images/{ref}", expect=200, ref=img["id"][7:19])
        self.call("get", "/v1/images/{ref}", expect=404, ref="nope")

        # Networks.
        subnet = "10.%d.%d.0/24" % (100 + os.getpid() % 100, os.getpid() // 100 % 250)
        net = {"name": "ct", "subnet": subnet}
        self.call("post", "/v1/networks", body=net, expect=201)
        self.call("post", "/v1/networks", body=net, expect=409)
        self.call("post", "/v1/networks", body={"name": "ct2", "subnet": "10.0.0.1/8"},
                  expect=422)
        self.call("post", "/v1/networks", body=b'{"name":', headers=jsn, expect=400)
        self.assertIn("ct", [n["name"] for n in self.call("get", "/v1/networks",
                                                           expect=200).json])
        self.call("get", "/v1/networks/{name}", expect=200, name="ct")
        self.call("get", "/v1/networks/{name}", expect=404, name="nope")

        # Instances: create, and the refusals.
        hport = free_port()
        disk = os.path.join(self.dir, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        os.chmod(disk, 0o644)
        s1 = self.call("post", "/v1/instances", expect=201,
                       body={"image": "sleeper", "name": "s1", "network": "ct",
                             "restart": "on-failure:3", "health_interval_ms": 200,
                             "ports": ["%d:8080" % hport, {"host_port": hport, "guest_port": 53,
                                                            "proto": "udp"}],
                             "volumes": [disk + ":/dev/vda"]}).json
        self.assertEqual(len(s1["ports"]), 2)
        self.domains.add(s1["domain"])
        h1 = self.call("post", "/v1/instances", expect=201,
                       body={"image": "hello:v1", "name": "h1", "start": False,
                             "args": ["0"], "env": {"A": "b"}}).json
        self.domains.add(h1["domain"])
        self.call("post", "/v1/instances", body={"image": "hello:v1", "name": "h1"},
                  expect=409)
        self.call("post", "/v1/instances", body={"image": "hello:v1", "colour": "red"},
                  expect=422)
        self.call("post", "/v1/instances", body={"image": "hello:v1", "restart": "maybe"},
                  expect=422)
        self.call("post", "/v1/instances", body={"image": "nope"}, expect=404)
        self.call("post", "/v1/instances", body={"image": "hello:v1", "network": "nope"},
                  expect=404)
        self.call("post", "/v1/instances", body=b"[1,", headers=jsn, expect=400)
        self.call("post", "/v1/instances", headers=jsn, announce=2 << 20, expect=413)
        self.call("get", "/v1/instances", expect=200)
        self.call("get", "/v1/instances/{ref}", expect=200, ref="h1")
        self.call("get", "/v1/instances/{ref}", expect=200, ref=s1["id"][:8])
        self.call("get", "/v1/instances/{ref}", expect=404, ref="nope")

        # A running instance: logs, health, stats, metrics.
        self.wait_for(lambda: b"sleeping" in self.call(
            "get", "/v1/instances/{ref}/logs", expect=200, ref="s1").raw, "output from s1")
        self.wait_for(lambda: self.call("get", "/v1/instances/{ref}/health", expect=200,
                                        ref="s1").json["heartbeat"] is not None,
                      "heartbeat from s1")
        self.call("get", "/v1/instances/{ref}", expect=200, ref="s1")
        self.call("get", "/v1/instances/{ref}/logs", "?tail=1&since=10m", expect=200, ref="s1")
        self.call("get", "/v1/instances/{ref}/logs", "?tail=abc", expect=400, ref="s1")
        self.call("get", "/v1/instances/{ref}/logs", expect=404, ref="nope")
        self.call("get", "/v1/instances/{ref}/health", expect=200, ref="h1")
        self.call("get", "/v1/instances/{ref}/health", expect=404, ref="nope")
        st = self.call("get", "/v1/instances/{ref}/stats", "?sample_ms=200", expect=200,
                       ref="s1").json
        self.assertIsNotNone(st["cpu"]["percent"])
        self.assertIsNone(self.call("get", "/v1/instances/{ref}/stats", "?sample_ms=0",
                                    expect=200, ref="s1").json["cpu"]["percent"])
        self.call("get", "/v1/instances/{ref}/stats", "?sample_ms=abc", expect=400, ref="s1")
        self.call("get", "/v1/instances/{ref}/stats", expect=409, ref="h1")
        self.call("get", "/v1/instances/{ref}/stats", expect=404, ref="nope")
        self.assertTrue(self.stream("/v1/instances/{ref}/logs", "?follow=1", 1,
                                    ref="s1")[0].startswith(b"runtime: "))
        r = self.call("get", "/metrics", expect=200)
        self.assertEqual(r.headers.get("Content-Type"), "text/plain; version=0.0.4")
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})?'
                            r' -?[0-9.e+-]+$')
        for line in r.raw.decode().splitlines():
            self.assertTrue(line.startswith("#") or sample.match(line), line)
        self.assertIn("ukd_instance_healthy{", r.raw.decode())

        # Conflicts while s1 runs.
        self.call("delete", "/v1/networks/{name}", expect=409, name="ct")
        self.call("delete", "/v1/instances/{ref}", expect=409, ref="s1")
        self.call("delete", "/v1/images/{ref}", expect=409, ref="sleeper")
        self.call("post", "/v1/instances/{ref}/start", expect=409, ref="s1")

        # Lifecycle.
        self.call("post", "/v1/instances/{ref}/restart", "?t=abc", expect=400, ref="s1")
        r = self.call("post", "/v1/instances/{ref}/restart", "?t=0", expect=200, ref="s1")
        self.assertEqual(r.json["state"], "running")
        r = self.call("post", "/v1/instances/{ref}/stop", "?t=2", expect=200, ref="s1")
        self.assertEqual(r.json["state"], "exited")
        self.call("post", "/v1/instances/{ref}/kill", expect=200, ref="s1")  # not running
        self.call("post", "/v1/instances/{ref}/start", expect=200, ref="s1")
        self.call("post", "/v1/instances/{ref}/kill", expect=200, ref="s1")
        # A kill during a graceful stop: 202 (or 200 if the stop was already done).
        self.call("post", "/v1/instances/{ref}/start", expect=200, ref="s1")
        self.wait_for(lambda: b"sleeping" in self.call(
            "get", "/v1/instances/{ref}/logs", expect=200, ref="s1").raw, "s1 up again")
        stopped = []
        stopper = threading.Thread(target=lambda: stopped.append(self.send(
            "POST", "/v1/instances/s1/stop?t=60", None, None, None, None)))
        stopper.start()
        time.sleep(0.3)
        killed = self.call("post", "/v1/instances/{ref}/kill", expect=(200, 202), ref="s1")
        stopper.join(90)
        self.assertFalse(stopper.is_alive())
        self.assertEqual(stopped[0].status, 200, stopped)
        self.check_body(self.contract.resolve(self.contract.operation(
            "/v1/instances/{ref}/stop", "post")["responses"]["200"]), stopped[0], "stop")
        if killed.status == 202:
            self.assertEqual(killed.json["state"], "stopping", killed)
            self.assertEqual(stopped[0].json["exit_reason"], "stopped", stopped)
        for op in ("start", "stop", "kill", "restart"):
            self.call("post", "/v1/instances/{ref}/" + op, expect=404, ref="nope")
        # An instance whose image was deleted (forced) cannot start.
        self.call("post", "/v1/images", "?name=orphan", hello + b"\0", octet, expect=201)
        self.call("post", "/v1/instances", body={"image": "orphan", "name": "o1", "start": False},
                  expect=201)
        self.call("delete", "/v1/images/{ref}", expect=409, ref="orphan")
        self.call("delete", "/v1/images/{ref}", "?force=1", expect=204, ref="orphan")
        self.call("post", "/v1/instances/{ref}/start", expect=409, ref="o1")
        self.call("post", "/v1/instances/{ref}/restart", expect=409, ref="o1")
        self.call("delete", "/v1/instances/{ref}", expect=204, ref="o1")
        self.call("post", "/v1/instances/{ref}/start", expect=200, ref="h1")
        self.wait_for(lambda: self.call("get", "/v1/instances/{ref}", expect=200,
                                        ref="h1").json["state"] == "exited", "h1 exited")
        self.call("get", "/v1/instances/{ref}/logs", "?follow=1", expect=200, ref="h1")
        self.call("get", "/v1/instances/{ref}/health", expect=200, ref="h1")

        # A panic: health's panic (with its backtrace) and exit.
        ctx = tar_of([("uk.json", json.dumps({"name": "crash", "sources": ["c.c"],
                                               "mem": 16}).encode()), ("c.c", CRASH_C)])
        self.call("post", "/v1/images", body=ctx, headers=tar, expect=201)
        p1 = self.call("post", "/v1/instances", body={"image": "crash", "name": "p1"},
                       expect=201).json
        self.domains.add(p1["domain"])
        self.wait_for(lambda: self.call("get", "/v1/instances/{ref}", expect=200,
                                        ref="p1").json["state"] == "exited", "p1 exited")
        self.wait_for(lambda: self.call("get", "/v1/instances/{ref}/health", expect=200,
                                        ref="p1").json["exit"] is not None, "p1's exit")
        h = self.call("get", "/v1/instances/{ref}/health", expect=200, ref="p1").json
        self.assertEqual(h["exit"]["reason"], "panic", h)
        self.assertTrue(h["panic"]["backtrace"], h)

        # Events.
        r = self.call("get", "/v1/events", expect=200)
        types = {json.loads(line)["type"] for line in r.raw.decode().splitlines()}
        self.assertTrue({"image.stored", "network.created", "instance.created",
                         "instance.started", "instance.stopped", "instance.exited"} <= types,
                        types)
        self.call("get", "/v1/events", "?instance=h1&since=1h", expect=200)
        self.call("get", "/v1/events", "?since=3", expect=200)
        self.call("get", "/v1/events", "?since=soon", expect=400)
        self.stream("/v1/events", "?follow=1", 3)
        self.call("get", "/v1/events", "?instance=nope", expect=404)

        # Deletes.
        self.call("delete", "/v1/instances/{ref}", expect=404, ref="nope")
        self.call("delete", "/v1/instances/{ref}", "?force=1", expect=204, ref="s1")
        self.call("delete", "/v1/instances/{ref}", expect=204, ref="h1")
        self.call("delete", "/v1/instances/{ref}", expect=204, ref="p1")
        self.call("delete", "/v1/networks/{name}", expect=204, name="ct")
        self.call("delete", "/v1/networks/{name}", expect=404, name="ct")
        self.call("delete", "/v1/images/{ref}", expect=204, ref="hello:v1")
        self.call("delete", "/v1/images/{ref}", expect=204, ref="sleeper")
        self.call("delete", "/v1/images/{ref}", expect=404, ref="sleeper")
        self.call("get", "/v1/system/info", expect=200)

        # Every path: an undocumented method is 405 with Allow; an unknown path is 404.
        for path in self.contract.doc["paths"]:
            self.undocumented_method(path, ref="x1", name="x1")
        r = self.ukd.request("GET", "/v1/nothing")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.contract.errors({"$ref": "#/components/schemas/Error"}, r.json),
                         [], r)

        # Over TCP without the token: 401 for every operation, before anything else.
        port = free_port()
        self.restart_listening(port, "contract-%d" % os.getpid())
        for path, method in sorted(self.contract.operations()):
            r = self.call(method, path, expect=401, tcp=port, ref="x1", name="x1")
            self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer", r)

        missing = sorted(self.contract.operations() - set(self.seen))
        self.assertEqual(missing, [], "operations in openapi.yaml the test did not drive")
        if os.environ.get("UKD_TEST_VERBOSE"):
            for (p, m), statuses in sorted(self.seen.items()):
                print("%-6s %-32s %s" % (m.upper(), p, sorted(statuses)))

    def test_validator(self):
        """The validator refuses what the schemas forbid (so a passing contract means something)."""
        c = self.contract
        ok = {"id": "0" * 32, "name": "a", "image": "sha256:" + "0" * 64, "state": "running",
              "desired_state": "running", "memory_mib": 64, "args": None, "env": {},
              "restart": "no", "restart_count": 0, "restart_at": None, "exit_status": None,
              "exit_reason": None, "message": None, "created": "2024-05-01T10:00:00.123Z",
              "started": None, "finished": None, "domain": "ukd-000000000000",
              "network": None, "ports": None}

        def inst(**kw):
            return c.errors({"$ref": "#/components/schemas/Instance"}, dict(ok, **kw))
        self.assertEqual(inst(), [])
        self.assertEqual(inst(exit_status=3), [])
        self.assertTrue(inst(id="xyz"))                                  # pattern
        self.assertTrue(inst(state="dancing"))                           # enum
        self.assertTrue(inst(memory_mib="64"))                           # type
        self.assertTrue(inst(memory_mib=True))                           # bool is no integer
        self.assertTrue(inst(name=None))                                 # not nullable
        self.assertTrue(inst(args=[1]))                                  # items
        self.assertTrue(inst(colour="red"))                              # undocumented
        self.assertTrue(inst(created="yesterday"))                       # date-time
        self.assertTrue(inst(env={"A": 1}))                              # additionalProperties
        self.assertTrue(c.errors({"$ref": "#/components/schemas/Instance"},
                                 {k: v for k, v in ok.items() if k != "name"}))  # required
        self.assertTrue(c.errors({"$ref": "#/components/schemas/Image"},
                                 {"id": "sha256:" + "0" * 64}))                  # required
        spec = {"$ref": "#/components/schemas/InstanceSpec"}
        self.assertEqual(c.errors(spec, {"image": "x", "ports": [
            "8080:80", {"host_port": 1, "guest_port": 2}]}), [])
        self.assertTrue(c.errors(spec, {"image": "x", "ports": [
            {"host_port": 0, "guest_port": 2}]}))                                # minimum
        self.assertTrue(c.errors(spec, {"image": "x", "ports": ["eighty"]}))  # oneOf
        self.assertTrue(c.errors({"type": ["string", "null"]}, "x"))    # not OpenAPI 3.0
        self.assertTrue(c.errors({"type": "string", "const": "x"}, "x"))  # unknown keyword
        # Every schema in the YAML uses only keywords the validator knows.
        for name, schema in c.doc["components"]["schemas"].items():
            self.walk_keywords(schema, "#/components/schemas/" + name)

    def walk_keywords(self, s, where):
        if not isinstance(s, dict) or "$ref" in s:
            return
        t = s.get("type")
        self.assertTrue(t is None or isinstance(t, str), "%s: type %r" % (where, t))
        self.assertEqual(set(s) - CHECKED_KEYWORDS - DOC_KEYWORDS, set(), where)
        for k, v in s.get("properties", {}).items():
            self.walk_keywords(v, where + "/properties/" + k)
        for k in ("items", "additionalProperties"):
            self.walk_keywords(s.get(k), where + "/" + k)
        for i, v in enumerate(s.get("oneOf", [])):
            self.walk_keywords(v, "%s/oneOf/%d" % (where, i))


# Only this file's cases: the harness's own tests run from test_daemon.py.
for _name in dir(DaemonTest):
    if _name.startswith("test_") and _name not in ContractTest.__dict__:
        setattr(ContractTest, _name, None)

if __name__ == "__main__":
    main(ContractTest)
