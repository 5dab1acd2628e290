//! Any listed name against a Hive and a template layout: a partition or a reason, never a
//! panic, and a verdict about a directory holds for every key under it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registrar_core::TableName;
use registrar_core::layout::{classify, values};
use registrar_core::table::Table;

fuzz_target!(|key: &str| {
    let keys = |names: &[&str]| -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), "int".to_string())).collect()
    };
    let tables = [
        Table::new(TableName::new("d", "h"), Some("s3://b/t/"), &keys(&["year", "month"]), None).unwrap(),
        Table::new(
            TableName::new("d", "p"),
            Some("s3://b/t/"),
            &keys(&["year", "month"]),
            Some("s3://b/t/${year}-${month}/x"),
        )
        .unwrap(),
    ];
    let key = format!("t/{key}");
    for table in &tables {
        match classify(table, &key) {
            Ok(end) => {
                let dir = &key[..end];
                let _ = values(table, dir);
                assert_eq!(classify(table, &format!("{dir}f")).ok(), Some(end));
            }
            Err(r) => {
                if let Some(end) = r.dir_end {
                    assert!(classify(table, &format!("{}f", &key[..end])).is_err());
                }
            }
        }
    }
});
