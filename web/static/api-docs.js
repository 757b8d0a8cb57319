// /api/docs: Swagger UI (served from this site) on MUTT's OpenAPI document. Reads only: a write
// from here would need the CSRF token Swagger UI does not send.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    deepLinking: true,
    supportedSubmitMethods: ["get"],
  });
});
