"""Recomputes every leaf hash of a Trailkeep JSON export from the README's recipe
("Tamper evidence: the exact encoding") with an independent RFC 8785 implementation
(PyPI `rfc8785`), and compares it with the leaf hash Trailkeep stored.

    python recipe.py EXPORT.json      -> prints "ok N (form 1: A, form 2: B)", exit 0
                                       -> names the first entry that differs, exit 1

Nothing here imports Trailkeep code: it reads only the export and the README's rules.
"""

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


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)["entries"]
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
