//! Planning: which partitions a set of objects needs, deduplicated, and why the others are
//! skipped. Pure, no I/O; the hot path of every invocation.

use crate::event::ObjectEvent;
use crate::layout::{Skip, accept, classify, marks, values};
use crate::table::Registration;
use crate::table::Table;
use std::collections::hash_map::Entry;

/// A fast non-cryptographic hasher: the keys hashed here are object keys of one event,
/// hashed thousands of times per invocation, and never attacker-chosen in bulk.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Something that names an object: an event's object, or a listed key.
pub trait Object {
    fn bucket(&self) -> &str;
    fn key(&self) -> &str;
}

impl Object for ObjectEvent<'_> {
    fn bucket(&self) -> &str {
        self.bucket
    }
    fn key(&self) -> &str {
        self.key
    }
}

impl Object for (&str, &str) {
    fn bucket(&self) -> &str {
        self.0
    }
    fn key(&self) -> &str {
        self.1
    }
}

impl<O: Object + ?Sized> Object for &O {
    fn bucket(&self) -> &str {
        (**self).bucket()
    }
    fn key(&self) -> &str {
        (**self).key()
    }
}

/// The served tables, indexed for matching keys. `T` is anything that holds a [`Table`]
/// (the I/O side keeps each table with its storage descriptor).
pub struct TableIndex<'t, T> {
    pub tables: &'t [T],
    /// Per bucket, table indices by descending location length: the longest location wins.
    by_bucket: HashMap<&'t str, Vec<usize>>,
}

impl<'t, T: AsRef<Table>> TableIndex<'t, T> {
    pub fn new(tables: &'t [T]) -> Self {
        let mut by_bucket: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, t) in tables.iter().enumerate() {
            by_bucket
                .entry(t.as_ref().location.bucket.as_str())
                .or_default()
                .push(i);
        }
        for list in by_bucket.values_mut() {
            list.sort_by_key(|i| std::cmp::Reverse(tables[*i].as_ref().location.prefix.len()));
        }
        Self { tables, by_bucket }
    }

    /// The table whose location holds `key`: same bucket, key under the location's prefix,
    /// which ends in `/`, so a match is always at a path-segment boundary.
    pub fn table_for(&self, bucket: &str, key: &str) -> Option<usize> {
        self.by_bucket
            .get(bucket)?
            .iter()
            .copied()
            .find(|i| key.starts_with(&self.tables[*i].as_ref().location.prefix))
    }
}

