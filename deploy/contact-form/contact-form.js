// Hermes contact form: posts the form as JSON to the Hermes API (POST /api/leads) with an Idempotency-Key, shows the
// field errors of a problem-details answer next to their fields, retries a network failure (and 502/503/504) with
// the same key, so a request that reached Hermes is never stored twice, and shows the lead id Hermes answers with.
// No framework, no inline script: it runs under a strict Content-Security-Policy (script-src 'self').
(() => {
  'use strict';

  const form = document.querySelector('form[data-hermes-endpoint]');
  if (!form) {
    return;
  }

  const endpoint = form.dataset.hermesEndpoint;
  const retryDelays = (form.dataset.hermesRetryDelays || '1000,2000,4000').split(',').map(Number);
  const status = document.getElementById('form-status');
  const formError = document.getElementById('form-error');
  const button = form.querySelector('button[type=submit]');
  const textFields = ['firstName', 'lastName', 'email', 'country', 'phoneNumber', 'userRole', 'problemDescription', 'companyName', 'companySize', 'serviceUrgency'];
  const checkboxes = ['agreeToTerms', 'privacyConsent', 'marketingConsent'];

  // One key per submission: kept for every retry of the same body, replaced once the visitor changes the form
  // (a changed body under the same key would be refused with 422) or after a success.
  let idempotencyKey = null;
  form.addEventListener('input', () => { idempotencyKey = null; });

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // randomUUID exists in secure contexts (https, localhost); the fallback draws the same 122 random bits.
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
    : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  function collect() {
    const body = {};
    for (const name of textFields) {
      const value = form.elements[name].value.trim();
      if (value !== '') {
        body[name] = value;
      }
    }
    for (const name of checkboxes) {
      body[name] = form.elements[name].checked;
    }
    return body;
  }

  function clearErrors() {
    formError.textContent = '';
    for (const element of form.querySelectorAll('[aria-invalid]')) {
      element.removeAttribute('aria-invalid');
    }
    for (const message of form.querySelectorAll('.error')) {
      message.textContent = '';
    }
  }

  // Problem details name fields as the API's camelCase properties ("email"), or "formData.email" on /api/backup-lead.
  function showFieldErrors(errors) {
    const unplaced = [];
    let first = null;
    for (const [key, messages] of Object.entries(errors)) {
      const name = key.replace(/^formData\./, '');
      const input = form.elements[name];
      const slot = document.getElementById(name + '-error');
      const text = [].concat(messages).join(' ');
      if (input && slot) {
        input.setAttribute('aria-invalid', 'true');
        slot.textContent = text;
        first = first || input;
      } else {
        unplaced.push(text);
      }
    }
    formError.textContent = unplaced.length > 0 ? unplaced.join(' ') : 'Please correct the fields marked above.';
    if (first) {
      first.focus();
    }
  }

  function retryAfterMs(response) {
    const seconds = Number(response.headers.get('Retry-After'));
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) * 1000 : null;
  }

  async function post(body, key) {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
          body: JSON.stringify(body),
        });
        if ([502, 503, 504].includes(response.status) && attempt < retryDelays.length) {
          status.textContent = 'The service is busy; trying again…';
          await sleep(retryAfterMs(response) ?? retryDelays[attempt]);
          continue;
        }
        return response;
      } catch (error) {
        // fetch rejects only when no answer came: the request may or may not have reached Hermes, so the retry
        // carries the same key, and Hermes answers it with the lead it stored the first time.
        if (attempt >= retryDelays.length) {
          throw error;
        }
        status.textContent = 'Connection problem; trying again…';
        await sleep(retryDelays[attempt]);
      }
    }
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const body = collect();
    idempotencyKey = idempotencyKey || newKey();
    button.disabled = true;
    status.textContent = 'Sending…';
    try {
      const response = await post(body, idempotencyKey);
      if (response.ok) {
        const answer = await response.json();
        idempotencyKey = null;
        status.textContent = '';
        document.getElementById('lead-id').textContent = answer.leadId;
        form.hidden = true;
        const confirmation = document.getElementById('confirmation');
        confirmation.hidden = false;
        confirmation.focus();
        return;
      }
      status.textContent = '';
      const problem = (response.headers.get('Content-Type') || '').includes('json') ? await response.json() : {};
      if (problem.errors && Object.keys(problem.errors).length > 0) {
        showFieldErrors(problem.errors);
      } else if (response.status === 429) {
        formError.textContent = problem.detail || 'Too many requests from your address; please try again in a minute.';
      } else {
        formError.textContent = (problem.detail || 'Your request could not be sent.') + ' Please try again, or call us.';
      }
    } catch (error) {
      status.textContent = '';
      formError.textContent = 'We could not reach our server. Your details are still here: please try again in a moment.';
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener('submit', submit);
})();
