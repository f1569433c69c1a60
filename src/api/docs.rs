//! `/openapi.json` and the `/docs` page. The page is Swagger UI, vendored from npm's
//! `swagger-ui-dist` (`scripts/vendor_swagger_ui.sh`) and compiled into the binary, so the
//! documentation works on a machine with no internet access.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>devicekb API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="docs"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null
});
</script>
</body>
</html>
"##;

/// Assets change only with the binary: let browsers keep them a day.
const CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=86400");

pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_document(),
    )
        .into_response()
}

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), CACHE],
        include_str!("docs/swagger-ui.css"),
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            CACHE,
        ],
        include_str!("docs/swagger-ui-bundle.js"),
    )
        .into_response()
}
