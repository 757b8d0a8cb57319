// MUTT's only script. The Content-Security-Policy allows scripts from this site only, so no
// page has inline script or on*= handlers: a page marks what it needs with data-* attributes.
// Every page works without it; it only adds the confirmations, the copy button, the
// dashboard's live updates, times in the browser's zone and sortable tables.
//
// <form data-confirm="question">: asks the question before the form is sent; Cancel stops it.
// The question is read as text (never run), whatever names it contains. A submit button may
// carry its own data-confirm (a form whose Purge asks and whose Replay does not).
// <form data-confirm="..." data-confirm-when="field=value">: asks only when that field has that
// value (disabling a user asks; changing their role does not).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var question = button && button.hasAttribute("data-confirm") ? button.getAttribute("data-confirm")
    : form.getAttribute("data-confirm");
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

// <input type="checkbox" data-select-all="name">: ticks or clears every checkbox of that name
// on the page (the rows of a list); ticking a row by hand leaves it as it is.
document.addEventListener("change", function (event) {
  var box = event.target;
  var name = box.getAttribute ? box.getAttribute("data-select-all") : null;
  if (name === null) {
    return;
  }
  var rows = document.querySelectorAll("input[type=checkbox]");
  for (var i = 0; i < rows.length; i++) {
    if (rows[i].name === name) {
      rows[i].checked = box.checked;
    }
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

// <div data-live="/path" data-live-every="5">: every that many seconds the box is replaced by
// what the server answers at that path (an HTML fragment it rendered, escaped like any page;
// it says when it was made, [data-live-updated]), without reloading the page. Not while the
// tab is hidden, one request at a time, and not while paused by <button data-live-pause>
// (shown only when this script runs). A failed update keeps what is shown and says so; an
// answer that was redirected (the session ended: the login page) reloads the page instead.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector("[data-live]");
  if (box === null) {
    return;
  }
  var url = box.getAttribute("data-live");
  var every = parseInt(box.getAttribute("data-live-every"), 10) * 1000;
  var pause = document.querySelector("[data-live-pause]");
  var paused = /[?&]paused=/.test(window.location.search);
  var busy = false;
  function say(text) {
    var updated = box.querySelector("[data-live-updated]");
    if (updated !== null) {
      updated.setAttribute("data-live-note", text);
      updated.title = text;
      updated.classList.add("stale");
    }
  }
  function update() {
    if (paused || busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}, cache: "no-store"})
      .then(function (response) {
        if (response.redirected) {
          window.location.reload();
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          box.innerHTML = html;
          markScrollingTables();
        }
      })
      .catch(function (error) {
        say("update failed: " + error.message + "; showing the last update");
      })
      .then(function () {
        busy = false;
      });
  }
  if (pause !== null) {
    pause.hidden = false;
    var show = function () {
      pause.textContent = paused ? "Resume updates" : "Pause updates";
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
    };
    show();
    pause.addEventListener("click", function () {
      paused = !paused;
      show();
      update();
    });
  }
  window.setInterval(update, every);
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

// <table data-sortable>: each column heading becomes a button that sorts the rows shown on this
// page by that column, and the other way on a second click (aria-sort says which); a reload
// brings back the server's order. A cell sorts by its data-sort attribute, else by its
// <time datetime>, else by its text, numbers by value ("edge-9" before "edge-10"). Headings
// that hold a control (the select-all box) or no text are left alone, as is an empty list.
function sortKey(cell) {
  if (!cell) {
    return "";
  }
  if (cell.hasAttribute("data-sort")) {
    return cell.getAttribute("data-sort");
  }
  var time = cell.querySelector("time[datetime]");
  return time !== null ? time.getAttribute("datetime") : cell.textContent.trim();
}
function dataRows(table) {
  return Array.prototype.slice.call(table.rows, 1);  // the first row holds the headings
}
function sortTable(table, heading) {
  var descending = heading.getAttribute("aria-sort") === "ascending";
  var headings = table.rows[0].cells;
  for (var i = 0; i < headings.length; i++) {
    headings[i].removeAttribute("aria-sort");
  }
  heading.setAttribute("aria-sort", descending ? "descending" : "ascending");
  var column = heading.cellIndex;
  var rows = dataRows(table);
  rows.sort(function (a, b) {
    var order = sortKey(a.cells[column]).localeCompare(sortKey(b.cells[column]), undefined,
      {numeric: true, sensitivity: "base"});
    return descending ? -order : order;
  });
  for (var j = 0; j < rows.length; j++) {
    rows[j].parentNode.appendChild(rows[j]);
  }
}
document.addEventListener("DOMContentLoaded", function () {
  var tables = document.querySelectorAll("table[data-sortable]");
  for (var i = 0; i < tables.length; i++) {
    var table = tables[i];
    var rows = dataRows(table);
    if (rows.length < 2) {
      continue;
    }
    var headings = table.rows[0].cells;
    for (var j = 0; j < headings.length; j++) {
      var heading = headings[j];
      if (heading.tagName !== "TH" || heading.querySelector("input, select, button") !== null
          || heading.textContent.trim() === "") {
        continue;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (heading.firstChild) {
        button.appendChild(heading.firstChild);
      }
      heading.appendChild(button);
      button.addEventListener("click", sortTable.bind(null, table, heading));
    }
  }
});
