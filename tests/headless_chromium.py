"""A small Chrome DevTools Protocol client for the report's browser test, with no dependency
beyond the standard library: Chromium speaks CDP over a pipe (``--remote-debugging-pipe``:
it reads commands from fd 3 and writes replies and events to fd 4, each message JSON ended by
a NUL byte), so no port, websocket library or Playwright download is needed.

Network access is blocked: every request that is not ``file:`` or ``data:`` is failed through
CDP's Fetch domain and recorded in ``Page.blocked``, so a test can assert there were none.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field

# The flags DEVELOPERS.md asks for, plus the CDP pipe.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


class CDPError(RuntimeError):
    pass


@dataclass
class Page:
    """One tab: its session and what it reported (console errors, blocked requests)."""
    browser: "Chromium"
    session: str
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, self.session, timeout)

    def goto(self, url: str, timeout: float = 30) -> None:
        """Navigate and wait for the load event (every <img> has then loaded or failed)."""
        self.browser.drop_events(self.session, "Page.loadEventFired")
        reply = self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise CDPError(f"navigating to {url}: {reply['errorText']}")
        self.browser.wait_event(self.session, "Page.loadEventFired", timeout)

    def eval(self, expression: str, timeout: float = 30):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, timeout)
        if "exceptionDetails" in reply:
            raise CDPError(f"{expression[:80]}...: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, width: int = 1280) -> bytes:
        """A PNG of the whole page at ``width`` CSS pixels."""
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False})
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        data = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 16000), "scale": 1}})["data"]
        return base64.b64decode(data)


class Chromium:
    def __init__(self, executable: str, user_data_dir: str):
        cmd_r, self._cmd_w = os.pipe()   # our commands -> Chromium's fd 3
        self._res_r, res_w = os.pipe()   # Chromium's fd 4 -> us
        # bash moves the two pipe ends onto fds 3 and 4, then becomes Chromium.
        script = f'exec "$0" "$@" 3<&{cmd_r}- 4>&{res_w}-'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={user_data_dir}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self.pages: dict[str, Page] = {}

    # -- transport ---------------------------------------------------------------------------
    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            n = os.write(self._cmd_w, data)
            data = data[n:]

    def _read_one(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from Chromium in time")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise CDPError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message = json.loads(raw)
        if "method" in message:
            self._handle_event(message)
        return message

    def _handle_event(self, event: dict) -> None:
        """Answer intercepted requests at once (the page waits for them) and record errors."""
        method, params, session = event["method"], event.get("params", {}), event.get("sessionId")
        page = self.pages.get(session)
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if url.startswith(LOCAL_SCHEMES):
                self._send_nowait("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
            else:
                if page is not None:
                    page.blocked.append(url)
                self._send_nowait("Fetch.failRequest", {"requestId": params["requestId"],
                                                        "errorReason": "BlockedByClient"}, session)
            return
        if page is not None:
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.errors.append("console." + params["type"] + ": " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                page.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                page.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        self._events.append(event)

    def _send_nowait(self, method: str, params: dict | None, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        return self._next_id

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        wanted = self._send_nowait(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_one(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})

    def drop_events(self, session: str, method: str) -> None:
        self._events = [e for e in self._events if not (e.get("sessionId") == session and e["method"] == method)]

    def wait_event(self, session: str, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self._events):
                if e.get("sessionId") == session and e["method"] == method:
                    return self._events.pop(i)
            self._read_one(deadline)

    # -- pages -------------------------------------------------------------------------------
    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self.pages[session] = page
        for method, params in [("Page.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                               ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})]:
            page.send(method, params)
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (CDPError, TimeoutError, OSError):
            pass
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def find_chromium() -> str | None:
    """$CHROMIUM, /usr/bin/chromium (Debian), or chromium/chromium-browser/google-chrome on PATH."""
    for candidate in [os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")]:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
