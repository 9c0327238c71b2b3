"""RFC 8252 loopback redirect: a one-shot HTTP listener on 127.0.0.1 at the
port of the registered redirect URI (HubSpot matches the port exactly, so it
cannot be an ephemeral one). It answers the browser with a plain "you can
close this tab" page and hands the code back."""

from __future__ import annotations

import html
import http.server
import socket
import threading
from urllib.parse import urlsplit

from wg_desktop.services.oauth_flow import AuthorizationRequest, RedirectError

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:4em auto;line-height:1.5}}</style>
</head><body><h1>{title}</h1><p>{message}</p></body></html>"""


class LoopbackError(RuntimeError):
    pass


class LoopbackReceiver:
    """Listen once for the OAuth redirect. ``wait()`` returns the code."""

    def __init__(self, request: AuthorizationRequest) -> None:
        self.request = request
        parts = urlsplit(request.redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
            raise LoopbackError("The browser fallback needs a redirect URI of the form "
                                "http://localhost:PORT/path (set HUBSPOT_REDIRECT_URI).")
        if not parts.port:
            raise LoopbackError("The redirect URI must name its port, e.g. "
                                "http://localhost:53682/oauth/callback.")
        self._done = threading.Event()
        self._code: str | None = None
        self._error: Exception | None = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = f"http://{parts.hostname}:{parts.port}{self.path}"
                if not request.is_redirect(url):
                    self._reply(404, "Not found", "This address is not part of the sign-in.")
                    return
                if not request.has_our_state(url):
                    # An old tab or another page: answer it, keep waiting for ours.
                    self._reply(400, "Not this sign-in",
                                "This answer belongs to another sign-in attempt and was "
                                "ignored. Finish the sign-in in the newest tab.")
                    return
                try:
                    receiver._code = request.code_from_redirect(url)
                    self._reply(200, "WorkflowGuard is connected",
                                "You can close this tab and return to WorkflowGuard Desktop.")
                except RedirectError as exc:
                    receiver._error = exc
                    self._reply(400, "Sign-in failed", str(exc))
                receiver._done.set()

            # A browser's speculative pre-connection may never send a request.
            timeout = 5

            def _reply(self, status: int, title: str, message: str) -> None:
                body = _PAGE.format(title=html.escape(title), message=html.escape(message))
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the query string holds the code: never log it

        try:
            self._server = http.server.HTTPServer(("127.0.0.1", parts.port), Handler)
        except OSError as exc:
            raise LoopbackError(f"Cannot listen on 127.0.0.1:{parts.port} for the sign-in "
                                f"answer ({exc.strerror}). Close whatever uses that port, "
                                "or use the paste-the-code option.") from None
        self._thread = threading.Thread(target=self._serve, name="oauth-loopback",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with self._server:
            while not self._done.is_set():
                self._server.handle_request()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def wait(self, timeout: float | None = None, cancel: threading.Event | None = None) -> str:
        """Block until the browser comes back; raises LoopbackError on timeout/cancel."""
        waited = 0.0
        while not self._done.wait(0.2):
            waited += 0.2
            if (cancel is not None and cancel.is_set()) or (timeout is not None
                                                             and waited >= timeout):
                self.close()
                raise LoopbackError("Sign-in cancelled." if cancel is not None
                                    and cancel.is_set() else "Timed out waiting for the "
                                    "browser to return from HubSpot.")
        self.close()
        if self._error is not None:
            raise self._error
        assert self._code is not None
        return self._code

    def close(self) -> None:
        if not self._done.is_set():
            self._done.set()
            # Unblock handle_request with a throwaway connection.
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                pass
        self._thread.join(timeout=2)
