// MUTT's only script. The Content-Security-Policy allows scripts from this site only, so no
// page has inline script or on*= handlers: a page marks what it needs with data-* attributes.
// Every page works without it; it only adds the confirmations and the copy button.
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
