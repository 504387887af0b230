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
      focusFirstInvalid(d);
    });
  }
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
    // Close open menus when clicking elsewhere.
    document.querySelectorAll('details[data-menu][open]').forEach(function (m) {
      if (!(e.target instanceof Node) || !m.contains(e.target)) {
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

  function init(root) {
    focusFirstInvalid(root);
    openDialogs(root);
  }
  document.addEventListener('DOMContentLoaded', function () { init(document); });
  document.addEventListener('htmx:afterSettle', function (e) { init(e.target); });
})();
