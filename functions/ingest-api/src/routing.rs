//! Routes: `POST /v1/events`, `POST /v1/orders`, `GET /v1/health`.

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Events,
    Orders,
    Health,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Events => "events",
            Route::Orders => "orders",
            Route::Health => "health",
        }
    }
}

/// Matches a normalised path and an upper-case method.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let (route, allow) = match path {
        "/v1/events" => (Route::Events, "POST"),
        "/v1/orders" => (Route::Orders, "POST"),
        "/v1/health" => (Route::Health, "GET, HEAD"),
        _ => {
            return Err(ApiError::NotFound {
                method: method.to_owned(),
                path: path.to_owned(),
            })
        }
    };
    let allowed = match route {
        Route::Health => matches!(method, "GET" | "HEAD"),
        Route::Events | Route::Orders => method == "POST",
    };
    if allowed {
        Ok(route)
    } else {
        Err(ApiError::MethodNotAllowed {
            method: method.to_owned(),
            path: path.to_owned(),
            allow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_refusals() {
        assert_eq!(route("POST", "/v1/events"), Ok(Route::Events));
        assert_eq!(route("POST", "/v1/orders"), Ok(Route::Orders));
        assert_eq!(route("GET", "/v1/health"), Ok(Route::Health));
        assert_eq!(route("GET", "/v1/events").map_err(|e| e.status()), Err(405));
        assert_eq!(
            route("DELETE", "/v1/health").map_err(|e| e.status()),
            Err(405)
        );
        assert_eq!(
            route("POST", "/v2/events").map_err(|e| e.status()),
            Err(404)
        );
        assert_eq!(route("GET", "/").map_err(|e| e.status()), Err(404));
    }
}
