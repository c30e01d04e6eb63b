"""What the OpenAPI document states in prose because JSON Schema cannot, told to schemathesis.

The document states every single input's constraints as schema (patterns, lengths, enums); three
rules relate one input to another or to the server's own state, and are stated in the
descriptions instead. Without them, schemathesis would send requests the document calls invalid
and count the 400 as "valid data rejected". Each hook below applies one of those rules to
positive cases only (negative cases stay as generated), and nothing else:

- `range` is not combined with `from`/`to` (FilterParams' description);
- `from` is not after `to` (the same; the server's check is `Filter::check_order_of_bounds`);
- `cursor` is the `next_cursor` of the previous page with the same filter: it is signed by the
  server, so a generated one is replaced by a real cursor for the case's own filter (or left out
  when that filter has a single page). Paging with real cursors is thus fuzzed too.

Two more relate the integrity proofs' parameters to each other: an inclusion proof's `seq` is
below its `size`, a consistency proof's `from` is at most its `to`. Generated values are folded
into those ranges, and sizes into the latest signed checkpoint's (which the tree always covers),
so every size and leaf still varies. (A size beyond the tree is a documented 404: no such tree
yet.)
"""

import json
import os
import urllib.parse
import urllib.request

import schemathesis

BASE = os.environ["TRAILKEEP_E2E_URL"]
KEY = os.environ["TRAILKEEP_E2E_KEY"]
DAY = 86_400_000_000  # microseconds
SLACK = 14 * 3_600_000_000  # a date's start lies within 14 h of its UTC midnight


def _positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def _value(query, name):
    value = query.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) else value


def _days(y, m, d):
    """Days from 1970-01-01 in the proleptic Gregorian calendar, year 0 included (as chrono)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _bound(text):
    """(kind, microseconds since 1970 UTC): a date's midnight or an instant, as the
    document's TIME_BOUND pattern writes them."""
    day = _days(int(text[0:4]), int(text[5:7]), int(text[8:10])) * DAY
    if len(text) == 10:
        return "date", day
    clock, zone = text[11:], "Z"
    if clock.endswith("Z"):
        clock = clock[:-1]
    else:
        clock, zone = clock[:-6], clock[-6:]
    hms, _, fraction = clock.partition(".")
    h, mi, sec = (int(x) for x in hms.split(":"))
    micros = int((fraction + "000000")[:6])
    t = day + ((h * 60 + mi) * 60 + sec) * 1_000_000 + micros
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        t -= sign * (int(zone[1:3]) * 60 + int(zone[4:6])) * 60_000_000
    return "instant", t


def _inverted(start, end):
    """`Filter::check_order_of_bounds`, clause for clause."""
    (ka, a), (kb, b) = _bound(start), _bound(end)
    if ka == kb:
        return a > b
    if ka == "date":
        return a - SLACK > b
    return a > b + DAY + SLACK


@schemathesis.hook
def filter_case(context, case):
    query = case.query or {}
    if not _positive(case) or not isinstance(query, dict) or "/integrity/" in case.path:
        return True
    start, end = _value(query, "from"), _value(query, "to")
    if _value(query, "range") is not None and (start is not None or end is not None):
        return False
    if start is not None and end is not None and _inverted(start, end):
        return False
    return True


_TREE = []


def _tree_size():
    """The latest signed checkpoint's size (fetched once; the tree covers at least as many)."""
    if not _TREE:
        request = urllib.request.Request(
            f"{BASE}/api/v1/integrity/checkpoint", headers={"Authorization": f"Bearer {KEY}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            _TREE.append(int(response.read().decode().split("\n")[1]))
    return _TREE[0]


def _fold(query, name, low, high):
    """Folds a generated whole number into [low, high]."""
    value = _value(query, name)
    if isinstance(value, int) and not isinstance(value, bool):
        query[name] = low + (value - low) % (high - low + 1)


def _proof_case(case):
    query = case.query
    path = case.path
    if path.endswith("/proof/inclusion"):
        _fold(query, "size", 1, _tree_size())
        size = _value(query, "size")
        if isinstance(size, int):
            _fold(query, "seq", 0, size - 1)
    else:
        _fold(query, "to", 1, _tree_size())
        to = _value(query, "to")
        if isinstance(to, int):
            _fold(query, "from", 1, to)
    return case


@schemathesis.hook
def map_case(context, case):
    query = case.query
    if _positive(case) and isinstance(query, dict) and "/integrity/proof/" in case.path:
        return _proof_case(case)
    if not _positive(case) or not isinstance(query, dict) or "cursor" not in query:
        return case
    first = {k: v for k, v in query.items() if k != "cursor"}
    url = f"{BASE}{case.formatted_path}?{urllib.parse.urlencode(first, doseq=True)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            page = json.load(response)
    except Exception:
        page = {}
    cursor = page.get("next_cursor") if isinstance(page, dict) else None
    if cursor:
        query["cursor"] = cursor
    else:
        del query["cursor"]
    return case
