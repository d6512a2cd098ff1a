// The review form: live sentiment while typing, a star rating that follows the suggestion until the
// visitor picks one, and "Review another brand" without reloading the page.
// Plain JavaScript, no build step; loaded as a file so a strict Content-Security-Policy holds.
(function () {
  "use strict";

  const form = document.getElementById("review-form");
  if (!form) {
    return;
  }

  const SEND_EVERY_MS = 100; // at most one text scored per 100 ms while typing, and the last one always
  const MAX_RECONNECT_MS = 15000;
  const RECENT_BRANDS = 5;

  const textarea = form.querySelector("#id_text");
  const submitButton = form.querySelector("#submit-review");
  const sentiment = document.getElementById("sentiment");
  const fill = document.getElementById("sentiment-fill");
  const sentimentText = document.getElementById("sentiment-text");
  const announcer = document.getElementById("sentiment-announce"); // read out only when band or stars change
  const suggestedHint = document.getElementById("suggested-hint");
  const suggestedValue = document.getElementById("suggested-value");
  const radios = Array.from(form.querySelectorAll('input[name="rating"]'));
  const nextLink = document.getElementById("next-brand");
  const formStatus = document.getElementById("form-status");
  const maxChars = parseInt(form.dataset.maxChars, 10) || 5000;
  const idleText = sentimentText.textContent;

  let sentId = 0; // id of the newest text sent for scoring
  let shownId = 0; // id of the newest answer shown
  let suggestion = null;
  let announced = "";
  let userPicked = radios.some(function (radio) { return radio.checked; });
  let sendTimer = null;
  let submitting = false;
  const recentBrands = [form.elements.namedItem("brand").value];

  // --- showing a prediction ---------------------------------------------------------------------

  function showHint() {
    const visible = userPicked && suggestion !== null;
    suggestedHint.hidden = !visible;
    if (visible) {
      suggestedValue.textContent = String(suggestion);
    }
  }

  function showNothing() {
    fill.style.width = "0%";
    sentiment.dataset.band = "none";
    delete sentiment.dataset.score;
    sentimentText.textContent = idleText;
    suggestion = null;
    announced = "";
    if (!userPicked) {
      radios.forEach(function (radio) { radio.checked = false; });
    }
    showHint();
  }

  function showPrediction(prediction) {
    if (prediction.score === null || prediction.score === undefined) {
      showNothing();
      return;
    }
    const percent = Math.round(prediction.score * 100);
    // The band is the server's label (the model's most likely class), never re-derived from the score here.
    const label = prediction.label;
    fill.style.width = percent + "%";
    sentiment.dataset.band = label;
    sentiment.dataset.score = String(prediction.score);
    suggestion = prediction.suggested_rating;
    sentimentText.textContent = "Sentiment " + percent + "% positive. Suggested rating: " + suggestion + " of 5 stars.";
    const words = { bad: "negative", average: "mixed", good: "positive" }[label];
    const summary = "Sentiment " + words + ", suggested " + suggestion + " stars.";
    if (summary !== announced) {
      announced = summary; // a screen reader hears changes, not every keystroke's percentage
      announcer.textContent = summary;
    }
    if (!userPicked && radios[suggestion - 1]) {
      radios[suggestion - 1].checked = true;
    }
    showHint();
  }

  function handleAnswer(answer) {
    if (!answer || answer.stale || typeof answer.id !== "number" || answer.id <= shownId) {
      return;
    }
    shownId = answer.id;
    if (answer.error) {
      sentimentText.textContent = answer.error;
      return;
    }
    showPrediction(answer);
  }

  // --- transports: the websocket, and POST /api/predict/ while it is down ------------------------

  let socket = null;
  let reconnectTimer = null;
  let failures = 0;

  function socketOpen() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  function scheduleReconnect() {
    if (reconnectTimer !== null) {
      return;
    }
    // Exponential back-off with jitter, so a restarted server is not hit by every page at once.
    const delay = Math.min(MAX_RECONNECT_MS, 500 * Math.pow(2, failures)) * (0.75 + Math.random() / 2);
    failures += 1;
    reconnectTimer = window.setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function connect() {
    if (!("WebSocket" in window)) {
      form.dataset.transport = "http";
      return;
    }
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    let ws;
    try {
      ws = new WebSocket(scheme + window.location.host + form.dataset.wsPath);
    } catch (error) {
      form.dataset.transport = "http";
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", function () {
      failures = 0;
      form.dataset.transport = "websocket";
      if (textarea.value.trim() && shownId < sentId) {
        scoreNow(); // a text typed while disconnected gets its live answer
      }
    });
    ws.addEventListener("message", function (event) {
      try {
        handleAnswer(JSON.parse(event.data));
      } catch (error) {
        // not JSON: nothing to show
      }
    });
    ws.addEventListener("close", function () {
      if (socket === ws) {
        socket = null;
        form.dataset.transport = "http";
        scheduleReconnect();
      }
    });
  }

  function csrfToken() {
    const input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function predictOverHttp(text, id) {
    window.fetch(form.dataset.predictUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ text: text }),
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (prediction) {
      if (prediction) {
        handleAnswer(Object.assign({}, prediction, { id: id }));
      }
    }).catch(function () {
      // offline: the bar keeps its last value
    });
  }

  function scoreNow() {
    const text = textarea.value.slice(0, maxChars);
    sentId += 1;
    if (!text.trim()) {
      shownId = sentId;
      showNothing();
      return;
    }
    if (socketOpen()) {
      socket.send(JSON.stringify({ text: text, id: sentId }));
    } else {
      predictOverHttp(text, sentId);
    }
  }

  function scoreSoon() {
    if (sendTimer === null) {
      sendTimer = window.setTimeout(function () {
        sendTimer = null;
        scoreNow();
      }, SEND_EVERY_MS);
    }
  }

  // --- the form ----------------------------------------------------------------------------------

  function updateSubmit() {
    submitButton.disabled = submitting || textarea.value.trim() === "";
  }

  textarea.addEventListener("input", function () {
    updateSubmit();
    scoreSoon();
  });

  radios.forEach(function (radio) {
    radio.addEventListener("change", function () {
      userPicked = true; // only a visitor's own pick fires "change"; the suggestion sets .checked silently
      showHint();
    });
  });

  form.addEventListener("submit", function (event) {
    if (submitting) {
      event.preventDefault(); // a second click while the first is on its way
      return;
    }
    submitting = true;
    formStatus.textContent = "Sending your review…";
    window.setTimeout(updateSubmit, 0); // disable after the browser has taken the submitter
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitting = false; // back/forward cache brought the page back
      updateSubmit();
    }
  });

  // --- review another brand without reloading the page -------------------------------------------

  function showBrand(brand, formToken) {
    form.elements.namedItem("brand").value = brand.slug;
    form.elements.namedItem("form_token").value = formToken;
    document.getElementById("brand-name").textContent = brand.name;
    document.getElementById("brand-question").textContent = brand.name;
    const logo = document.getElementById("brand-logo");
    logo.src = brand.logo;
    logo.alt = brand.name + " logo";
    const website = document.getElementById("brand-website");
    website.hidden = !brand.website;
    website.href = brand.website || "#";
    document.getElementById("brand-page").href = brand.url;
    nextLink.href = form.dataset.homeUrl + "?after=" + encodeURIComponent(brand.slug);
    document.title = "Review " + brand.name + " · Starling";
    form.querySelectorAll(".field-errors").forEach(function (list) { list.remove(); });
    document.querySelectorAll(".messages").forEach(function (box) { box.remove(); }); // the last thank-you
    textarea.removeAttribute("aria-invalid");
    recentBrands.push(brand.slug);
    if (recentBrands.length > RECENT_BRANDS) {
      recentBrands.shift();
    }
    textarea.value = "";
    userPicked = false;
    sentId += 1;
    shownId = sentId; // answers still on their way belong to the previous brand
    showNothing();
    updateSubmit();
    formStatus.textContent = "Now reviewing " + brand.name + ".";
    textarea.focus();
  }

  nextLink.addEventListener("click", function (event) {
    event.preventDefault();
    const url = new URL(form.dataset.nextUrl, window.location.href);
    recentBrands.forEach(function (slug) { url.searchParams.append("exclude", slug); });
    window.fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) { showBrand(data.brand, data.form_token); })
      .catch(function () { window.location.assign(nextLink.href); }); // the plain link still works
  });

  updateSubmit();
  showHint();
  connect();
  if (textarea.value.trim()) {
    scoreSoon(); // a form shown again with errors keeps its text: score it
  }
})();
