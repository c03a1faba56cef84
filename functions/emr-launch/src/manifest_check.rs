//! "The manifest exists and checks out": read and verified (format, checksum), written for
//! this batch, and every gold file it lists present with its recorded size. When the files
//! are small enough their SHA-256 is checked too; a large EMR batch's files are checked by
//! size only, since downloading gigabytes into the Lambda would outlast it.

use shopstream::manifest::{manifest_key, read_manifest, verify_objects, Manifest};

/// Up to this many gold bytes in total, every file's SHA-256 is checked as well.
pub const FULL_CHECK_MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key: String,
    pub manifest: Manifest,
}

pub async fn verify(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    batch_id: &str,
) -> Result<Verified, String> {
    let key = manifest_key(batch_id);
    let manifest = read_manifest(s3, bucket, &key)
        .await
        .map_err(|e| e.to_string())?;
    if manifest.batch_id != batch_id {
        return Err(format!(
            "s3://{bucket}/{key} is the manifest of batch {}",
            manifest.batch_id
        ));
    }
    let total: u64 = manifest.files().map(|(_, f)| f.size_bytes).sum();
    if total <= FULL_CHECK_MAX_BYTES {
        verify_objects(s3, bucket, &manifest)
            .await
            .map_err(|e| e.to_string())?;
    } else {
        for (_, file) in manifest.files() {
            let head = s3
                .head_object()
                .bucket(bucket)
                .key(&file.key)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "{}: {}",
                        file.key,
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
            let size = head.content_length().unwrap_or(-1);
            if u64::try_from(size).ok() != Some(file.size_bytes) {
                return Err(format!(
                    "{}: {size} bytes, the manifest says {}",
                    file.key, file.size_bytes
                ));
            }
        }
    }
    Ok(Verified { key, manifest })
}
