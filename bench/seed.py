#!/usr/bin/env python3
"""Seeds a running lokid for the load scripts (standard library only).

usage: seed.py URL [--members 100] [--password PW]

Registers owner@example.com, creates the organization "bench", invites
user0..user{N-1}@example.com as viewers and accepts each invitation with its
one-time token (that creates the account), then prints one line:
"TOKEN ORG_ID" — an access token of the owner scoped to the organization, as
../shared/peers/load/*.sh expect. Idempotent enough to re-run on a seeded
daemon: existing accounts and memberships are kept.
"""
import argparse
import json
import sys
import urllib.error
import urllib.request

PASSWORD = "correct horse battery staple"


def call(url, method, path, body=None, token=None, ok=(200, 201, 202, 204)):
    req = urllib.request.Request(url + path, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(req, data, timeout=60) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        payload = json.loads(raw) if raw else None
        if e.code in ok:
            return e.code, payload
        return e.code, payload


def login(url, email, password, org=None):
    body = {"email": email, "password": password}
    if org:
        body["org"] = org
    code, r = call(url, "POST", "/api/v1/auth/login", body)
    if code != 200:
        sys.exit(f"login {email}: {code} {r}")
    return r["access_token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--password", default=PASSWORD)
    a = ap.parse_args()
    url = a.url.rstrip("/")

    call(url, "POST", "/api/v1/auth/register",
         {"email": "owner@example.com", "password": a.password})
    token = login(url, "owner@example.com", a.password)
    code, orgs = call(url, "GET", "/api/v1/orgs", token=token)
    org = next((o for o in (orgs or {}).get("organizations", []) if o.get("slug") == "bench"), None)
    if org is None:
        code, org = call(url, "POST", "/api/v1/orgs", {"name": "Bench", "slug": "bench"}, token=token)
        if code != 201:
            sys.exit(f"create org: {code} {org}")
    org_id = org["id"] if "id" in org else org["organization"]["id"]
    token = login(url, "owner@example.com", a.password, org_id)
    for i in range(a.members):
        email = f"user{i}@example.com"
        code, inv = call(url, "POST", f"/api/v1/orgs/{org_id}/invitations",
                         {"email": email, "roles": ["viewer"]}, token=token)
        if code == 409:
            continue  # already invited or a member
        if code not in (200, 201):
            sys.exit(f"invite {email}: {code} {inv}")
        code, r = call(url, "POST", f"/api/v1/invitations/{inv['invitation']['id']}/accept",
                       {"token": inv["accept_token"], "password": a.password})
        if code not in (200, 201):
            sys.exit(f"accept {email}: {code} {r}")
    print(token, org_id)


if __name__ == "__main__":
    main()
