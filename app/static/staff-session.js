/* Staff console: warn before the automatic sign-out, offer "Stay signed in", and go to the sign-in page
   once the session has ended. Settings come from data- attributes on <body>; the server decides when a
   session ends, this only tells the person in time. Without JavaScript the header shows the end time. */
(function () {
  "use strict";

  const data = document.body.dataset;
  const warning = document.getElementById("session-warning");
  const text = document.getElementById("session-warning-text");
  const stay = document.getElementById("session-stay");
  const endsLabel = document.querySelector("#session-ends time");
  if (!data.sessionEndsIn || !warning || !text || !stay) {
    return;
  }

  const WARN_BEFORE_MS = 2 * 60 * 1000;
  const GRACE_MS = 3000; // arrive just after the server has ended the session, not just before
  const loadedAt = Date.now();
  const idleMs = Number(data.sessionIdle) * 1000;
  const absoluteEnd = loadedAt + Number(data.sessionAbsoluteIn) * 1000;
  let end = loadedAt + Number(data.sessionEndsIn) * 1000;
  let warned = false;

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function showWarning() {
    warned = true;
    const final = end >= absoluteEnd;
    stay.hidden = final;
    warning.hidden = false; // shown before the text goes in, so screen readers announce the alert
    text.textContent = final
      ? "You have reached the longest time a session can last. You will be signed out at " + clock(end) +
        ". Save your work now."
      : "For patients' privacy you will be signed out at " + clock(end) +
        " because the console has not been used for a while.";
  }

  function hideWarning() {
    warned = false;
    warning.hidden = true;
    text.textContent = "";
  }

  function signedOut() {
    window.location.assign(data.loginUrl);
  }

  function tick() {
    const now = Date.now();
    if (now >= end + GRACE_MS) {
      signedOut();
    } else if (!warned && end - now <= WARN_BEFORE_MS) {
      showWarning();
    }
  }

  function keepAlive() {
    stay.disabled = true;
    fetch(data.keepaliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": data.csrfToken },
    })
      .then(function (response) {
        if (response.status !== 204) {
          signedOut(); // the session had already ended
          return;
        }
        end = Math.min(Date.now() + idleMs, absoluteEnd);
        if (endsLabel) {
          endsLabel.textContent = clock(end);
          endsLabel.dateTime = new Date(end).toISOString();
        }
        hideWarning();
      })
      .catch(function () {
        text.textContent = "The console could not be reached. Check your connection, then choose Stay signed in again.";
      })
      .finally(function () {
        stay.disabled = false;
      });
  }

  stay.addEventListener("click", keepAlive);
  window.setInterval(tick, 1000);
})();
