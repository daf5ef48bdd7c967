/* The portal's small behaviours: character counts, confirmation, time spent, the candidate countdown.
   Everything works without it except live counts; forms still post and pages still render. */
(function () {
  "use strict";

  function updateCount(textarea) {
    var target = document.getElementById(textarea.getAttribute("data-count-target"));
    if (!target) return;
    var limit = parseInt(textarea.getAttribute("maxlength") || "0", 10);
    var length = textarea.value.length;
    target.textContent = target.getAttribute("data-template").replace("%(count)s", length).replace("%(limit)s", limit);
    target.classList.toggle("over", limit > 0 && length > limit);
  }

  function bindCounts(root) {
    root.querySelectorAll("textarea[data-count-target]").forEach(function (textarea) {
      if (textarea.dataset.countBound) return;
      textarea.dataset.countBound = "1";
      textarea.addEventListener("input", function () { updateCount(textarea); });
      updateCount(textarea);
    });
  }

  function bindStartTimes(root) {
    root.querySelectorAll("form[data-time-spent]").forEach(function (form) {
      if (form.dataset.startedAt) return;
      form.dataset.startedAt = String(Date.now());
      form.addEventListener("submit", function () { setTimeSpent(form); });
      form.addEventListener("htmx:configRequest", function () { setTimeSpent(form); });
    });
  }

  function setTimeSpent(form) {
    var input = form.querySelector("input[name=time_spent_s]");
    if (input) input.value = String(Math.round((Date.now() - Number(form.dataset.startedAt)) / 1000));
  }

  // Plain (non-htmx) forms asking for confirmation; htmx forms use hx-confirm.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // An answer form that succeeded starts empty again (the status panel shows what was sent).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-reset-on-success")) return;
    if (!event.detail.successful || event.detail.xhr.status >= 300) return;
    form.reset();
    delete form.dataset.startedAt;
    bindStartTimes(form.parentNode);
    form.querySelectorAll("textarea[data-count-target]").forEach(updateCount);
  });

  function formatSeconds(total) {
    var hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), seconds = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (hours ? hours + ":" + pad(minutes) : pad(minutes)) + ":" + pad(seconds);
  }

  var countdownTimer = null;
  function bindCountdown(root) {
    var element = root.querySelector ? root.querySelector("[data-seconds-left]") : null;
    if (!element && root.hasAttribute && root.hasAttribute("data-seconds-left")) element = root;
    if (!element) return;
    var deadline = Date.now() + 1000 * parseInt(element.getAttribute("data-seconds-left"), 10);
    if (countdownTimer) window.clearInterval(countdownTimer);
    function tick() {
      var current = document.querySelector("[data-seconds-left]");
      if (!current) return;
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      current.querySelector(".countdown").textContent = formatSeconds(left);
      current.querySelector(".countdown").classList.toggle("low", left <= 60);
      if (left === 0) {
        window.clearInterval(countdownTimer);
        document.querySelectorAll("textarea[data-candidate-answer]").forEach(function (t) { t.readOnly = true; });
        // The server decides: reloading shows the time-up page with the saved answers.
        window.setTimeout(function () { window.location.reload(); }, 1500);
      }
    }
    tick();
    countdownTimer = window.setInterval(tick, 1000);
  }

  // Candidate answers: a box typed in but not yet saved (the save is debounced) is sent with
  // a beacon when the page goes away, so closing or reloading the tab loses no keystrokes.
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-candidate-answer")) event.target.dataset.dirty = "1";
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = event.target;
    if (box.hasAttribute && box.hasAttribute("data-candidate-answer") && event.detail.xhr.status < 300) delete box.dataset.dirty;
  });
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;  // the candidate cancelled the confirmation
    // The final post carries every box's text; nothing is left for a beacon.
    event.target.querySelectorAll("textarea[data-dirty]").forEach(function (box) { delete box.dataset.dirty; });
  });
  window.addEventListener("pagehide", function () {
    if (!navigator.sendBeacon) return;
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    document.querySelectorAll("textarea[data-candidate-answer][data-dirty]").forEach(function (box) {
      var data = new FormData();
      if (token) data.append("csrfmiddlewaretoken", token.value);
      data.append("question", box.getAttribute("data-question"));
      data.append(box.name, box.value);
      navigator.sendBeacon(box.getAttribute("hx-post"), data);
    });
  });

  function init(root) {
    bindCounts(root);
    bindStartTimes(root);
    bindCountdown(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
