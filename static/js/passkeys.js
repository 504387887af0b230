// Passkeys (WebAuthn) for Postern's own forms: the account page's "Add a
// passkey" and the sign-in's "Use a passkey". A form marked data-passkey
// posts its fields to its data-options URL, hands the answer to
// navigator.credentials.create or .get, and posts the browser's
// credential, as JSON with every binary field in base64url, to the form's
// action. The server keeps the challenge; this file keeps nothing.
// Loaded as a file (the CSP forbids inline scripts); no library, no CDN.
(function () {
  'use strict';

  function toBuffer(s) {
    var b64 = String(s).replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) {
      b64 += '=';
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  // credentialJSON is the PublicKeyCredential as go-webauthn parses it.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === 'function') {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength) {
        out.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  // refusal says in plain words why the browser did not make or use a
  // passkey.
  function refusal(err, adding) {
    switch (err && err.name) {
      case 'NotAllowedError':
      case 'AbortError':
        return 'The passkey request was cancelled or timed out. Try again when your security key or device is ready.';
      case 'InvalidStateError':
        return adding ? 'This security key or device already holds a passkey for your account. Use another one.'
          : 'Your security key or device refused. Try again.';
      case 'SecurityError':
        return 'The browser refused: passkeys need Postern opened over HTTPS by its host name (or at http://localhost).';
      case 'NotSupportedError':
        return 'This security key or device cannot make a passkey of a kind Postern accepts. Use another one.';
    }
    return 'The browser could not use a passkey' + (err && err.name ? ' (' + err.name + ')' : '') +
      '. Try again, or use another browser.';
  }

  function post(url, token, body, contentType) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': token, 'Content-Type': contentType, 'Accept': 'application/json' },
      body: body
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var e = new Error(data.error || 'Postern could not answer (HTTP ' + res.status + '). Reload the page and try again.');
          e.server = true;
          e.redirect = data.redirect;
          throw e;
        }
        return data;
      });
    });
  }

  function run(form) {
    var adding = form.getAttribute('data-passkey') === 'add';
    var status = form.querySelector('[data-passkey-status]');
    var box = form.querySelector('[data-passkey-error]');
    var button = form.querySelector('button[type=submit]');
    var token = (form.querySelector('input[name=_csrf]') || {}).value || '';
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    function fail(text) {
      say('');
      if (box) {
        box.querySelector('[data-passkey-error-text]').textContent = text;
        box.hidden = false;
      }
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
    if (!window.isSecureContext || !window.PublicKeyCredential || !navigator.credentials) {
      fail('This browser cannot use passkeys here: they need a current browser and Postern opened over HTTPS (or at http://localhost).');
      return;
    }
    if (box) {
      box.hidden = true;
    }
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    say(adding ? 'Follow your browser’s prompt to create the passkey…' : 'Follow your browser’s prompt to use your passkey…');
    var fields = new URLSearchParams(new FormData(form)).toString();
    post(form.getAttribute('data-options'), token, fields, 'application/x-www-form-urlencoded')
      .then(function (options) {
        return adding ? navigator.credentials.create(creationOptions(options))
          : navigator.credentials.get(requestOptions(options));
      })
      .then(function (cred) {
        if (!cred) {
          throw Object.assign(new Error('no credential'), { name: 'NotAllowedError' });
        }
        say('Checking…');
        return post(form.action, token, credentialJSON(cred), 'application/json');
      })
      .then(function (done) {
        window.location.assign(done.redirect || '/');
      })
      .catch(function (err) {
        if (err && err.server && err.redirect) {
          window.location.assign(err.redirect);
          return;
        }
        fail(err && err.server ? err.message : refusal(err, adding));
      });
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form instanceof HTMLFormElement && form.hasAttribute('data-passkey')) {
      e.preventDefault();
      run(form);
    }
  });
})();
