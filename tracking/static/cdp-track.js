/* cdpadmin web tracking snippet: <script src="https://CDP/static/cdp-track.js" data-site-key="cdpsite_…" defer>.
 * Keeps an anonymous visitor id (localStorage), sends a page view on load, exposes window.cdp.track(name, props),
 * window.cdp.identify({email|phone|externalId, attributes, token}), window.cdp.submitForm(form, fields) and
 * window.cdp.logout() (token: the site backend's HMAC of the contact, needed to match a customer at login).
 * A <form data-cdp-form="newsletter"> is sent as that form's submission when submitted (its named fields,
 * never password or file inputs), without changing what the page does with it. Events are queued
 * (localStorage, so a page change or an offline spell loses nothing), sent in batches, retried with backoff,
 * and flushed with sendBeacon when the page is hidden. Every failure is swallowed: it never breaks the page. */
(function () {
  "use strict";
  try {
    var script = document.currentScript;
    var key = script && script.getAttribute("data-site-key");
    if (!key || window.cdp) return;
    var base = script.getAttribute("data-endpoint") || new URL(script.src).origin;
    var BATCH = 50, QUEUE_MAX = 500, store = window.localStorage;
    var VISITOR = "cdp.visitor", SESSION = "cdp.session", QUEUE = "cdp.queue";
    var sending = false, delay = 1000, timer = null, failures = 0;

    function newId() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
      return (Date.now().toString(36) + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2));
    }
    function get(name, make) {
      var value = null;
      try { value = store.getItem(name); } catch (e) { /* private mode */ }
      if (!value && make) { value = newId(); try { store.setItem(name, value); } catch (e) { /* ignore */ } }
      return value;
    }
    function readQueue() {
      try { return JSON.parse(store.getItem(QUEUE) || "[]"); } catch (e) { return []; }
    }
    function writeQueue(queue) {
      try { store.setItem(QUEUE, JSON.stringify(queue.slice(-QUEUE_MAX))); } catch (e) { /* ignore */ }
    }
    function sessionId() {
      var raw = null, now = Date.now();
      try { raw = JSON.parse(store.getItem(SESSION) || "null"); } catch (e) { raw = null; }
      if (!raw || now - raw.at > 30 * 60 * 1000) raw = { id: newId(), at: now };
      raw.at = now;
      try { store.setItem(SESSION, JSON.stringify(raw)); } catch (e) { /* ignore */ }
      return raw.id;
    }
    function enqueue(type, name, properties) {
      var queue = readQueue();
      queue.push({ visitorId: get(VISITOR, true), sessionId: sessionId(), event: {
        id: newId(), type: type, name: name, url: location.href, properties: properties || {},
        timestamp: new Date().toISOString() } });
      writeQueue(queue);
      schedule(0);
    }
    function schedule(ms) {
      if (timer) return;
      timer = setTimeout(function () { timer = null; flush(); }, ms);
    }
    function nextBatch(queue) {
      var first = queue[0], events = [];
      for (var i = 0; i < queue.length && events.length < BATCH; i++) {
        if (queue[i].visitorId !== first.visitorId || queue[i].sessionId !== first.sessionId) break;
        events.push(queue[i].event);
      }
      return { visitorId: first.visitorId, sessionId: first.sessionId, events: events };
    }
    function post(path, body) {
      return fetch(base + path, { method: "POST", mode: "cors", keepalive: true,
        headers: { "Content-Type": "application/json", "X-Site-Key": key }, body: JSON.stringify(body) });
    }
    function flush() {
      var queue = readQueue();
      if (sending || !queue.length) return;
      var batch = nextBatch(queue);
      sending = true;
      post("/v1/track/events", batch).then(function (response) {
        sending = false;
        if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
          var sent = {};  // delivered, or refused for good: drop those events either way
          batch.events.forEach(function (e) { sent[e.id] = true; });
          writeQueue(readQueue().filter(function (item) { return !sent[item.event.id]; }));
          delay = 1000;
          if (readQueue().length) schedule(0);
        } else { retry(); }
      }, function () { sending = false; retry(); });
    }
    function retry() { failures++; delay = Math.min(delay * 2, 60000); schedule(delay); }
    function submitForm(form, fields) {
      flush();
      var body = { visitorId: get(VISITOR, true), fields: fields || {} };
      return post("/v1/forms/" + encodeURIComponent(form) + "/submissions", body)
        .then(function (r) { return r.json(); }, function () { return null; })
        .then(function (result) { window.cdp.submitted.push(result); return result; });
    }
    function formFields(element) {
      var fields = {};
      Array.prototype.forEach.call(element.elements || [], function (input) {
        if (!input.name || input.disabled || input.type === "password" || input.type === "file") return;
        if ((input.type === "checkbox" || input.type === "radio") && !input.checked) return;
        fields[input.name] = input.value;
      });
      return fields;
    }
    function beacon() {
      var queue = readQueue();
      if (!queue.length || !navigator.sendBeacon) return;
      var batch = nextBatch(queue);
      var blob = new Blob([JSON.stringify(batch)], { type: "text/plain" });
      if (navigator.sendBeacon(base + "/v1/track/events?key=" + encodeURIComponent(key), blob)) {
        var sent = {};
        batch.events.forEach(function (e) { sent[e.id] = true; });
        writeQueue(queue.filter(function (item) { return !sent[item.event.id]; }));
      }
    }

    window.cdp = {
      track: function (name, properties) { try { enqueue("action", String(name), properties); } catch (e) { /* never break */ } },
      identify: function (who) {
        try {
          flush();
          var body = { visitorId: get(VISITOR, true), attributes: (who && who.attributes) || {} };
          ["email", "phone", "externalId", "token"].forEach(function (k) { if (who && who[k]) body[k] = who[k]; });
          return post("/v1/track/identify", body).then(function (r) { return r.json(); }, function () { return null; });
        } catch (e) { return Promise.resolve(null); }
      },
      logout: function () {
        try { flush(); store.removeItem(VISITOR); store.removeItem(SESSION); } catch (e) { /* ignore */ }
        return get(VISITOR, true);
      },
      submitForm: function (form, fields) {
        try { return submitForm(String(form), fields); } catch (e) { return Promise.resolve(null); }
      },
      submitted: [],
      state: function () { return { queued: readQueue().length, failures: failures }; },
      visitorId: function () { return get(VISITOR, true); },
      flush: flush
    };
    document.addEventListener("submit", function (event) {
      try {
        var form = event.target, name = form && form.getAttribute && form.getAttribute("data-cdp-form");
        if (name) submitForm(name, formFields(form));
      } catch (e) { /* never break the page's own submit */ }
    }, true);
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") beacon(); });
    window.addEventListener("online", function () {
      if (timer) { clearTimeout(timer); timer = null; }
      delay = 1000;
      schedule(0);
    });
    enqueue("page_view", "page_view", { title: document.title, referrer: document.referrer });
  } catch (e) { /* the snippet never breaks the page */ }
})();
