// The review form: live sentiment while typing, a suggested rating shown as a suggestion (outlined
// stars and "Use suggestion", never a pre-selected choice), and "Review another brand" without reloading.
// Plain JavaScript, no build step; loaded as a file so a strict Content-Security-Policy holds.
(function () {
  "use strict";

  const form = document.getElementById("review-form");
  if (!form) {
    return;
  }

  const SEND_EVERY_MS = 100; // at most one text scored per 100 ms while typing, and the last one always
  // "Why this suggestion?" is asked for once typing pauses: the phrases do not flicker with every key,
  // and the server explains (which costs more than scoring) once per pause, not once per keystroke.
  const EXPLAIN_AFTER_MS = 400;
  const MAX_RECONNECT_MS = 15000;
  const RECENT_BRANDS = 5;

  const textarea = form.querySelector("#id_text");
  const submitButton = form.querySelector("#submit-review");
  const sentiment = document.getElementById("sentiment");
  const fill = document.getElementById("sentiment-fill");
  const sentimentText = document.getElementById("sentiment-text");
  const announcer = document.getElementById("sentiment-announce"); // read out only when band or stars change
  const stars = document.getElementById("stars");
  const ratingWord = document.getElementById("rating-word");
  const suggestionBox = document.getElementById("suggestion");
  const suggestedValue = document.getElementById("suggested-value");
  const suggestionSpoken = document.getElementById("suggestion-spoken");
  const useSuggestion = document.getElementById("use-suggestion");
  const ratingRequired = document.getElementById("rating-required");
  const ratingSource = form.elements.namedItem("rating_source");
  const radios = Array.from(form.querySelectorAll('input[name="rating"]'));
  const sentimentWords = JSON.parse(form.dataset.sentimentWords || "{}");
  const nextLink = document.getElementById("next-brand");
  const formStatus = document.getElementById("form-status");
  const maxChars = parseInt(form.dataset.maxChars, 10) || 5000;
  const idleText = sentimentText.textContent;
  const why = document.getElementById("why");
  const whyPhrases = document.getElementById("why-phrases");
  const whyDetails = document.getElementById("why-details");
  const whyList = document.getElementById("why-list");
  const WHY_SHOWN = 4; // phrases under the bar; the disclosure lists all the server sent

  let sentId = 0; // id of the newest text sent for scoring
  let shownId = 0; // id of the newest answer shown
  let suggestion = null;
  let announced = "";
  let sendTimer = null;
  let explainTimer = null;
  let submitting = false;
  const sentTexts = new Map(); // id -> the text sent, so an answer's spans are read from the text it scored
  let whyShown = "";
  const recentBrands = [form.elements.namedItem("brand").value];

  // --- the stars and the suggestion ----------------------------------------------------------------

  function starCount(n) {
    return n === 1 ? "1 star" : n + " stars"; // never "1 stars"
  }

  function checkedRating() {
    const checked = radios.find(function (radio) { return radio.checked; });
    return checked ? parseInt(checked.value, 10) : null;
  }

  function showRatingWord(value) {
    const label = value ? form.querySelector('label[for="rating-' + value + '"]') : null;
    ratingWord.textContent = label ? label.title : "";
  }

  // The suggestion is outlined stars and a line with "Use suggestion"; it never checks a star itself.
  function showSuggestion() {
    const rating = checkedRating();
    if (suggestion === null || rating !== null) {
      delete stars.dataset.suggested;
    } else {
      stars.dataset.suggested = String(suggestion);
    }
    suggestionBox.hidden = suggestion === null;
    if (suggestion !== null) {
      suggestedValue.textContent = String(suggestion);
      suggestionSpoken.textContent = "Suggested: " + starCount(suggestion);
      useSuggestion.value = String(suggestion);
      useSuggestion.disabled = rating === suggestion && ratingSource.value === "accepted";
      useSuggestion.textContent = useSuggestion.disabled ? "Suggestion used" : "Use suggestion";
    }
  }

  function ratingGiven(value, source) {
    ratingSource.value = source; // "picked" (a star) or "accepted" (the suggestion)
    ratingRequired.hidden = true;
    showRatingWord(value);
    showSuggestion();
  }

  // --- showing a prediction ---------------------------------------------------------------------

  function showNothing() {
    fill.style.width = "0%";
    sentiment.dataset.band = "none";
    delete sentiment.dataset.score;
    delete sentiment.dataset.label;
    sentimentText.textContent = idleText;
    suggestion = null;
    announced = "";
    showSuggestion();
    showExplanation([], "");
  }

  // --- why this suggestion: the spans the server says pushed the score -----------------------------

  function phraseNode(tag, text, weight) {
    const up = weight > 0;
    const node = document.createElement(tag);
    node.className = "why-phrase";
    node.dataset.push = up ? "up" : "down";
    const sign = Object.assign(document.createElement("span"), { className: "why-sign", textContent: up ? "+" : "−" });
    sign.setAttribute("aria-hidden", "true");
    node.append(sign, Object.assign(document.createElement("span"), { className: "why-word", textContent: text }));
    return node;
  }

  function showExplanation(spans, text) {
    // Offsets count Unicode code points (as the server does), not UTF-16 units.
    const points = Array.from(text);
    const phrases = spans.map(function (span) {
      return { text: points.slice(span.start, span.end).join(""), weight: span.weight };
    }).filter(function (phrase) { return phrase.text.trim() !== ""; });
    const key = JSON.stringify(phrases.map(function (phrase) { return [phrase.text, phrase.weight > 0]; }));
    why.dataset.state = phrases.length ? "shown" : "empty";
    if (key === whyShown) {
      return; // the same words: nothing changes, nothing is read out again
    }
    whyShown = key;
    whyPhrases.replaceChildren.apply(whyPhrases, phrases.slice(0, WHY_SHOWN).map(function (phrase) {
      return phraseNode("span", phrase.text, phrase.weight);
    }));
    whyList.replaceChildren.apply(whyList, phrases.map(function (phrase) {
      const item = phraseNode("li", "“" + phrase.text + "”", phrase.weight);
      item.append(phrase.weight > 0 ? " pushes the suggestion up" : " pushes the suggestion down");
      return item;
    }));
  }

  function showPrediction(prediction) {
    if (prediction.score === null || prediction.score === undefined) {
      showNothing();
      return;
    }
    // Five bands, one per star of the server's suggested rating, so word, colour and stars agree.
    suggestion = prediction.suggested_rating;
    const word = sentimentWords[String(suggestion)] || "";
    fill.style.width = Math.round(prediction.score * 100) + "%";
    sentiment.dataset.band = String(suggestion);
    sentiment.dataset.label = prediction.label;
    sentiment.dataset.score = String(prediction.score);
    sentimentText.replaceChildren("Sentiment: ", Object.assign(document.createElement("strong"), { textContent: word }));
    if (prediction.explanation) { // answers while typing carry none: the last phrases stay until the pause
      showExplanation(prediction.explanation, prediction.text || "");
    }
    const summary = "Sentiment " + word.toLowerCase() + ". Suggested: " + starCount(suggestion) + ".";
    if (summary !== announced) {
      announced = summary; // a screen reader hears changes, not every keystroke
      announcer.textContent = summary;
    }
    showSuggestion();
  }

  function handleAnswer(answer) {
    if (!answer || answer.stale || typeof answer.id !== "number" || answer.id <= shownId) {
      return;
    }
    shownId = answer.id;
    const text = sentTexts.get(answer.id) || "";
    sentTexts.forEach(function (_, id) {
      if (id <= answer.id) {
        sentTexts.delete(id); // older texts will not be shown any more
      }
    });
    if (answer.error) {
      sentimentText.textContent = answer.error;
      return;
    }
    showPrediction(Object.assign({}, answer, { text: text }));
  }

  // --- transports: the websocket, and POST /api/predict/ while it is down ------------------------

  let socket = null;
  let reconnectTimer = null;
  let failures = 0;

  function socketOpen() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  function scheduleReconnect(floorMs) {
    if (reconnectTimer !== null) {
      return;
    }
    // Exponential back-off with jitter, so a restarted server is not hit by every page at once.
    const backoff = Math.min(MAX_RECONNECT_MS, 500 * Math.pow(2, failures)) * (0.75 + Math.random() / 2);
    const delay = Math.max(floorMs || 0, backoff);
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
      form.dataset.transport = "websocket";
      if (textarea.value.trim() && shownId < sentId) {
        scoreNow(true); // a text typed while disconnected gets its live answer
      }
    });
    ws.addEventListener("message", function (event) {
      failures = 0; // the server answers: a later drop starts the back-off afresh
      try {
        handleAnswer(JSON.parse(event.data));
      } catch (error) {
        // not JSON: nothing to show
      }
    });
    ws.addEventListener("close", function (event) {
      if (socket === ws) {
        socket = null;
        form.dataset.transport = "http";
        // 4008 (too many messages) and 4013 (too many connections from this address): the server
        // asked this page to back off, so it waits at least half a minute before trying again.
        scheduleReconnect(event.code === 4008 || event.code === 4013 ? 30000 : 0);
      }
    });
  }

  function csrfToken() {
    const input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function predictOverHttp(text, id, explain) {
    window.fetch(form.dataset.predictUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ text: text, explain: explain }),
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

  function scoreNow(explain) {
    const text = textarea.value.slice(0, maxChars);
    sentId += 1;
    if (!text.trim()) {
      shownId = sentId;
      showNothing();
      return;
    }
    sentTexts.set(sentId, text);
    const message = { text: text, id: sentId };
    if (explain) {
      message.explain = true;
    }
    if (socketOpen()) {
      socket.send(JSON.stringify(message));
    } else {
      predictOverHttp(text, sentId, Boolean(explain));
    }
  }

  function explainSoon() {
    window.clearTimeout(explainTimer);
    explainTimer = window.setTimeout(function () {
      explainTimer = null;
      scoreNow(true);
    }, EXPLAIN_AFTER_MS);
  }

  function scoreSoon() {
    if (sendTimer === null) {
      sendTimer = window.setTimeout(function () {
        sendTimer = null;
        scoreNow();
      }, SEND_EVERY_MS);
    }
  }

  // Screen readers hear the phrases only once the visitor opens "Why this suggestion?".
  whyDetails.addEventListener("toggle", function () {
    whyList.setAttribute("aria-live", whyDetails.open ? "polite" : "off");
  });

  // --- the form ----------------------------------------------------------------------------------

  function updateSubmit() {
    submitButton.disabled = submitting || textarea.value.trim() === "";
  }

  textarea.addEventListener("input", function () {
    updateSubmit();
    scoreSoon();
    explainSoon();
  });

  radios.forEach(function (radio) {
    radio.addEventListener("change", function () {
      ratingGiven(parseInt(radio.value, 10), "picked"); // a star click, or an arrow key on the stars
    });
    radio.addEventListener("invalid", function () {
      // Submit without stars: say so beside the stars (the browser's own bubble may be missed).
      ratingRequired.textContent = "Choose your rating: click a star from 1 to 5" +
        (suggestion !== null ? ", or use the suggestion." : ".");
      ratingRequired.hidden = false;
      stars.scrollIntoView({ block: "center" });
    });
  });

  useSuggestion.addEventListener("click", function (event) {
    event.preventDefault(); // with JavaScript it fills in the stars; without, it submits them (the server knows)
    if (suggestion === null || !radios[suggestion - 1]) {
      return;
    }
    radios[suggestion - 1].checked = true;
    ratingGiven(suggestion, "accepted");
    formStatus.textContent = "Rating set to " + starCount(suggestion) + ", as suggested.";
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
    form.querySelectorAll("ul.field-errors").forEach(function (list) { list.remove(); });
    ratingRequired.hidden = true;
    document.querySelectorAll(".messages, .notice").forEach(function (box) { box.remove(); }); // the last thank-you
    form.querySelectorAll("[aria-invalid]").forEach(function (field) { field.removeAttribute("aria-invalid"); });
    recentBrands.push(brand.slug);
    if (recentBrands.length > RECENT_BRANDS) {
      recentBrands.shift();
    }
    ["id_title", "id_experienced_on"].forEach(function (id) {
      document.getElementById(id).value = ""; // the name stays: a visitor often reviews several brands
    });
    textarea.value = "";
    radios.forEach(function (radio) { radio.checked = false; });
    ratingSource.value = "";
    showRatingWord(null);
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

  // Hovering or focusing a star shows its word ("Great"); leaving shows the chosen one again.
  radios.forEach(function (radio) {
    const label = form.querySelector('label[for="' + radio.id + '"]');
    label.addEventListener("mouseenter", function () { showRatingWord(parseInt(radio.value, 10)); });
    label.addEventListener("mouseleave", function () { showRatingWord(checkedRating()); });
  });

  const initialSuggestion = parseInt(stars.dataset.suggested || suggestedValue.textContent, 10);
  suggestion = Number.isNaN(initialSuggestion) ? null : initialSuggestion; // a form shown again by the server
  updateSubmit();
  showRatingWord(checkedRating());
  showSuggestion();
  connect();
  if (textarea.value.trim()) {
    scoreSoon(); // a form shown again with errors keeps its text: score it, and explain it
    explainSoon();
  }
})();
