#!/usr/bin/env python3
"""The "system browser" of the desktop end-to-end test (LOKI Desktop runs
$BROWSER with the identity provider's URL). A user at a real browser would
sign in at the provider's page and be sent back: this does the same over
HTTP with a cookie jar, following each redirect itself, signing in as
$E2E_SSO_EMAIL at the provider's login form, until it reaches a page that is
neither the provider's nor lokid's (the desktop's loopback listener), which
it loads. Its log goes to $E2E_TMP/browser.log.
"""

import http.cookiejar
import os
import sys
import urllib.parse
import urllib.request


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    url = sys.argv[1]
    email = os.environ["E2E_SSO_EMAIL"]
    known = [p for p in os.environ["E2E_SSO_NOT_APP"].split() if p]
    log = open(os.path.join(os.environ["E2E_TMP"], "browser.log"), "a")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirects())
    for _ in range(15):
        print("GET", url, file=log, flush=True)
        if not any(url.startswith(k) for k in known):
            opener.open(url, timeout=30).read()  # the desktop's listener
            return
        try:
            resp = opener.open(url, timeout=30)
            status, headers = resp.status, resp.headers
            if status == 200 and "/interaction/" in url:
                data = urllib.parse.urlencode({"login": email}).encode()
                resp = opener.open(urllib.request.Request(url, data=data, method="POST"), timeout=30)
                status, headers = resp.status, resp.headers
        except urllib.error.HTTPError as e:
            status, headers = e.code, e.headers
        location = headers.get("Location")
        if not (300 <= status < 400 and location):
            print("stuck at", url, status, file=log, flush=True)
            sys.exit(1)
        url = urllib.parse.urljoin(url, location)
    sys.exit(1)


if __name__ == "__main__":
    main()
