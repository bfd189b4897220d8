// Offerflow UI: charts, the offline note queue and the service worker. No build step.
(() => {
  document.documentElement.classList.add('js');
  // The phone shell's Menu button opens and closes the navigation.
  document.addEventListener('click', (event) => {
    const toggle = event.target.closest?.('[data-menu-toggle]');
    if (!toggle) return;
    const open = toggle.closest('.top').classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  const csrf = () => document.body.dataset.csrf || '';

  const PALETTE = ['#2454d6', '#e8710a', '#1e8e3e', '#d93025', '#9334e6', '#12b5cb'];
  // Charts: each canvas carries its Chart.js config as JSON.
  const drawCharts = () => {
    if (!window.Chart) return;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    Chart.defaults.color = dark ? '#c9d1db' : '#3b4350';
    Chart.defaults.borderColor = dark ? '#2d343d' : '#e3e7ec';
    Chart.defaults.maintainAspectRatio = false;
    for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
      if (canvas.dataset.drawn) continue;
      canvas.dataset.drawn = '1';
      const config = JSON.parse(canvas.dataset.chart);
      // Hourly buckets come as UTC instants; label them in the viewer's time zone.
      if (canvas.dataset.hours) {
        const hour = new Intl.DateTimeFormat(undefined, {
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
        });
        config.data.labels = JSON.parse(canvas.dataset.hours).map((iso) => hour.format(new Date(iso)));
      }
      config.data.datasets.forEach((d, i) => {
        const color = PALETTE[i % PALETTE.length];
        d.borderColor ??= color;
        d.backgroundColor ??= `${color}99`;
      });
      config.options = { animation: false, responsive: true, ...(config.options || {}) };
      new Chart(canvas, config);
    }
  };

  // Notes typed offline wait in localStorage and are sent, in order, when the connection returns.
  const KEY = 'offerflow:pending-notes';
  const pending = () => JSON.parse(localStorage.getItem(KEY) || '[]');
  const save = (items) => localStorage.setItem(KEY, JSON.stringify(items));
  const showPending = () => {
    const list = document.getElementById('pending-notes');
    if (!list) return;
    const here = pending().filter((n) => n.action === list.closest('form').getAttribute('action'));
    list.replaceChildren(
      ...here.map((n) => {
        const li = document.createElement('li');
        li.textContent = `Waiting to send: ${n.fields.text}`;
        return li;
      }),
    );
  };
  let flushing = false;
  // Every open tab shares the queue: a Web Lock lets only one of them send it.
  const mine = () => {
    const list = document.getElementById('pending-notes');
    const action = list?.closest('form')?.getAttribute('action');
    return action ? pending().filter((n) => n.action === action).length : 0;
  };
  const flush = async () => {
    const before = mine();
    await (navigator.locks ? navigator.locks.request('offerflow-notes', sendQueued) : sendQueued());
    // Another tab may have sent this page's notes: show them in the history.
    if (before > mine()) location.reload();
  };
  const sendQueued = async () => {
    if (flushing || !navigator.onLine) return;
    flushing = true;
    let sent = 0;
    try {
      for (let items = pending(); items.length > 0; items = pending()) {
        const note = items[0];
        let res;
        try {
          res = await fetch(note.action, {
            method: 'POST',
            headers: { 'X-CSRF-Token': csrf() || note.csrf },
            body: new URLSearchParams(note.fields),
            credentials: 'same-origin',
          });
        } catch {
          break; // still offline
        }
        // A note the server refuses (422, 403) is dropped rather than retried for ever.
        save(pending().slice(1));
        if (res.ok) sent++;
      }
    } finally {
      flushing = false;
    }
    showPending();
    return sent;
  };
  addEventListener('storage', (event) => {
    if (event.key === KEY) showPending();
  });
  const queue = (form) => {
    const fields = Object.fromEntries(new FormData(form));
    delete fields._csrf;
    fields.at = new Date().toISOString(); // when it was typed, not when it reached the server
    // A retry after a lost response must not record the note twice: the server keys on this.
    fields.client_ref = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    save([...pending(), { action: form.getAttribute('action'), fields, csrf: csrf() }]);
    form.reset();
    showPending();
  };
  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.offlineQueue || form.dataset.native) return;
    event.preventDefault();
    if (!navigator.onLine) return queue(form);
    let res;
    try {
      res = await fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams(new FormData(form)),
        credentials: 'same-origin',
      });
    } catch {
      return queue(form);
    }
    if (res.ok && res.redirected) {
      location.href = res.url;
      location.reload();
      return;
    }
    // Refused (e.g. an empty note): let the server render its errors.
    form.dataset.native = '1';
    form.submit();
  });

  // Sign-out leaves nothing of the session on the device: the note queue, the caches, the
  // service worker's copies. (The server's Clear-Site-Data does the same where browsers honour it.)
  const forgetDevice = async () => {
    localStorage.removeItem(KEY);
    navigator.serviceWorker?.controller?.postMessage('sign-out');
    if (window.caches) await Promise.all((await caches.keys()).map((k) => caches.delete(k)));
  };
  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains('signout') || form.dataset.native)
      return;
    event.preventDefault();
    try {
      await forgetDevice();
    } finally {
      form.dataset.native = '1';
      form.submit();
    }
  });

  // The import form: how the chosen file will read, from its first 64 KB, whenever the file or
  // an option changes (the server answers an HTML fragment).
  const PREVIEW_BYTES = 64 * 1024;
  const previewImport = async (form) => {
    const file = form.querySelector('input[type=file]')?.files?.[0];
    const target = document.getElementById('import-preview');
    if (!file || !target) return;
    const query = new URLSearchParams();
    for (const name of ['kind', 'separator', 'encoding', 'mapping', 'triggers']) {
      const value = form.elements[name]?.value?.trim();
      if (value) query.set(name, value);
    }
    try {
      let head = new Uint8Array(await file.slice(0, PREVIEW_BYTES).arrayBuffer());
      // Whole lines only: a record cut at the limit would show as a short one.
      if (file.size > PREVIEW_BYTES) head = head.subarray(0, head.lastIndexOf(10) + 1);
      const res = await fetch(`/ui/imports/preview?${query}`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrf() || form.elements._csrf?.value || '', 'Content-Type': 'text/csv' },
        body: head,
        credentials: 'same-origin',
      });
      target.innerHTML = await res.text();
    } catch {
      target.textContent = '';
    }
  };
  document.addEventListener('change', (event) => {
    const form = event.target?.closest?.('#import-form');
    if (form) previewImport(form);
  });

  // The trigger form: only the parameters of the chosen event are shown (all, without script).
  const showEventParams = (form) => {
    const event = form.elements.event?.value;
    for (const el of form.querySelectorAll('[data-event]'))
      el.hidden = !el.dataset.event.split(' ').includes(event);
  };
  document.addEventListener('change', (event) => {
    const form = event.target?.closest?.('#trigger-form');
    if (form && event.target.name === 'event') showEventParams(form);
  });

  const offlineBanner = () => {
    const el = document.getElementById('offline');
    if (el) el.hidden = navigator.onLine;
  };
  addEventListener('online', () => {
    offlineBanner();
    flush();
  });
  addEventListener('offline', offlineBanner);

  // Components with their own script load it only on the pages that have them.
  const loadComponents = () => {
    for (const [selector, src] of [
      ['[data-rule-builder]', '/ui/static/rule-builder.js'],
      ['[data-email-editor]', '/ui/static/email-editor.js'],
    ]) {
      if (!document.querySelector(selector) || document.querySelector(`script[src="${src}"]`)) continue;
      const script = document.createElement('script');
      script.src = src;
      document.head.append(script);
    }
  };

  // Instants come from the server in UTC; each viewer reads them in their own time zone.
  const localTimes = () => {
    const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    for (const el of document.querySelectorAll('time[data-local]')) {
      if (el.dataset.localised) continue;
      el.dataset.localised = '1';
      el.title = el.textContent;
      el.textContent = format.format(new Date(el.getAttribute('datetime')));
    }
  };

  document.addEventListener('DOMContentLoaded', () => {
    loadComponents();
    localTimes();
    for (const form of document.querySelectorAll('#trigger-form')) showEventParams(form);
    drawCharts();
    showPending();
    offlineBanner();
    flush();
  });
  document.addEventListener('htmx:afterSwap', () => {
    drawCharts();
    localTimes();
  });

  if ('serviceWorker' in navigator)
    navigator.serviceWorker.register('/ui/sw.js', { scope: '/ui/' }).catch(() => {});
})();
