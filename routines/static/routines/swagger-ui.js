// Starts Swagger UI on the routines schema. A separate file rather than an inline script, so a
// Content-Security-Policy without 'unsafe-inline' still allows the page.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  var csrfToken = node.getAttribute("data-csrf-token");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-schema-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    requestInterceptor: function (request) {
      // Session-authenticated writes need Django's CSRF token.
      if (csrfToken) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
})();
