// MUTT's only script. The Content-Security-Policy allows scripts from this site only, so no
// page has inline script or on*= handlers: a page marks what it needs with data-* attributes.
// Every page works without it; it only adds the confirmations and the copy button.
//
// <form data-confirm="question">: asks the question before the form is sent; Cancel stops it.
// The question is read as text (never run), whatever names it contains.
// <form data-confirm="..." data-confirm-when="field=value">: asks only when that field has that
// value (disabling a user asks; changing their role does not).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question === null) {
    return;
  }
  var when = form.getAttribute("data-confirm-when");
  if (when !== null) {
    var split = when.indexOf("=");
    var field = form.elements.namedItem(when.slice(0, split));
    if (!field || field.value !== when.slice(split + 1)) {
      return;
    }
  }
  if (!window.confirm(question)) {
    event.preventDefault();
  }
});

// <button data-copy="element-id" hidden>: shown when the clipboard can be used; copies the
// element's text and says so.
document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    if (navigator.clipboard) {
      buttons[i].hidden = false;
    }
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
  if (button === null) {
    return;
  }
  var source = document.getElementById(button.getAttribute("data-copy"));
  navigator.clipboard.writeText(source.textContent).then(function () {
    button.textContent = "Copied";
  }, function () {
    button.textContent = "Copy failed: select the key and copy it";
  });
});

// <p data-refresh="30">: reloads the page after that many seconds, unless the URL says
// ?paused=1 or someone is typing in a field (a reload would lose what they typed).
document.addEventListener("DOMContentLoaded", function () {
  var marker = document.querySelector("[data-refresh]");
  if (marker === null || /[?&]paused=/.test(window.location.search)) {
    return;
  }
  var seconds = parseInt(marker.getAttribute("data-refresh"), 10);
  window.setInterval(function () {
    var active = document.activeElement;
    if (!active || !/^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      window.location.reload();
    }
  }, seconds * 1000);
});

// A table wider than the screen scrolls inside itself (mutt.css); it is made focusable so that
// it can be scrolled with the keyboard too.
function markScrollingTables() {
  var tables = document.querySelectorAll("main table");
  for (var i = 0; i < tables.length; i++) {
    if (tables[i].scrollWidth > tables[i].clientWidth) {
      tables[i].setAttribute("tabindex", "0");
    } else {
      tables[i].removeAttribute("tabindex");
    }
  }
}
document.addEventListener("DOMContentLoaded", markScrollingTables);
window.addEventListener("resize", markScrollingTables);

// <time datetime="2026-12-04T11:38:14+00:00">: shown relative ("3 min ago") and in the browser's
// time zone, the exact UTC time on hover (title). Without this script the page shows UTC.
function relativeTime(seconds) {
  var ago = seconds >= 0;
  var s = Math.abs(seconds);
  var text = s < 60 ? Math.round(s) + " s" : s < 3600 ? Math.round(s / 60) + " min"
    : s < 86400 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " d";
  return ago ? text + " ago" : "in " + text;
}
function showTimes() {
  var times = document.querySelectorAll("time[datetime]");
  var now = Date.now();
  for (var i = 0; i < times.length; i++) {
    var iso = times[i].getAttribute("datetime");
    var moment = new Date(iso);
    if (isNaN(moment.getTime())) {
      continue;
    }
    times[i].textContent = relativeTime((now - moment.getTime()) / 1000) + " · " + moment.toLocaleString();
    times[i].title = moment.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }
}
document.addEventListener("DOMContentLoaded", showTimes);
