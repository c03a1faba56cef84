//! Who sent a request, as API Gateway's authoriser established it: the JWT's issuer and
//! subject, or the IAM caller's ARN. Idempotency keys and derived `event_id`s are scoped by it,
//! so two producers that happen to send the same key and body never share a replay or ids.

use aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A JWT authoriser: the token's `iss` and `sub` claims.
    Jwt { issuer: String, subject: String },
    /// IAM (SigV4) authorisation: the caller's ARN.
    Iam { arn: String },
    /// No authoriser ran (a route without authorisation, or a local invocation). Every such
    /// caller shares one scope.
    Anonymous,
}

impl Principal {
    /// A stable text form: `jwt:<issuer> <subject>`, `iam:<arn>` or `anonymous`. A space cannot
    /// occur in an issuer URL, so two different principals never give the same text.
    pub fn scope(&self) -> String {
        match self {
            Principal::Jwt { issuer, subject } => format!("jwt:{issuer} {subject}"),
            Principal::Iam { arn } => format!("iam:{arn}"),
            Principal::Anonymous => "anonymous".to_owned(),
        }
    }

    /// SHA-256 of [`scope`](Self::scope) in hex: a key prefix of fixed length whatever the
    /// length of the ARN or claims.
    pub fn digest(&self) -> String {
        Sha256::digest(self.scope().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// From an HTTP API (v2) authoriser: JWT claims, else the IAM caller.
    pub fn from_v2(authorizer: Option<&ApiGatewayRequestAuthorizer>) -> Self {
        let Some(authorizer) = authorizer else {
            return Principal::Anonymous;
        };
        if let Some(principal) = authorizer
            .jwt
            .as_ref()
            .and_then(|jwt| from_claims(&jwt.claims))
        {
            return principal;
        }
        if let Some(arn) = authorizer
            .iam
            .as_ref()
            .and_then(|iam| non_empty(iam.user_arn.as_deref()))
        {
            return Principal::Iam { arn };
        }
        from_lambda_claims(&authorizer.fields).unwrap_or(Principal::Anonymous)
    }

    /// From a REST API (v1) request context: a Cognito / JWT authoriser's `claims`, else the
    /// IAM caller of `identity.userArn`.
    pub fn from_v1(authorizer: &ApiGatewayRequestAuthorizer, user_arn: Option<&str>) -> Self {
        if let Some(principal) = authorizer
            .jwt
            .as_ref()
            .and_then(|jwt| from_claims(&jwt.claims))
            .or_else(|| from_lambda_claims(&authorizer.fields))
        {
            return principal;
        }
        match non_empty(user_arn) {
            Some(arn) => Principal::Iam { arn },
            None => Principal::Anonymous,
        }
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn from_claims(claims: &HashMap<String, String>) -> Option<Principal> {
    let subject = non_empty(claims.get("sub").map(String::as_str))?;
    let issuer = non_empty(claims.get("iss").map(String::as_str)).unwrap_or_default();
    Some(Principal::Jwt { issuer, subject })
}

/// REST API authorisers put the claims under `authorizer.claims` (an object).
fn from_lambda_claims(fields: &HashMap<String, Value>) -> Option<Principal> {
    let claims = fields.get("claims")?.as_object()?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let subject = non_empty(text("sub"))?;
    let issuer = non_empty(text("iss")).unwrap_or_default();
    Some(Principal::Jwt { issuer, subject })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authorizer(value: Value) -> ApiGatewayRequestAuthorizer {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn jwt_claims_then_iam_then_anonymous() {
        let jwt = authorizer(
            json!({"jwt": {"claims": {"sub": "p-1", "iss": "https://idp"}, "scopes": null}}),
        );
        assert_eq!(
            Principal::from_v2(Some(&jwt)),
            Principal::Jwt {
                issuer: "https://idp".into(),
                subject: "p-1".into()
            }
        );
        let iam = authorizer(json!({"iam": {"userArn": "arn:aws:iam::1:user/producer"}}));
        assert_eq!(
            Principal::from_v2(Some(&iam)).scope(),
            "iam:arn:aws:iam::1:user/producer"
        );
        assert_eq!(Principal::from_v2(None), Principal::Anonymous);
        let empty = authorizer(json!({"jwt": {"claims": {"sub": " "}}}));
        assert_eq!(Principal::from_v2(Some(&empty)), Principal::Anonymous);
    }

    #[test]
    fn rest_api_claims_and_identity() {
        let mut cognito = ApiGatewayRequestAuthorizer::default();
        cognito.fields.insert(
            "claims".into(),
            json!({"sub": "p-2", "iss": "https://cognito"}),
        );
        assert_eq!(
            Principal::from_v1(&cognito, None).scope(),
            "jwt:https://cognito p-2"
        );
        let none = ApiGatewayRequestAuthorizer::default();
        assert_eq!(
            Principal::from_v1(&none, Some("arn:aws:sts::1:assumed-role/r/s")).scope(),
            "iam:arn:aws:sts::1:assumed-role/r/s"
        );
        assert_eq!(Principal::from_v1(&none, None), Principal::Anonymous);
    }

    #[test]
    fn same_subject_of_two_issuers_are_two_principals() {
        let a = Principal::Jwt {
            issuer: "https://a".into(),
            subject: "x".into(),
        };
        let b = Principal::Jwt {
            issuer: "https://b".into(),
            subject: "x".into(),
        };
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 64);
    }
}
