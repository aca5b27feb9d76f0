/* Starts Swagger UI on /api/v1/docs (templates/swagger_ui.html) with the OpenAPI document named by
   the page; kept out of the page so the Content-Security-Policy needs no inline script. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // no badge fetched from validator.swagger.io: nothing leaves the site
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
