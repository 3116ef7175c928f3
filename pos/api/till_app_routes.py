"""Serves the tablet till app (terminals/tablet) at /till/.

One declared route per file, found when this module is imported, so the OpenAPI document
lists exactly what is served and no request path ever reaches the file system.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from aiohttp import web
from pos_terminals import TABLET_DIR

from pos import taxonomy
from pos.api.routing import Handler, Routes

routes = Routes("till app")

# The page talks only to this service; camera frames and the receipt's QR stay in the page.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    "Permissions-Policy": "camera=(self)",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated each time (cheap: ETag / Last-Modified), so a new version reaches tills.
    "Cache-Control": "no-cache",
}
_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".webmanifest":
          "application/manifest+json", "": "text/plain"}
_SKIP = {"README.md"}


def content_type(path: Path) -> str:
    if path.suffix in _TYPES or path.name == "LICENSE":
        return _TYPES.get(path.suffix, "text/plain")
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _serve(path: Path, ctype: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        charset = "; charset=utf-8" if ctype.startswith(("text/", "application/manifest"))\
            else ""
        return web.FileResponse(path, headers={**_HEADERS, "Content-Type": ctype + charset})
    return handler


def _register(relative: str, path: Path) -> None:
    ctype = content_type(path)
    handler = _serve(path, ctype)
    # Distinct names: OpenAPI operation ids are built from them.
    handler.__name__ = "till_app_" + (re.sub(r"\W+", "_", relative).strip("_") or "index")
    url = "/till/" if relative == "index.html" else f"/till/{relative}"
    routes.get(url, summary=f"Till app: {relative}", auth="none",
               content_type=ctype)(handler)


@routes.get("/till/categories.json", summary="Till app: the category codes a basket uses",
            auth="none")
async def till_app_categories(request: web.Request) -> web.StreamResponse:
    # From the service's own taxonomy, so the till offers exactly the codes rules know.
    groups: dict[str, list[dict[str, str]]] = {}
    for code, (group, label) in taxonomy.CATEGORIES.items():
        groups.setdefault(group, []).append({"code": code, "label": label})
    body = {"groups": [{"group": g, "categories": c} for g, c in groups.items()]}
    return web.json_response(body, headers={"Cache-Control": "no-cache",
                                            "X-Content-Type-Options": "nosniff"})


@routes.get("/till/app-files.json", summary="Till app: the files its service worker keeps "
            "for offline use", auth="none")
async def till_app_files(request: web.Request) -> web.StreamResponse:
    # Everything served under /till/, so a reload or a cold start offline opens the till.
    files = ["/till/", "/till/categories.json"] + [
        f"/till/{f.relative_to(TABLET_DIR).as_posix()}" for f in sorted(TABLET_DIR.rglob("*"))
        if f.is_file() and f.name not in _SKIP and not f.name.startswith(".")
        and f.name != "index.html"]
    return web.json_response({"files": files}, headers={"Cache-Control": "no-cache",
                                                        "X-Content-Type-Options": "nosniff"})


@routes.get("/till", summary="Till app (redirects to /till/)", auth="none",
            content_type="text/html", status=301)
async def till_app_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/till/")


for _file in sorted(TABLET_DIR.rglob("*")):
    if _file.is_file() and _file.name not in _SKIP and not _file.name.startswith("."):
        _register(_file.relative_to(TABLET_DIR).as_posix(), _file)
