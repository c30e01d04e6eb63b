"""Recomputes every leaf hash of a Trailkeep export (JSON, NDJSON or CSV) from the README's
recipe ("Tamper evidence: the exact encoding") with an independent RFC 8785 implementation
(PyPI `rfc8785`), and compares it with the leaf hash Trailkeep stored.

    python recipe.py EXPORT.json|.ndjson|.csv -> prints "ok N (form 1: A, form 2: B)", exit 0
                                              -> names the first entry that differs, exit 1

A CSV record is read back into the entry it was written from: an empty cell is null (an empty
text is written as a lone `'`), `details` is JSON text, and one leading `'` (added before
`= + - @ '`, tab or CR so that spreadsheets show the cell as text) is removed.

Nothing here imports Trailkeep code: it reads only the export and the README's rules.
"""

import csv
import datetime
import hashlib
import json
import sys

import rfc8785


def six_digits(timestamp: str) -> str:
    """An RFC 3339 instant as UTC with exactly six fractional digits."""
    t = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    t = t.astimezone(datetime.timezone.utc)
    # Four-digit years always (strftime's %Y writes year 33 as "33" on some platforms).
    return f"{t.year:04d}-" + t.strftime("%m-%dT%H:%M:%S.%fZ")


def form_1_category(action: str) -> str:
    """The frozen category rule of form 1 (README)."""
    first = action.split(".", 1)[0]
    if first in ("2fa", "auth", "session"):
        return "auth"
    if action in ("user.login", "user.logout", "user.login_failed"):
        return "auth"
    return first


def canonical_object(entry: dict) -> dict:
    actor = entry["actor"]
    resource = entry.get("resource") or {}
    obj = {
        "seq": entry["seq"],
        "id": entry["id"],
        "occurred_at": six_digits(entry["occurred_at"]),
        "recorded_at": six_digits(entry["recorded_at"]),
        "actor_type": actor["type"],
        "actor_id": actor["id"],
        "actor_name": actor.get("name"),
        "actor_email": actor.get("email"),
        "action": entry["action"],
        "resource_type": resource.get("type"),
        "resource_id": resource.get("id"),
        "ip": entry.get("ip"),
        "user_agent": entry.get("user_agent"),
        "status": entry["status"],
        "details": entry["details"],
    }
    form = entry["form"]
    if form == 2:
        obj["form"] = 2
        obj["source"] = entry["source"]
    elif form == 1:
        obj["category"] = form_1_category(entry["action"])
    else:
        raise ValueError(f"unknown form {form}")
    return obj


def leaf_hash(entry: dict) -> str:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(canonical_object(entry))).hexdigest()


def restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def csv_entries(f) -> list:
    entries = []
    for row in csv.DictReader(f):
        cell = {k: restore(v) for k, v in row.items()}
        opt = lambda k: None if row[k] == "" else cell[k]  # noqa: E731
        resource = None
        if row["resource_type"] or row["resource_id"]:
            resource = {"type": cell["resource_type"], "id": cell["resource_id"]}
        entries.append({
            "seq": int(cell["seq"]),
            "id": cell["id"],
            "occurred_at": cell["timestamp"],
            "recorded_at": cell["recorded_at"],
            "actor": {"type": cell["actor_type"], "id": cell["actor_id"],
                      "name": opt("actor_name"), "email": opt("actor_email")},
            "action": cell["action"],
            "resource": resource,
            "ip": opt("ip"),
            "user_agent": opt("user_agent"),
            "status": cell["status"],
            "details": json.loads(cell["details"]),
            "form": int(cell["form"]),
            "source": opt("source"),
            "leaf_hash": cell["leaf_hash"],
        })
    return entries


def read_entries(path: str) -> list:
    with open(path, encoding="utf-8", newline="") as f:
        start = f.read(64).lstrip()
        f.seek(0)
        if start.startswith('{"export"'):
            return json.load(f)["entries"]
        if start.startswith("timestamp,actor_type"):
            return csv_entries(f)
        lines = [json.loads(line) for line in f if line.strip()]
        # An NDJSON export of format 2 or 3 ends with a trailer line.
        return [line for line in lines if "trailer" not in line]


def main(path: str) -> int:
    entries = read_entries(path)
    forms = {1: 0, 2: 0}
    for entry in entries:
        got = leaf_hash(entry)
        if got != entry["leaf_hash"]:
            print(
                f"seq {entry['seq']} (form {entry['form']}): recipe gives {got}, "
                f"Trailkeep stored {entry['leaf_hash']}"
            )
            return 1
        forms[entry["form"]] += 1
    print(f"ok {len(entries)} (form 1: {forms[1]}, form 2: {forms[2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
