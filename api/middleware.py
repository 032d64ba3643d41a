"""Request guards and response headers for every route (plain ASGI middleware).

* ``BodyLimit`` — request bodies above ``max_body_bytes`` are refused with 413, whether the
  client declared the length or streams it in chunks;
* ``CleanURL`` — a NUL, another control character or an undecodable byte in the path or the
  query is a 422 (PostgreSQL refuses NUL in text; such ids exist nowhere);
* ``SecurityHeaders`` — Content-Security-Policy (the page loads only its own scripts;
  ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``X-Frame-Options``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes, urlsplit

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


async def _send_json(send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"リクエストが大きすぎます（上限 {self.limit:,} バイト）"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _send_json(send, 400, "Content-Length が不正です")
                if declared > self.limit:
                    return await _send_json(send, 413, message)
                break  # declared and within the limit: the server reads exactly that many bytes
        else:
            if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
                return await self.app(scope, receive, send)
            # Streamed (chunked) without a length: read it up to the limit first, then hand it on.
            chunks, seen = [], 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    return await self.app(scope, receive, send)  # the client went away
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    return await _send_json(send, 413, message)
                chunks.append(msg.get("body", b""))
                if not msg.get("more_body", False):
                    break
            body = b"".join(chunks)
            sent = False

            async def replay(body=body):
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)


class CleanURL:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
            for part, what in ((unquote_to_bytes(urlsplit(raw_path.decode("latin-1")).path), "パス"),
                               (unquote_to_bytes(scope.get("query_string", b"").decode("latin-1").replace("+", " ")),
                                "クエリ文字列")):
                bad = _CONTROL.search(part)
                if bad is None:
                    try:
                        part.decode("utf-8")
                    except UnicodeDecodeError:
                        bad = True
                if bad is not None:
                    return await _send_json(send, 422, f"{what}に使用できない文字（制御文字または不正な UTF-8）が含まれています")
        return await self.app(scope, receive, send)


class SecurityHeaders:
    #: The online tiles the map may offer (``ONLINE_TILES``): 地理院タイル and OpenStreetMap.
    ONLINE_TILE_HOSTS = " https://cyberjapandata.gsi.go.jp https://tile.openstreetmap.org"

    def __init__(self, app, tile_url: str = "", online_tiles: bool = False):
        self.app = app
        tiles = ""
        if tile_url:
            u = urlsplit(tile_url.replace("{s}", "a"))
            host = u.netloc
            if host.startswith("a."):
                host = "*." + host[2:]
            tiles = f" {u.scheme}://{host}" if u.scheme in ("http", "https") and host else ""
        if online_tiles:
            tiles += self.ONLINE_TILE_HOSTS
        page = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                f"img-src 'self' data:{tiles}; connect-src 'self'; font-src 'self'; object-src 'none'; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        # The OpenAPI pages load Swagger UI / ReDoc from their CDN with an inline bootstrap script.
        docs = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
                "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
                "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
                "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                  (b"x-frame-options", b"DENY")]
        self.page = [*common, (b"content-security-policy", page.encode())]
        self.docs = [*common, (b"content-security-policy", docs.encode())]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.docs if scope.get("path", "") in ("/docs", "/redoc", "/docs/oauth2-redirect") else self.page

        async def with_headers(msg):
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                msg = {**msg, "headers": [*msg.get("headers", []), *[(k, v) for k, v in extra if k not in present]]}
            await send(msg)

        return await self.app(scope, receive, with_headers)
