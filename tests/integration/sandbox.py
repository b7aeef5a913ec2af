"""loaxa-sandbox for loaxa's integration tests (Python 3 stdlib only).

``Sandbox`` starts the fake messaging provider (LOAXA_SANDBOX) on a free
loopback port (read from its --port-file), in its own temporary directory,
and talks to its control API (``/_sandbox/``): stats, recorded messages,
behaviour rules, tokens, reset. ``channel_config()`` writes the secret files
and returns the ``[channel.NAME]`` sections that point loaxad at it.

Set LOAXA_KEEP_TMP=1 to keep the temporary directories for inspection.
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

SKIP = 77
SANDBOX = os.environ.get("LOAXA_SANDBOX", "")
START_TIMEOUT = 10.0

# The sandbox's default credentials (docs/sandbox.md, "Credentials").
ACCESS_TOKEN = "sandbox-access-token"
PAGE_TOKEN = "sandbox-page-token"
ESMS_KEY = "sandbox-key"
ESMS_SECRET = "sandbox-secret"
TWILIO_SID = "ACsandbox"
TWILIO_TOKEN = "sandbox-twilio-token"
TWILIO_FROM = "+15005550006"
APP_ID = "sandbox-app-id"
APP_SECRET = "sandbox-app-secret"
REFRESH_TOKEN_0 = "sandbox-refresh-token-0"
PAGE_ID = "1234567890"

PATHS = {
    "zns": "/message/template",
    "zalo_oa": "/v3.0/oa/message/cs",
    "messenger": "/v19.0/%s/messages" % PAGE_ID,
    "esms": "/MainService.svc/json/SendMultipleMessage_V4_post_json/",
    "twilio": "/2010-04-01/Accounts/%s/Messages.json" % TWILIO_SID,
    "oauth": "/v4/oa/access_token",
}

# loaxad driver name -> the sandbox's provider name
PROVIDER = {"zns": "zns", "zalo_oa": "oa", "messenger": "messenger",
            "esms": "esms", "twilio": "twilio"}


def require_env():
    """Exit 77 (skipped) unless LOAXAD and LOAXA_SANDBOX are given."""
    for name in ("LOAXAD", "LOAXA_SANDBOX"):
        if not os.environ.get(name):
            print("%s is not set: skipping (exit 77)" % name)
            sys.exit(SKIP)
        if not os.access(os.environ[name], os.X_OK):
            print("%s=%s is not an executable file"
                  % (name, os.environ[name]))
            sys.exit(1)


class SandboxError(AssertionError):
    pass


class Sandbox:
    """One loaxa-sandbox process; extra command-line options in args."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="loaxa-sb-", dir="/tmp")
        self.port_file = os.path.join(self.tmp, "port")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.args = [str(a) for a in args]
        self.proc = None
        self.port = None
        self.closed = False

    # ---- process ----

    def start(self):
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [SANDBOX, "--listen", "127.0.0.1:0", "--port-file",
                 self.port_file] + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err)
        finally:
            err.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with open(self.port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.port = int(text)
                    break
            except (OSError, ValueError):
                pass
            rc = self.proc.poll()
            if rc is not None:
                raise SandboxError("loaxa-sandbox exited %d at start: %s"
                                   % (rc, self.stderr()))
            if time.monotonic() > deadline:
                self.close()
                raise SandboxError("loaxa-sandbox wrote no port file "
                                   "within %.0f s" % START_TIMEOUT)
            time.sleep(0.02)
        return self

    def stop(self, timeout=10.0):
        """SIGTERM and wait; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        if os.environ.get("LOAXA_KEEP_TMP"):
            print("kept " + self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- URLs and loaxad configuration ----

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, what):
        """The endpoint URL of a driver ("zns", "esms", ...) or "oauth"."""
        return self.base + PATHS[what]

    def secret(self, name, value):
        """A mode 0600 file holding value; its path."""
        path = os.path.join(self.tmp, "secret-" + name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
        return path

    def channel_config(self, name, driver, oauth=False, **keys):
        """The text of a [channel.NAME] section for driver pointing at this
        sandbox, with its credentials; keys add or override keys (a value
        None drops the key)."""
        k = {"driver": driver, "url": self.url(driver),
             "allow_http": "yes"}
        if driver in ("zns", "zalo_oa"):
            if oauth:
                k["oauth_url"] = self.url("oauth")
                k["app_id"] = APP_ID
                k["app_secret_file"] = self.secret("app-secret", APP_SECRET)
                k["refresh_token_file"] = self.secret("refresh-token",
                                                      REFRESH_TOKEN_0)
            else:
                k["access_token_file"] = self.secret("access-token",
                                                     ACCESS_TOKEN)
        if driver == "zns":
            k["template_id"] = "123456"
            k["template_data"] = "name={name}, title={title}, time={time}"
        elif driver == "messenger":
            k["access_token_file"] = self.secret("page-token", PAGE_TOKEN)
        elif driver == "esms":
            k["api_key_file"] = self.secret("esms-key", ESMS_KEY)
            k["secret_key_file"] = self.secret("esms-secret", ESMS_SECRET)
            k["brandname"] = "DONGHA"
        elif driver == "twilio":
            k["account_sid"] = TWILIO_SID
            k["auth_token_file"] = self.secret("twilio-token", TWILIO_TOKEN)
            k["from"] = TWILIO_FROM
        k.update(keys)
        lines = ["[channel.%s]" % name]
        lines += ["%s = %s" % (key, v) for key, v in k.items()
                  if v is not None]
        return "\n".join(lines) + "\n"

    # ---- control API ----

    def request(self, method, path, body=None, timeout=10.0):
        """(status, parsed JSON or raw bytes)."""
        hdrs = {}
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            ctype = resp.getheader("Content-Type", "")
        finally:
            conn.close()
        if ctype.startswith("application/json") and raw:
            return status, json.loads(raw.decode("utf-8"))
        return status, raw

    def control(self, method, what, body=None):
        status, data = self.request(method, "/_sandbox/" + what, body)
        if status != 200:
            raise SandboxError("sandbox %s /_sandbox/%s: HTTP %d %r"
                               % (method, what, status, data))
        return data

    def stats(self):
        return self.control("GET", "stats")

    def messages(self, provider=None, to=None, status=None, since=None,
                 limit=100000):
        """The recorded messages (list), in arrival order."""
        q = {"limit": limit}
        if provider:
            q["provider"] = provider
        if to:
            q["to"] = to
        if status:
            q["status"] = status
        if since is not None:
            q["since"] = since
        return self.control("GET", "messages?" +
                            urllib.parse.urlencode(q))["messages"]

    def behaviour(self, rules):
        """Add or replace rules (one object or a list), or run actions."""
        return self.control("POST", "behaviour", rules)

    def clear_behaviour(self):
        return self.control("DELETE", "behaviour")

    def tokens(self):
        return self.control("GET", "tokens")

    def reset(self):
        return self.control("POST", "reset")

    def requests(self, provider):
        """Requests received at a provider endpoint so far."""
        return self.stats()["requests"].get(provider, 0)
