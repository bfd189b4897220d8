// Offerflow service worker: keeps the app shell (styles, scripts, icons, the offline page) so the
// UI opens without a connection. It never keeps a page: customer cards, search results and every
// other page hold personal data, which must not stay on the device after sign-out. A page asked
// for offline gets the offline page ("not available offline"). Writes are never cached: app.js
// queues notes while offline.
const CACHE = 'offerflow-shell-v2';
const OFFLINE = '/ui/offline';
const SHELL = [
  '/ui/static/app.css',
  '/ui/static/app.js',
  '/ui/vendor/htmx.js',
  '/ui/static/icon.svg',
  '/ui/manifest.webmanifest',
  OFFLINE,
];
// The only paths ever stored: assets and the offline page, none of which names a person.
const SHELL_PATH = /^\/ui\/(static\/[\w-]+\.\w+|vendor\/[\w.-]+|manifest\.webmanifest|offline)$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  // Earlier versions kept every page: drop their caches.
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Sign-out (app.js): forget everything, the shell included.
self.addEventListener('message', (event) => {
  if (event.data !== 'sign-out') return;
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.map((k) => caches.delete(k)))));
});

const storable = (response) =>
  response.ok && response.type === 'basic' && !/no-store/i.test(response.headers.get('cache-control') || '');

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/ui'))
    return;
  if (SHELL_PATH.test(url.pathname) && !url.search) {
    // Network first, so a deploy shows at once; the cached copy when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (storable(response)) {
            const copy = response.clone();
            event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
          }
          return response;
        })
        .catch(() => caches.match(request).then((hit) => hit || Response.error())),
    );
    return;
  }
  // Any other page: straight from the network, never stored; offline, the offline page.
  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request).catch(() => caches.match(OFFLINE).then((hit) => hit || Response.error())),
    );
  }
});
