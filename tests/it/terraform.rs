//! The bundled Terraform is wired to the code: what the code reads is set, what it calls is
//! allowed (and nothing more), and the package path is the one `make package` writes.

use hcl::{Block, Body, Expression, ObjectKey};
use std::collections::BTreeSet;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn terraform() -> Body {
    let mut text = String::new();
    for entry in std::fs::read_dir(root().join("terraform")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
            text.push('\n');
        }
    }
    hcl::parse(&text).expect("terraform/*.tf parse as HCL")
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

fn lambda(body: &Body) -> &Body {
    block(body, "resource", &["aws_lambda_function", "this"]).body()
}

#[test]
fn every_environment_variable_the_code_reads_is_set_and_no_other() {
    let tf = terraform();
    let env = block(lambda(&tf), "environment", &[]).body();
    let Expression::Object(vars) = attr(env, "variables") else {
        panic!("environment.variables is not an object")
    };
    let set: BTreeSet<String> = vars
        .keys()
        .map(|k| match k {
            ObjectKey::Identifier(i) => i.to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.clone(),
            other => panic!("unexpected key {other:?}"),
        })
        .collect();
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

/// Every Glue and S3 action the module can grant, whatever the configuration: the policy
/// grants `local.glue_actions` and, in statements switched by the configuration, S3 actions.
/// Which configuration grants which is checked on real plans by tests/deploy/run.py.
#[test]
fn iam_policy_can_allow_exactly_the_glue_and_s3_calls_the_code_makes() {
    let tf = terraform();
    let action = regex_lite::Regex::new(r"(glue|s3):[A-Za-z0-9]+").unwrap();
    let mut text =
        hcl::format::to_string(block(&tf, "data", &["aws_iam_policy_document", "lambda"]).body())
            .unwrap();
    for locals in tf.blocks().filter(|b| b.identifier() == "locals") {
        if let Some(a) = locals
            .body()
            .attributes()
            .find(|a| a.key() == "glue_actions")
        {
            text.push_str(&hcl::format::to_string(a.expr()).unwrap());
        }
    }
    let allowed: BTreeSet<String> = action
        .find_iter(&text)
        .map(|m| m.as_str().to_owned())
        .collect();
    let called: BTreeSet<String> = operations("catalog.rs")
        .iter()
        .map(|op| format!("glue:{op}"))
        .chain(operations("storage.rs").iter().map(|op| s3_action(op)))
        .collect();
    assert!(called.contains("glue:BatchCreatePartition"), "{called:?}");
    assert_eq!(allowed, called);
}

#[test]
fn lambda_package_path_is_what_make_package_writes() {
    let tf = terraform();
    let locals: Vec<&Block> = tf.blocks().filter(|b| b.identifier() == "locals").collect();
    let zip = locals
        .iter()
        .find_map(|b| b.body().attributes().find(|a| a.key() == "lambda_zip"))
        .expect("local.lambda_zip");
    let expr = hcl::format::to_string(zip.expr()).unwrap();
    assert!(
        expr.contains("${path.module}/../dist/bootstrap.zip"),
        "{expr}"
    );
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    assert!(
        makefile
            .lines()
            .any(|l| l.trim() == "ZIP := dist/bootstrap.zip"),
        "Makefile names another package path"
    );
    let fun = lambda(&tf);
    assert_eq!(
        hcl::format::to_string(attr(fun, "handler")).unwrap(),
        "\"bootstrap\""
    );
    assert_eq!(
        hcl::format::to_string(attr(fun, "runtime")).unwrap(),
        "\"provided.al2023\""
    );
}
