//! The core's AWS client helpers against a real (local) S3: path-style addressing from
//! `AWS_ENDPOINT_URL` is what makes the same code run on AWS and on emulators.

use shopstream::aws::{load_sdk_config, local_sdk_config, s3_client, ENDPOINT_VAR};
use shopstream::config::Env;
use shopstream_emulators::MotoServer;

#[tokio::test]
async fn s3_client_from_endpoint_env_puts_and_lists_on_moto() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let from_env = load_sdk_config(&Env::from_pairs([(ENDPOINT_VAR, moto.endpoint_url())])).await;
    assert_eq!(from_env.endpoint_url(), Some(moto.endpoint_url()));

    let s3 = s3_client(&local_sdk_config(moto.endpoint_url()).await);
    s3.create_bucket().bucket("lake").send().await?;
    for key in [
        "silver/transaction/dt=2024-11-05/hour=07/a.parquet",
        "quarantine/unknown/dt=2024-11-05/hour=07/a.jsonl",
    ] {
        s3.put_object()
            .bucket("lake")
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await?;
    }
    let listed = s3
        .list_objects_v2()
        .bucket("lake")
        .prefix("silver/")
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        vec!["silver/transaction/dt=2024-11-05/hour=07/a.parquet"]
    );
    Ok(())
}
