#!/usr/bin/env python3
"""Independent verifier for LOKI audit bundles, written from docs/AUDIT-FORMAT.md only.

Checks: JSON Lines with {"type": T, T: {...}}; event hash = SHA-256 hex of the
RFC 8785 (JCS) canonical JSON of the event without "hash"; prev_hash links
(64 zeros before seq 1, or a checkpoint anchoring the first event of a range);
seq without gaps; checkpoints sign JCS {org_id, seq, head_hash, issued_at,
key_id} with Ed25519 (base64url signature, key from the bundle's key lines);
the newest event is covered by a checkpoint.

Trust (docs/AUDIT-FORMAT.md, "Trust"): --trust FINGERPRINT_OR_KEYS_FILE pins
keys (SHA256:<base64url of SHA-256 of the raw key>); a key is trusted when
pinned or introduced (key succession statement signed by a trusted key); every
checkpoint must be signed by a trusted key. --witness FILE: every signed head
of the bundle's chain in the file must be in the bundle with the same hash (or
precede its anchored first event).

Usage: verify_bundle.py BUNDLE [--trust X]... [--witness FILE]
  -> prints "ok N" (plus " trusted" when keys were pinned and all signers are
     trusted) or "fail SEQ REASON" / "untrusted KEY_ID", exit 0/1
Needs the `cryptography` package for Ed25519.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def jcs(value):
    # RFC 8785 for the values an audit event holds (no floats): keys sorted by
    # UTF-16 code units, no whitespace, minimal string escaping.
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, float):
        raise ValueError("floating-point numbers are not allowed in audit events")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def fingerprint(raw):
    return "SHA256:" + base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def pins(values):
    out = set()
    for v in values:
        if v.startswith("SHA256:"):
            out.add(v)
            continue
        with open(v, encoding="utf-8") as f:
            doc = json.load(f)
        for k in doc.get("keys", []):
            out.add(fingerprint(b64url(k["public_key"])))
    return out


def introduced(key, by):
    intro = key.get("introduced_by")
    if not intro or intro["key_id"] != by["key_id"]:
        return False
    statement = {"type": "loki-audit-key-succession", "predecessor": by["key_id"],
                 "key_id": key["key_id"], "public_key": key["public_key"]}
    try:
        Ed25519PublicKey.from_public_bytes(b64url(by["public_key"])).verify(
            b64url(intro["signature"]), jcs(statement).encode("utf-8"))
        return True
    except Exception:
        return False


def trusted_keys(lines, pinned):
    trusted = {k for k, b in lines.items() if fingerprint(b64url(b["public_key"])) in pinned}
    grew = True
    while grew:
        grew = False
        for k, b in lines.items():
            intro = b.get("introduced_by")
            if k not in trusted and intro and intro["key_id"] in trusted \
                    and introduced(b, lines[intro["key_id"]]):
                trusted.add(k)
                grew = True
    return trusted


def main(path, trust=(), witness=None):
    keys, key_lines, events, checkpoints, manifest = {}, {}, [], [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            kind = obj["type"]
            body = obj[kind]
            if kind == "manifest":
                manifest = body
            elif kind == "key":
                keys[body["key_id"]] = Ed25519PublicKey.from_public_bytes(b64url(body["public_key"]))
                key_lines[body["key_id"]] = body
            elif kind == "event":
                events.append(body)
            elif kind == "checkpoint":
                checkpoints.append(body)
    if manifest is None:
        return fail(0, "no manifest")
    signed = {}
    for c in checkpoints:
        payload = {k: c[k] for k in ("org_id", "seq", "head_hash", "issued_at", "key_id")}
        try:
            keys[c["key_id"]].verify(b64url(c["signature"]), jcs(payload).encode("utf-8"))
        except Exception:
            return fail(c["seq"], "bad signature")
        signed.setdefault(c["seq"], set()).add(c["head_hash"])
    prev, expected = None, None
    for e in events:
        seq = e["seq"]
        if expected is None:
            if seq == 1:
                if e["prev_hash"] != "0" * 64:
                    return fail(seq, "chain broken")
            elif e["prev_hash"] not in signed.get(seq - 1, set()):
                return fail(seq, "unanchored start")
        elif seq != expected:
            return fail(min(seq, expected), "gap" if seq > expected else "out of order")
        elif e["prev_hash"] != prev:
            return fail(seq, "chain broken")
        without = {k: v for k, v in e.items() if k != "hash"}
        if hashlib.sha256(jcs(without).encode("utf-8")).hexdigest() != e["hash"]:
            return fail(seq, "hash mismatch")
        if seq in signed and e["hash"] not in signed[seq]:
            return fail(seq, "checkpoint mismatch")
        prev, expected = e["hash"], seq + 1
    if events:
        last = events[-1]["seq"]
        if any(s > last for s in signed):
            return fail(last + 1, "truncated tail")
        if not any(s == last for s in signed):
            return fail(last, "uncovered tail")
    if witness:
        hashes = {e["seq"]: e["hash"] for e in events}
        first = events[0]["seq"] if events else None
        last = events[-1]["seq"] if events else 0
        ranged = "to" in manifest
        with open(witness, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                head = json.loads(line)["checkpoint"]
                if head["org_id"] != manifest["org_id"]:
                    continue
                seq = head["seq"]
                if seq > last:
                    if not ranged:
                        return fail(last + 1, "witness missing")
                elif first is not None and seq >= first:
                    if hashes.get(seq) != head["head_hash"]:
                        return fail(seq, "witness mismatch")
                elif first is None or (first - 1) not in signed:
                    return fail(first or 0, "witness missing")
    if trust:
        good = trusted_keys(key_lines, pins(trust))
        for c in checkpoints:
            if c["key_id"] not in good:
                print(f"untrusted {c['key_id']}")
                return 1
        print(f"ok {len(events)} trusted")
        return 0
    print(f"ok {len(events)}")
    return 0


def fail(seq, why):
    print(f"fail {seq} {why}")
    return 1


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Verify a LOKI audit bundle.")
    ap.add_argument("bundle")
    ap.add_argument("--trust", action="append", default=[])
    ap.add_argument("--witness")
    a = ap.parse_args()
    sys.exit(main(a.bundle, a.trust, a.witness))