/// A partition some objects need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPartition<'o, O> {
    /// Index into the [`TableIndex`]'s tables.
    pub table: usize,
    pub values: Vec<String>,
    pub location: String,
    /// The objects that live in this partition.
    pub objects: Vec<&'o O>,
    /// Its completion markers (the table reads markers): they register it in `marker` mode,
    /// and complete it in either mode.
    pub markers: Vec<&'o O>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'o, O> {
    pub partitions: Vec<PlannedPartition<'o, O>>,
    pub skipped: Vec<(&'o O, Skip)>,
}

/// Plan objects against the tables. Each object ends in exactly one partition's `objects`
/// or in `skipped`. Values are read and validated once per directory.
pub fn plan<'o, O: Object, T: AsRef<Table>>(
    index: &TableIndex<'_, T>,
    objects: &'o [O],
) -> Plan<'o, O> {
    let mut plan = Plan {
        partitions: Vec::new(),
        skipped: Vec::new(),
    };
    // (table, partition directory) → partition index, or why the directory is rejected.
    let mut by_dir: HashMap<(usize, &'o str), Result<usize, Skip>> = HashMap::default();
    // Distinct directories can hold the same values (`a%20b` and `a b`); Glue knows one.
    let mut by_values: HashMap<(usize, Vec<String>), usize> = HashMap::default();
    for object in objects {
        let key = object.key();
        let Some(t) = index.table_for(object.bucket(), key) else {
            plan.skipped.push((object, Skip::OutsideTables));
            continue;
        };
        let table = index.tables[t].as_ref();
        let dir = match classify(table, key) {
            Ok(end) => &key[..end],
            Err(rejected) => {
                plan.skipped.push((object, rejected.skip));
                continue;
            }
        };
        let marker = marks(table, key);
        if !marker && table.completion.registration == Registration::Marker {
            plan.skipped.push((
                object,
                Skip::AwaitingMarker {
                    marker: table.completion.marker.clone(),
                },
            ));
            continue;
        }
        let slot = match by_dir.entry((t, dir)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let read = values(table, dir);
                let location = table.location.uri_of(dir);
                let resolved = accept(table, &read, &location).map(|()| {
                    let values: Vec<String> = read.iter().map(|v| v.to_string()).collect();
                    *by_values.entry((t, values.clone())).or_insert_with(|| {
                        plan.partitions.push(PlannedPartition {
                            table: t,
                            values,
                            location,
                            objects: Vec::new(),
                            markers: Vec::new(),
                        });
                        plan.partitions.len() - 1
                    })
                });
                e.insert(resolved)
            }
        };
        match slot {
            Ok(p) if marker => plan.partitions[*p].markers.push(object),
            Ok(p) => plan.partitions[*p].objects.push(object),
            Err(skip) => plan.skipped.push((object, skip.clone())),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::TableName;
    use crate::report::Reason;

    fn table(name: &str, location: &str, keys: &[(&str, &str)]) -> Table {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        Table::new(TableName::parse(name).unwrap(), Some(location), &keys, None).unwrap()
    }

    #[test]
    fn location_matches_only_at_a_segment_boundary() {
        let tables = [table("d.events", "s3://b/events", &[("dt", "string")])];
        let index = TableIndex::new(&tables);
        assert_eq!(index.table_for("b", "events/dt=1/f"), Some(0));
        assert_eq!(index.table_for("b", "events_archive/dt=1/f"), None);
        assert_eq!(index.table_for("other", "events/dt=1/f"), None);
    }

    #[test]
    fn longest_location_wins() {
        let tables = [
            table("d.all", "s3://b/data/", &[("x", "string")]),
            table("d.clicks", "s3://b/data/clicks/", &[("dt", "string")]),
        ];
        let index = TableIndex::new(&tables);
        assert_eq!(index.table_for("b", "data/clicks/dt=1/f"), Some(1));
    }

    #[test]
    fn objects_in_one_partition_share_it() {
        let tables = [table("d.t", "s3://b/t/", &[("dt", "date")])];
        let index = TableIndex::new(&tables);
        let objects = [
            ("b", "t/dt=2026-11-25/a"),
            ("b", "t/dt=2026-11-25/b"),
            ("b", "t/dt=2026-11-26/a"),
        ];
        let p = plan(&index, &objects);
        assert_eq!(p.partitions.len(), 2);
        assert_eq!(p.partitions[0].objects, [&objects[0], &objects[1]]);
        assert_eq!(p.partitions[0].location, "s3://b/t/dt=2026-11-25/");
    }

    fn on_completion(t: Table) -> Table {
        t.with_completion(crate::table::Completion {
            registration: Registration::Marker,
            ..Default::default()
        })
    }

    #[test]
    fn a_table_registered_on_completion_waits_for_the_marker() {
        let tables = [on_completion(table(
            "d.t",
            "s3://b/t/",
            &[("dt", "string")],
        ))];
        let index = TableIndex::new(&tables);
        let objects = [
            ("b", "t/dt=1/part-0.parquet"),
            ("b", "t/dt=1/_SUCCESS"),
            ("b", "t/dt=2/part-0.parquet"),
        ];
        let p = plan(&index, &objects);
        assert_eq!(p.partitions.len(), 1);
        assert_eq!(p.partitions[0].values, ["1"]);
        assert_eq!(p.partitions[0].markers, [&objects[1]]);
        assert!(p.partitions[0].objects.is_empty());
        let kinds: Vec<&str> = p.skipped.iter().map(|(_, s)| s.kind()).collect();
        assert_eq!(kinds, ["awaiting_marker", "awaiting_marker"]);
    }

    #[test]
    fn a_marker_outside_a_partition_directory_or_under_a_hidden_one_is_skipped_with_a_reason() {
        let tables = [on_completion(table(
            "d.t",
            "s3://b/t/",
            &[("dt", "string")],
        ))];
        let index = TableIndex::new(&tables);
        let objects = [
            ("b", "t/_SUCCESS"),
            ("b", "t/dt=1/sub/_SUCCESS"),
            ("b", "t/dt=1/_temporary/0/_SUCCESS"),
        ];
        let p = plan(&index, &objects);
        assert!(p.partitions.is_empty());
        let kinds: Vec<&str> = p.skipped.iter().map(|(_, s)| s.kind()).collect();
        assert_eq!(
            kinds,
            [
                "marker_not_partition",
                "marker_not_partition",
                "hidden_segment"
            ]
        );
    }

    #[test]
    fn announcing_tables_read_markers_in_first_object_mode_too() {
        let t = table("d.t", "s3://b/t/", &[("dt", "string")]).with_completion(
            crate::table::Completion {
                announce: true,
                ..Default::default()
            },
        );
        let tables = [t];
        let index = TableIndex::new(&tables);
        let objects = [("b", "t/dt=1/part-0"), ("b", "t/dt=1/_SUCCESS")];
        let p = plan(&index, &objects);
        assert_eq!(p.partitions[0].objects, [&objects[0]]);
        assert_eq!(p.partitions[0].markers, [&objects[1]]);
        // Without a bus, `_SUCCESS` stays what it was: a hidden file.
        let plain = [table("d.t", "s3://b/t/", &[("dt", "string")])];
        let p = plan(&TableIndex::new(&plain), &objects);
        assert_eq!(p.skipped[0].1.kind(), "hidden_segment");
    }

    #[test]
    fn equal_values_in_different_spellings_are_one_partition() {
        let tables = [table("d.t", "s3://b/t/", &[("c", "string")])];
        let index = TableIndex::new(&tables);
        let objects = [("b", "t/c=a%3Ab/f"), ("b", "t/c=a:b/f")];
        let p = plan(&index, &objects);
        assert_eq!(p.partitions.len(), 1);
        assert_eq!(p.partitions[0].objects, [&objects[0], &objects[1]]);
    }

    #[test]
    fn wrong_typed_value_skips_every_object_in_it() {
        let tables = [table("d.t", "s3://b/t/", &[("year", "int")])];
        let index = TableIndex::new(&tables);
        let p = plan(&index, &[("b", "t/year=20x6/a"), ("b", "t/year=20x6/b")]);
        assert!(p.partitions.is_empty());
        assert_eq!(p.skipped.len(), 2);
        assert_eq!(p.skipped[1].1.kind(), "invalid_value");
    }

    #[test]
    fn every_object_ends_in_exactly_one_place() {
        let tables = [table("d.t", "s3://b/t/", &[("dt", "string")])];
        let index = TableIndex::new(&tables);
        let p = plan(
            &index,
            &[
                ("b", "t/dt=1/a"),
                ("b", "elsewhere"),
                ("b", "t/_SUCCESS"),
                ("b", "t/dt=1/b"),
            ],
        );
        let placed: usize = p.partitions.iter().map(|p| p.objects.len()).sum();
        assert_eq!(placed + p.skipped.len(), 4);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn tables() -> Vec<Table> {
            vec![
                table(
                    "d.hive",
                    "s3://b/t/",
                    &[("year", "int"), ("dt", "date"), ("s", "varchar(3)")],
                ),
                table("d.root", "s3://b", &[("x", "string")]),
                Table::new(
                    TableName::parse("d.tpl").unwrap(),
                    Some("s3://b/logs/"),
                    &[
                        ("year".into(), "int".into()),
                        ("month".into(), "int".into()),
                    ],
                    Some("s3://b/logs/${year}-x/${month}"),
                )
                .unwrap(),
            ]
        }

        /// Keys assembled from the pieces that matter (separators, `=`, escapes, hidden
        /// markers, multi-byte text) reach the deep branches that random text rarely does.
        fn key() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                Just("t".to_owned()),
                Just("logs".to_owned()),
                Just("year=2026".to_owned()),
                Just("dt=2026-02-30".to_owned()),
                Just("s=서울서울".to_owned()),
                Just("_SUCCESS".to_owned()),
                Just(".x".to_owned()),
                Just("%FF%3D".to_owned()),
                Just("_$folder$".to_owned()),
                Just(String::new()),
                ".{0,12}",
            ];
            prop::collection::vec(part, 0..7).prop_map(|p| p.join("/"))
        }

        proptest! {
            #[test]
            fn planning_arbitrary_keys_never_panics_and_places_every_key_once(
                keys in prop::collection::vec(prop_oneof![key(), ".{0,60}"], 0..40)
            ) {
                let tables = tables();
                let index = TableIndex::new(&tables);
                let objects: Vec<(&str, &str)> = keys.iter().map(|k| ("b", k.as_str())).collect();
                let p = plan(&index, &objects);
                let placed: usize = p.partitions.iter().map(|p| p.objects.len()).sum();
                prop_assert_eq!(placed + p.skipped.len(), keys.len());
            }
        }
    }
}
