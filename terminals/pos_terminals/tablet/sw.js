// The till's service worker: keeps the app and its libraries, so a reload or a cold start
// without network still opens the till. Network first, so a new version reaches tills at
// once; the kept copy when the network is not there (or too slow to wait for). Calls to
// the service's API (/v1/) are never kept: only the app itself.

const CACHE = "pos-till-app-v1";
const WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const listed = await (await fetch("app-files.json", { cache: "no-store" })).json();
    await cache.addAll(listed.files);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function fromNetwork(request, cache) {
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin
      || !url.pathname.startsWith("/till/")) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const kept = await cache.match(event.request, { ignoreSearch: true });
    const network = fromNetwork(event.request, cache);
    if (!kept) return network;
    const slow = new Promise((resolve) => { setTimeout(() => resolve(kept), WAIT_MS); });
    return Promise.race([network.catch(() => kept), slow]);
  })());
});
