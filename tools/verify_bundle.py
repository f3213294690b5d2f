#!/usr/bin/env python3
"""Independent verifier for LOKI audit bundles, written from docs/AUDIT-FORMAT.md only.

Checks: JSON Lines with {"type": T, T: {...}}; event hash = SHA-256 hex of the
RFC 8785 (JCS) canonical JSON of the event without "hash"; prev_hash links
(64 zeros before seq 1, or a checkpoint anchoring the first event of a range);
seq without gaps; checkpoints sign JCS {org_id, seq, head_hash, issued_at,
key_id} with Ed25519 (base64url signature, key from the bundle's key lines);
the newest event is covered by a checkpoint.

Usage: verify_bundle.py BUNDLE   -> prints "ok N" or "fail SEQ REASON", exit 0/1
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


def main(path):
    keys, events, checkpoints, manifest = {}, [], [], None
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
    print(f"ok {len(events)}")
    return 0


def fail(seq, why):
    print(f"fail {seq} {why}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
