"""Who is on the other end, for throttles keyed by address.

Behind a reverse proxy every request comes from the proxy's address, so a limit per
address would lock out every till and holder behind it at once. When the direct peer is
one of `[server] trusted_proxies`, the client is the last address in `X-Forwarded-For`
that is not itself a trusted proxy; otherwise the header is ignored (anyone can send it).
"""

from __future__ import annotations

from aiohttp import web

_MAX_HOPS = 16


def client_address(request: web.Request, trusted: tuple[str, ...]) -> str:
    remote = request.remote or "unknown"
    if remote not in trusted:
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h][-_MAX_HOPS:]):
        if hop not in trusted:
            return hop[:64]
    return remote
