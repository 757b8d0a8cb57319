// MUTT's only script. The Content-Security-Policy allows scripts from this site only, so no
// page has inline script or on*= handlers: a page marks what it needs with data-* attributes.
//
// <form data-confirm="question">: asks the question before the form is sent; Cancel stops it.
// The question is read as text (never run), whatever names it contains.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question !== null && !window.confirm(question)) {
    event.preventDefault();
  }
});
