// Offerflow service worker: the shell and pages already visited stay readable offline (network
// first, cache as fallback). Writes are never cached: app.js queues notes while offline.
const CACHE = 'offerflow-ui-v1';
const SHELL = [
  '/ui/static/app.css',
  '/ui/static/app.js',
  '/ui/vendor/htmx.js',
  '/ui/static/icon.svg',
  '/ui/manifest.webmanifest',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});
self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});
self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || !new URL(request.url).pathname.startsWith('/ui')) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && !request.headers.get('hx-request')) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || caches.match('/ui/customers'))),
  );
});
