//! A JSON body extractor whose rejections use the project's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::error_body;

pub struct JsonBody<T>(pub T);

pub struct JsonError(JsonRejection);

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "invalid_json"),
        };
        let detail = self.0.body_text();
        // serde names the offending field first ("limit: invalid type ..."): surface it.
        let field = detail
            .split("target type: ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .filter(|f| !f.contains(' '))
            .map(str::to_string);
        (
            status,
            axum::Json(error_body(code, detail, field.as_deref())),
        )
            .into_response()
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| JsonBody(v))
            .map_err(JsonError)
    }
}
