//! COPY loads Parquet columns by position, so each warehouse table must list its columns in
//! the order the gold model writes them. The model's outermost SELECT list (jobs/sql/<table>.sql)
//! is that order; this test reads it and compares.

use redshift_copy::warehouse;

fn model_sql(table: &str) -> String {
    let path = format!("{}/../../jobs/sql/{table}.sql", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Output column names of the outermost `SELECT … FROM` (the lines from the first line starting
/// with SELECT to the first line starting with FROM), split on top-level commas; a column's
/// name is what follows its last top-level ` AS `, else its last `.`-separated part.
fn output_columns(sql: &str) -> Vec<String> {
    let lines: Vec<&str> = sql.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("SELECT"))
        .expect("a SELECT line");
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("FROM"))
            .expect("a FROM line");
    let mut list = lines[start..end].join("\n");
    list = list
        .trim_start_matches("SELECT")
        .trim_start()
        .trim_start_matches("DISTINCT")
        .to_owned();
    let mut items = Vec::new();
    let (mut depth, mut current) = (0i32, String::new());
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            match item.rfind(" AS ") {
                Some(at) => item[at + 4..].trim().to_owned(),
                None => item.rsplit('.').next().unwrap_or(item).trim().to_owned(),
            }
        })
        .collect()
}

#[test]
fn ddl_columns_are_the_gold_models_output_columns_in_order() {
    for table in warehouse::tables() {
        assert_eq!(
            table.columns,
            output_columns(&model_sql(table.name)),
            "{}: jobs/redshift/tables and jobs/sql disagree",
            table.name
        );
    }
}

#[test]
fn every_gold_output_table_is_a_warehouse_table() {
    let path = format!("{}/../../jobs/sql/models.json", env!("CARGO_MANIFEST_DIR"));
    let models: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("models.json")).expect("json");
    let outputs: Vec<String> = models["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["output"].as_str())
        .filter(|o| !o.starts_with('_'))
        .map(str::to_owned)
        .collect();
    let mut tables: Vec<String> = warehouse::table_names()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut outputs = outputs;
    outputs.sort();
    tables.sort();
    assert_eq!(tables, outputs);
}

#[test]
fn the_select_list_reader_handles_casts_cases_and_functions() {
    let sql = "-- c\nSELECT DISTINCT\n    a,\n    k.b,\n    CAST(x AS DECIMAL(18, 2)) AS c,\n    CASE WHEN y IN (0, 6) THEN 1 ELSE 2 END AS d,\n    md5(concat_ws('|', p, q)) AS e\nFROM t\n";
    assert_eq!(output_columns(sql), ["a", "b", "c", "d", "e"]);
}
