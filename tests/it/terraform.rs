//! The bundled Terraform is wired to the code: what the code reads is set, what it calls is
//! allowed (and nothing more), the package is what `make package` writes, and the module's
//! README lists exactly its inputs and outputs.

use hcl::{Block, Body, Expression, ObjectKey};
use std::collections::{BTreeMap, BTreeSet};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_dir(dir: &str) -> Body {
    let mut text = String::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    paths.sort();
    for path in paths {
        text.push_str(&std::fs::read_to_string(&path).unwrap());
        text.push('\n');
    }
    hcl::parse(&text).unwrap_or_else(|e| panic!("{dir}/*.tf parse as HCL: {e}"))
}

fn terraform() -> Body {
    parse_dir("terraform")
}

fn block<'a>(body: &'a Body, kind: &str, labels: &[&str]) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels()
                    .iter()
                    .map(|l| l.as_str())
                    .eq(labels.iter().copied())
        })
        .unwrap_or_else(|| panic!("no {kind} {labels:?} in terraform/"))
}

fn attr<'a>(body: &'a Body, name: &str) -> &'a Expression {
    body.attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

/// A `locals` value, wherever it is defined.
fn local<'a>(tf: &'a Body, name: &str) -> &'a Expression {
    tf.blocks()
        .filter(|b| b.identifier() == "locals")
        .find_map(|b| b.body().attributes().find(|a| a.key() == name))
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("no local.{name}"))
}

fn keys(object: &Expression) -> BTreeSet<String> {
    let Expression::Object(vars) = object else {
        panic!("not an object: {object:?}")
    };
    vars.keys()
        .map(|k| match k {
            ObjectKey::Identifier(i) => i.to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.clone(),
            other => panic!("unexpected key {other:?}"),
        })
        .collect()
}

#[test]
fn every_environment_variable_the_code_reads_is_set_and_no_other() {
    let tf = terraform();
    for function in ["this", "repair"] {
        let env = block(
            block(&tf, "resource", &["aws_lambda_function", function]).body(),
            "environment",
            &[],
        );
        let variables = hcl::format::to_string(attr(env.body(), "variables")).unwrap();
        assert!(
            variables.contains("local.environment"),
            "{function}: {variables}"
        );
    }
    // The repair function alone keeps checkpoints: its environment adds where.
    let repair = block(
        block(&tf, "resource", &["aws_lambda_function", "repair"]).body(),
        "environment",
        &[],
    );
    let repair = hcl::format::to_string(attr(repair.body(), "variables")).unwrap();
    assert!(
        repair.contains("CHECKPOINT_URI = local.checkpoint_uri"),
        "{repair}"
    );
    let mut set = keys(local(&tf, "environment"));
    set.insert("CHECKPOINT_URI".to_owned());
    let read: BTreeSet<String> = glue_partition_registrar::config::ENV_VARS
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(set, read);
}

/// The API operations a source file calls on its client (`client.get_table()` and the like).
fn operations(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("src").join(file)).unwrap();
    let call = regex_lite::Regex::new(r"client\s*\.\s*([a-z0-9_]+)\(\)").unwrap();
    call.captures_iter(&text)
        .map(|c| {
            c[1].split('_')
                .map(|w| {
                    let mut cs = w.chars();
                    cs.next().map_or(String::new(), |f| {
                        f.to_ascii_uppercase().to_string() + cs.as_str()
                    })
                })
                .collect::<String>()
        })
        .collect()
}

/// IAM names of the S3 operations the code uses.
fn s3_action(operation: &str) -> String {
    match operation {
        "ListObjectsV2" | "ListObjects" => "s3:ListBucket".to_owned(),
        "HeadObject" | "GetObject" => "s3:GetObject".to_owned(),
        other => format!("s3:{other}"),
    }
}

