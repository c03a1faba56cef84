//! The lake as object_store sees it: S3 (honouring `AWS_ENDPOINT_URL`, path-style for local
//! emulators) or a local directory, with keys relative to the lake root.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use shopstream::config::Env;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("{location}: {source}")]
    Store {
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{0} is neither s3://bucket[/prefix] nor a directory")]
    BadLocation(String),
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size_bytes: u64,
    pub etag: String,
}

#[derive(Debug, Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    label: String,
}

impl Lake {
    /// A lake over any object store (tests wrap one to inject faults).
    pub fn new(store: Arc<dyn ObjectStore>, label: impl Into<String>) -> Lake {
        Lake {
            store,
            label: label.into(),
        }
    }

    /// `s3://bucket` through object_store: credentials and region from the environment as
    /// Lambda sets them; `AWS_ENDPOINT_URL` (local emulators) switches to path-style over HTTP.
    pub fn s3(bucket: &str, env: &Env) -> Result<Lake, LakeError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        // The configuration snapshot wins over the process environment (tests pass their own).
        if let (Some(key), Some(secret)) = (
            env.optional("AWS_ACCESS_KEY_ID"),
            env.optional("AWS_SECRET_ACCESS_KEY"),
        ) {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
            if let Some(token) = env.optional("AWS_SESSION_TOKEN") {
                builder = builder.with_token(token);
            }
        }
        if let Some(region) = env
            .optional("AWS_REGION")
            .or(env.optional("AWS_DEFAULT_REGION"))
        {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = env.optional(shopstream::aws::ENDPOINT_VAR) {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(true)
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|source| LakeError::Store {
            location: format!("s3://{bucket}"),
            source,
        })?;
        Ok(Lake::new(Arc::new(store), format!("s3://{bucket}")))
    }

    /// A local directory as the lake root (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Lake, LakeError> {
        let label = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| LakeError::Store {
            location: label.clone(),
            source: object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            },
        })?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|source| LakeError::Store {
            location: label.clone(),
            source,
        })?;
        Ok(Lake::new(Arc::new(store), label))
    }

    /// `s3://bucket[/prefix]` or a directory.
    pub fn open(location: &str, env: &Env) -> Result<Lake, LakeError> {
        match location.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(LakeError::BadLocation(location.to_owned()));
                }
                let lake = Lake::s3(bucket, env)?;
                let prefix = prefix.trim_matches('/');
                if prefix.is_empty() {
                    Ok(lake)
                } else {
                    Ok(Lake::new(
                        Arc::new(PrefixStore::new(lake.store, prefix)),
                        location.trim_end_matches('/'),
                    ))
                }
            }
            None => Lake::local(std::path::Path::new(location)),
        }
    }

    /// The underlying store (to wrap it).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    fn error(&self, key: &str, source: object_store::Error) -> LakeError {
        LakeError::Store {
            location: format!("{}/{key}", self.label),
            source,
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, LakeError> {
        let result = self
            .store
            .get(&Path::from(key))
            .await
            .map_err(|e| self.error(key, e))?;
        result.bytes().await.map_err(|e| self.error(key, e))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), LakeError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(|e| self.error(key, e))?;
        Ok(())
    }

    pub async fn exists(&self, key: &str) -> Result<bool, LakeError> {
        match self.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Every object under `prefix` (a key prefix ending in '/'), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, LakeError> {
        let path = Path::from(prefix.trim_end_matches('/'));
        let metas: Vec<_> = match self.store.list(Some(&path)).try_collect().await {
            Ok(metas) => metas,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.error(prefix, e)),
        };
        let mut listed: Vec<Listed> = metas
            .into_iter()
            .map(|meta| Listed {
                key: meta.location.to_string(),
                size_bytes: meta.size,
                etag: meta.e_tag.unwrap_or_default().trim_matches('"').to_owned(),
            })
            .collect();
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }
}
