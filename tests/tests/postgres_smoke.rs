//! The PostgreSQL fixture: starts a server, runs MERGE (the statement the warehouse loads rely
//! on), reads typed values back, and checks the server and its shared memory are gone after drop.

use shopstream_emulators::PostgresServer;

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn postgres_runs_merge_and_stops_on_drop() {
    let server = PostgresServer::start().await.expect("postgres starts");
    let pid = server.pid();
    assert!(process_exists(pid), "postmaster {pid} is running");
    let major: u32 = server
        .version()
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .expect("numeric major version");
    assert!(major >= 15, "version {}", server.version());

    server
        .execute(
            "CREATE TABLE dim (k text PRIMARY KEY, v numeric(18,2), at timestamp(6));
             CREATE TEMP TABLE stage (k text, v numeric(18,2), at timestamp(6));
             INSERT INTO dim VALUES ('a', 1.00, '2024-01-01 00:00:00');",
        )
        .await
        .expect("ddl");
    let merge = "CREATE TEMP TABLE stage AS
                   SELECT * FROM (VALUES ('a', 2.50::numeric(18,2), '2024-01-02 03:04:05.123456'::timestamp(6)),
                                         ('b', -3.10, NULL)) AS s(k, v, at);
                 MERGE INTO dim USING stage ON dim.k = stage.k
                   WHEN MATCHED THEN UPDATE SET v = stage.v, at = stage.at
                   WHEN NOT MATCHED THEN INSERT VALUES (stage.k, stage.v, stage.at);";
    for _ in 0..2 {
        server.execute(merge).await.expect("merge");
    }
    let rows = server
        .query("SELECT k, v, at FROM dim ORDER BY k")
        .await
        .expect("query");
    assert_eq!(
        rows,
        vec![
            vec![
                Some("a".to_owned()),
                Some("2.50".to_owned()),
                Some("2024-01-02 03:04:05.123456".to_owned())
            ],
            vec![Some("b".to_owned()), Some("-3.10".to_owned()), None],
        ]
    );
    assert!(server
        .query("SELECT 1 WHERE false")
        .await
        .expect("empty query")
        .is_empty());

    let error = server
        .execute("SELECT * FROM no_such_table;")
        .await
        .expect_err("an SQL error fails the call");
    assert!(format!("{error:#}").contains("no_such_table"), "{error:#}");

    drop(server);
    assert!(!process_exists(pid), "postmaster {pid} stopped");
}