fn actions_in(text: &str) -> BTreeSet<String> {
    // Actions are PascalCase (`s3:GetObject`); condition keys (`s3:prefix`) are not.
    regex_lite::Regex::new(r"(glue|s3):[A-Z][A-Za-z0-9]+")
        .unwrap()
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Every Glue and S3 action the two roles can grant, whatever the configuration: their
/// policies grant `local.event_glue_actions` and `local.repair_glue_actions` and, in
/// statements switched by the configuration, S3 actions. Which configuration grants which is
/// checked on real plans by tests/deploy/run.py.
#[test]
fn iam_policies_can_allow_exactly_the_glue_and_s3_calls_the_code_makes() {
    let tf = terraform();
    let mut text = String::new();
    for doc in ["function", "repair"] {
        text.push_str(
            &hcl::format::to_string(block(&tf, "data", &["aws_iam_policy_document", doc]).body())
                .unwrap(),
        );
    }
    for name in ["event_glue_actions", "repair_glue_actions"] {
        text.push_str(&hcl::format::to_string(local(&tf, name)).unwrap());
    }
    let allowed = actions_in(&text);
    let called: BTreeSet<String> = operations("catalog.rs")
        .iter()
        .map(|op| format!("glue:{op}"))
        .chain(operations("storage.rs").iter().map(|op| s3_action(op)))
        .chain(operations("checkpoint.rs").iter().map(|op| s3_action(op)))
        .collect();
    assert!(called.contains("glue:BatchCreatePartition"), "{called:?}");
    assert_eq!(allowed, called);
}

#[test]
fn the_glue_grant_names_the_served_tables_and_their_databases_only() {
    let tf = terraform();
    let resources = hcl::format::to_string(local(&tf, "glue_resources")).unwrap();
    assert!(
        resources.contains(":table/${t.database}/${t.name}"),
        "{resources}"
    );
    // The only wildcard is for the databases served whole, whose tables nobody names.
    assert_eq!(resources.matches('*').count(), 1, "{resources}");
    assert!(
        resources.contains("for d in var.extra_databases : \"${local.glue_arn}:table/${d}/*\"")
    );
}

#[test]
fn the_package_is_an_input_with_no_default_outside_the_module() {
    let tf = terraform();
    let zip = block(&tf, "variable", &["lambda_zip"]).body();
    assert_eq!(
        hcl::format::to_string(attr(zip, "default")).unwrap(),
        "null"
    );
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    assert!(
        makefile
            .lines()
            .any(|l| l.trim() == "ZIP := dist/bootstrap.zip"),
        "Makefile names another package path"
    );
    // The examples point at what `make package` writes, from where they are.
    for example in ["minimal", "complete"] {
        let text =
            std::fs::read_to_string(root().join("examples").join(example).join("main.tf")).unwrap();
        assert!(
            text.contains("lambda_zip = \"${path.module}/../../dist/bootstrap.zip\""),
            "{example}"
        );
        assert!(
            text.contains("source = \"../../terraform\""),
            "{example} calls the module by source"
        );
    }
    for function in ["this", "repair"] {
        let f = block(&tf, "resource", &["aws_lambda_function", function]).body();
        assert_eq!(
            hcl::format::to_string(attr(f, "handler")).unwrap(),
            "\"bootstrap\""
        );
        assert_eq!(
            hcl::format::to_string(attr(f, "runtime")).unwrap(),
            "\"provided.al2023\""
        );
        assert_eq!(hcl::format::to_string(attr(f, "publish")).unwrap(), "true");
    }
}

/// The rows of a Markdown table under `heading` in the module's README: first column (a
/// name in backquotes) → the row.
fn readme_table(readme: &str, heading: &str) -> BTreeMap<String, String> {
    let section = readme
        .split(&format!("## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("terraform/README.md has no `## {heading}`"));
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let name = l.split('`').nth(1).unwrap().to_owned();
            (name, l.to_owned())
        })
        .collect()
}

fn described(body: &Body) -> String {
    match body.attributes().find(|a| a.key() == "description") {
        Some(a) => match a.expr() {
            Expression::String(s) => s.clone(),
            other => hcl::format::to_string(other).unwrap(),
        },
        None => String::new(),
    }
}

#[test]
fn the_module_readme_lists_exactly_its_inputs_with_their_defaults() {
    let tf = terraform();
    let readme = std::fs::read_to_string(root().join("terraform/README.md")).unwrap();
    let rows = readme_table(&readme, "Inputs");
    let variables: BTreeMap<String, &Body> = tf
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .map(|b| (b.labels()[0].as_str().to_owned(), b.body()))
        .collect();
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        variables.keys().collect::<Vec<_>>(),
        "the README's inputs are not variables.tf's"
    );
    for (name, body) in &variables {
        let row = &rows[name];
        let required = body.attributes().all(|a| a.key() != "default");
        let default = body
            .attributes()
            .find(|a| a.key() == "default")
            .map(|a| hcl::format::to_string(a.expr()).unwrap().replace('\n', " "));
        match default {
            None => assert!(required && row.contains("required"), "{name}: {row}"),
            Some(d) => {
                let compact: String = d.split_whitespace().collect::<Vec<_>>().join(" ");
                let shown = if compact.len() > 40 {
                    "see variables.tf".to_owned()
                } else {
                    format!("`{compact}`")
                };
                assert!(
                    row.contains(&shown),
                    "{name}: the README says {row}, the default is {compact}"
                );
            }
        }
        let description = described(body);
        let first = description.split(". ").next().unwrap_or_default();
        assert!(
            row.contains(first.trim_end_matches('.')),
            "{name}: the README's description is not variables.tf's: {row}"
        );
    }
}

#[test]
fn the_module_readme_lists_exactly_its_outputs() {
    let tf = terraform();
    let readme = std::fs::read_to_string(root().join("terraform/README.md")).unwrap();
    let rows = readme_table(&readme, "Outputs");
    let outputs: BTreeMap<String, &Body> = tf
        .blocks()
        .filter(|b| b.identifier() == "output")
        .map(|b| (b.labels()[0].as_str().to_owned(), b.body()))
        .collect();
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        outputs.keys().collect::<Vec<_>>(),
        "the README's outputs are not outputs.tf's"
    );
    for (name, body) in &outputs {
        let first = described(body);
        let first = first.split(". ").next().unwrap_or_default();
        assert!(
            rows[name].contains(first.trim_end_matches('.')),
            "{name}: {}",
            rows[name]
        );
    }
}

#[test]
fn the_examples_parse_and_call_the_module_as_callers_do() {
    for example in ["minimal", "complete"] {
        let body = parse_dir(&format!("examples/{example}"));
        let module = body
            .blocks()
            .find(|b| b.identifier() == "module")
            .unwrap_or_else(|| panic!("{example} calls no module"));
        assert_eq!(
            hcl::format::to_string(attr(module.body(), "source")).unwrap(),
            "\"../../terraform\""
        );
    }
}
