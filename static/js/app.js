// Postern's own behaviour on top of htmx. Loaded as a file (our CSP forbids
// inline scripts); everything here is progressive: pages work without it.
(function () {
  'use strict';

  // After a failed submit, put the keyboard on the first invalid field.
  function focusFirstInvalid(root) {
    var el = root.querySelector('[aria-invalid="true"]');
    if (el && typeof el.focus === 'function') {
      el.focus();
    }
  }

  // Open any <dialog data-modal> that arrives (from a page load or an htmx
  // swap) as a modal, remembering what had focus so it can be restored.
  var opener = null;
  function openDialogs(root) {
    root.querySelectorAll('dialog[data-modal]').forEach(function (d) {
      if (!d.open) {
        d.showModal();
      }
      // Focus the first invalid field, or else the first field of the
      // dialog's form (Tenant ID in Manage), not its close button.
      var el = d.querySelector('[aria-invalid="true"]') ||
        d.querySelector('form input:not([type=hidden]):not([disabled]), form select:not([disabled]), form textarea');
      if (el && typeof el.focus === 'function') {
        el.focus();
      }
    });
  }

  // Manage: the API region exists only in the commercial cloud.
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (t instanceof HTMLSelectElement && t.id === 'cloud') {
      var f = t.form && t.form.querySelector('[data-region-field]');
      if (f) {
        f.classList.toggle('hidden', t.value !== 'commercial');
      }
    }
  });
  document.addEventListener('close', function (e) {
    var d = e.target;
    if (d instanceof HTMLDialogElement && d.hasAttribute('data-modal')) {
      if (d.hasAttribute('data-remove-on-close')) {
        d.remove();
      }
      if (opener && document.contains(opener)) {
        opener.focus();
      }
      opener = null;
    }
  }, true);
  document.addEventListener('click', function (e) {
    var t = e.target instanceof Element ? e.target.closest('[data-dialog-close]') : null;
    if (t) {
      var d = t.closest('dialog');
      if (d) {
        e.preventDefault();
        d.close();
      }
    }
    var trigger = e.target instanceof Element ? e.target.closest('[hx-get],[hx-post]') : null;
    if (trigger) {
      opener = trigger;
    }
    // Close open menus when clicking elsewhere, or on one of their items.
    var item = e.target instanceof Element ? e.target.closest('details[data-menu] button') : null;
    document.querySelectorAll('details[data-menu][open]').forEach(function (m) {
      if (!(e.target instanceof Node) || !m.contains(e.target) || (item && m.contains(item))) {
        m.removeAttribute('open');
      }
    });
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') {
      document.querySelectorAll('details[data-menu][open]').forEach(function (m) {
        m.removeAttribute('open');
        var s = m.querySelector('summary');
        if (s) {
          s.focus();
        }
      });
    }
  });

  // Copy buttons: <button data-copy="text">.
  document.addEventListener('click', function (e) {
    var b = e.target instanceof Element ? e.target.closest('[data-copy]') : null;
    if (!b || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(b.getAttribute('data-copy')).then(function () {
      var label = b.querySelector('[data-copy-label]');
      if (label) {
        var was = label.textContent;
        label.textContent = 'Copied';
        setTimeout(function () { label.textContent = was; }, 1500);
      }
    });
  });

  // htmx does not swap error answers; say what happened where flashes go.
  // The server's htmx error bodies are short plain sentences, set as text.
  document.addEventListener('htmx:responseError', function (e) {
    var region = document.getElementById('flash-region');
    var xhr = e.detail && e.detail.xhr;
    if (!region || !xhr) {
      return;
    }
    var msg = (xhr.responseText || '').trim();
    if (!msg || msg.length > 300 || msg.charAt(0) === '<') {
      msg = 'The request failed (' + xhr.status + '). Reload the page and try again.';
    }
    var box = document.createElement('div');
    box.setAttribute('role', 'alert');
    box.className = 'flex items-start gap-2 rounded-md bg-red-50 px-4 py-3 text-sm text-red-900 ring-1 ring-inset ring-red-600/30';
    box.textContent = msg;
    region.replaceChildren(box);
    region.classList.add('mb-6');
  });
  document.addEventListener('htmx:sendError', function () {
    var region = document.getElementById('flash-region');
    if (region) {
      var box = document.createElement('div');
      box.setAttribute('role', 'alert');
      box.className = 'flex items-start gap-2 rounded-md bg-red-50 px-4 py-3 text-sm text-red-900 ring-1 ring-inset ring-red-600/30';
      box.textContent = 'Postern did not answer. Check that it is running, then try again.';
      region.replaceChildren(box);
      region.classList.add('mb-6');
    }
  });

  // A card that refreshes itself waits while the admin is using it: an open
  // menu or the keyboard focus inside would be lost by the swap.
  function busy(el) {
    return !!el.querySelector('details[open], :focus');
  }
  function polling(el) {
    return el && el.matches && el.matches('[hx-trigger^="every"]');
  }
  document.addEventListener('htmx:beforeRequest', function (e) {
    var el = e.detail && e.detail.elt;
    if (polling(el) && busy(el)) {
      e.preventDefault();
    }
  });
  // The admin may have opened the menu or focused a control while the
  // refresh was on its way.
  document.addEventListener('htmx:beforeSwap', function (e) {
    var el = e.detail && e.detail.elt;
    if (polling(el) && busy(el)) {
      e.detail.shouldSwap = false;
    }
  });

  // Forms marked data-confirm ask first, in a dialog that states the
  // consequence (built from text, never HTML).
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm') || form.dataset.confirmed) {
      return;
    }
    e.preventDefault();
    var submit = form.querySelector('button[type="submit"]');
    var d = document.createElement('dialog');
    d.setAttribute('data-modal', '');
    d.setAttribute('data-remove-on-close', '');
    d.setAttribute('aria-labelledby', 'confirm-text');
    d.className = 'w-full max-w-md rounded-xl p-6 shadow-xl ring-1 ring-slate-200';
    var p = document.createElement('p');
    p.id = 'confirm-text';
    p.className = 'text-sm text-slate-800';
    p.textContent = form.getAttribute('data-confirm');
    var row = document.createElement('div');
    row.className = 'mt-6 flex justify-end gap-3';
    var cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.setAttribute('data-dialog-close', '');
    cancel.className = 'rounded-md px-3.5 py-2 text-sm font-semibold text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50';
    cancel.textContent = 'Cancel';
    var ok = document.createElement('button');
    ok.type = 'button';
    ok.className = 'rounded-md bg-red-700 px-3.5 py-2 text-sm font-semibold text-white hover:bg-red-800';
    ok.textContent = submit ? submit.textContent.trim() : 'Confirm';
    ok.addEventListener('click', function () {
      form.dataset.confirmed = '1';
      d.close();
      form.requestSubmit(submit || undefined);
    });
    row.append(cancel, ok);
    d.append(p, row);
    document.getElementById('dialog-root').replaceChildren(d);
    opener = submit;
    d.showModal();
    cancel.focus();
  }, true);

  function init(root) {
    // An outerHTML swap fires on the element it replaced: look in the page.
    if (!(root instanceof Element) || !document.contains(root)) {
      root = document;
    }
    focusFirstInvalid(root);
    openDialogs(root);
  }
  document.addEventListener('DOMContentLoaded', function () { init(document); });
  // afterSwap, not afterSettle: the new content is in place and focus moves
  // before anyone can start typing into it.
  document.addEventListener('htmx:afterSwap', function (e) { init(e.target); });
})();
