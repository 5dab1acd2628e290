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
/// inline policies, and the statements cut into managed policies (`local.function_statements`
/// and `local.repair_statements`: `local.event_glue_actions`, `local.repair_glue_actions` and,
/// switched by the configuration, S3 actions). Which configuration grants which is checked on
/// real plans by tests/deploy/run.py.
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
    for name in [
        "event_glue_actions",
        "repair_glue_actions",
        "function_statements",
        "repair_statements",
    ] {
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
        resources.contains(
            "var.iam_scope == \"table\" ? [for _, t in local.tables : \"${local.glue_arn}:table/${t.database}/${t.name}\"]"
        ),
        "{resources}"
    );
    // The only wildcard is for the databases served whole: those of extra_databases, whose
    // tables nobody names, and with iam_scope = "database" those of the served tables.
    assert_eq!(resources.matches('*').count(), 1, "{resources}");
    assert!(
        resources.contains("for d in local.databases_whole : \"${local.glue_arn}:table/${d}/*\""),
        "{resources}"
    );
    let whole = hcl::format::to_string(local(&tf, "databases_whole")).unwrap();
    let whole: String = whole.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        whole,
        "distinct(concat(var.iam_scope == \"database\" ? [for t in local.tables : t.database] : [], var.extra_databases))"
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

// --- The AWS provider 5 and 6 ---------------------------------------------------------------

/// What the AWS provider's 6.0 upgrade guide removes, renames or deprecates, by section
/// (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/version-6-upgrade,
/// "Terraform AWS Provider Version 6 Upgrade Guide"): (block kind, type, attribute path, what
/// the guide says). An empty path is the whole type. The module allows `>= 5.26, < 7.0`, so it
/// may use none of these: what 6.x removes fails there, what it deprecates warns there, and
/// what replaces them does not exist in 5.x.
#[rustfmt::skip]
const UPGRADE_GUIDE: &[(&str, &str, &str, Guide)] = &[
    // "Removed Provider Arguments"; "S3 Global Endpoint Deprecation".
    ("provider", "aws", "endpoints.opsworks", Guide::Gone),
    ("provider", "aws", "endpoints.simpledb", Guide::Gone),
    ("provider", "aws", "endpoints.sdb", Guide::Gone),
    ("provider", "aws", "endpoints.worklink", Guide::Gone),
    ("provider", "aws", "s3_us_east_1_regional_endpoint", Guide::Gone),
    // "Amazon Elastic Transcoder Deprecation", "CloudWatch Evidently Deprecation", "OpsWorks
    // Stacks Removal", "SimpleDB Support Removed", "Worklink Support Removed", and the
    // resources the guide removes or deprecates whole.
    ("resource", "aws_elastictranscoder_pipeline", "", Guide::Gone),
    ("resource", "aws_elastictranscoder_preset", "", Guide::Gone),
    ("resource", "aws_evidently_feature", "", Guide::Gone),
    ("resource", "aws_evidently_launch", "", Guide::Gone),
    ("resource", "aws_evidently_project", "", Guide::Gone),
    ("resource", "aws_evidently_segment", "", Guide::Gone),
    ("resource", "aws_opsworks_application", "", Guide::Gone),
    ("resource", "aws_opsworks_custom_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_ecs_cluster_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_ganglia_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_haproxy_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_instance", "", Guide::Gone),
    ("resource", "aws_opsworks_java_app_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_memcached_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_mysql_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_nodejs_app_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_permission", "", Guide::Gone),
    ("resource", "aws_opsworks_php_app_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_rails_app_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_rds_db_instance", "", Guide::Gone),
    ("resource", "aws_opsworks_stack", "", Guide::Gone),
    ("resource", "aws_opsworks_static_web_layer", "", Guide::Gone),
    ("resource", "aws_opsworks_user_profile", "", Guide::Gone),
    ("resource", "aws_simpledb_domain", "", Guide::Gone),
    ("resource", "aws_worklink_fleet", "", Guide::Gone),
    ("resource", "aws_worklink_website_certificate_authority_association", "", Guide::Gone),
    ("resource", "aws_kinesis_analytics_application", "", Guide::Gone),
    ("resource", "aws_media_store_container", "", Guide::Gone),
    ("resource", "aws_media_store_container_policy", "", Guide::Gone),
    ("resource", "aws_redshift_service_account", "", Guide::Gone),
    ("data", "aws_kms_secret", "", Guide::Gone),
    // "Nullable Boolean Validation Update": these take only "", true or false.
    ("resource", "aws_accessanalyzer_archive_rule", "filter.exists", Guide::Boolean),
    ("resource", "aws_alb_target_group", "preserve_client_ip", Guide::Boolean),
    ("resource", "aws_lb_target_group", "preserve_client_ip", Guide::Boolean),
    ("resource", "aws_cloudtrail_event_data_store", "suspend", Guide::Boolean),
    ("resource", "aws_ec2_spot_instance_fleet", "terminate_instances_on_delete", Guide::Boolean),
    ("resource", "aws_elasticache_cluster", "auto_minor_version_upgrade", Guide::Boolean),
    ("resource", "aws_elasticache_replication_group", "at_rest_encryption_enabled", Guide::Boolean),
    ("resource", "aws_elasticache_replication_group", "auto_minor_version_upgrade", Guide::Boolean),
    ("resource", "aws_evidently_feature", "variations.value.bool_value", Guide::Boolean),
    ("resource", "aws_imagebuilder_container_recipe", "instance_configuration.block_device_mapping.ebs.delete_on_termination", Guide::Boolean),
    ("resource", "aws_imagebuilder_container_recipe", "instance_configuration.block_device_mapping.ebs.encrypted", Guide::Boolean),
    ("resource", "aws_imagebuilder_image_recipe", "block_device_mapping.ebs.delete_on_termination", Guide::Boolean),
    ("resource", "aws_imagebuilder_image_recipe", "block_device_mapping.ebs.encrypted", Guide::Boolean),
    ("resource", "aws_launch_template", "block_device_mappings.ebs.delete_on_termination", Guide::Boolean),
    ("resource", "aws_launch_template", "block_device_mappings.ebs.encrypted", Guide::Boolean),
    ("resource", "aws_launch_template", "ebs_optimized", Guide::Boolean),
    ("resource", "aws_launch_template", "network_interfaces.associate_carrier_ip_address", Guide::Boolean),
    ("resource", "aws_launch_template", "network_interfaces.associate_public_ip_address", Guide::Boolean),
    ("resource", "aws_launch_template", "network_interfaces.delete_on_termination", Guide::Boolean),
    ("resource", "aws_launch_template", "network_interfaces.primary_ipv6", Guide::Boolean),
    ("resource", "aws_mq_broker", "logs.audit", Guide::Boolean),
    // Data sources.
    ("data", "aws_ami", "most_recent", Guide::Review),
    ("data", "aws_batch_compute_environment", "compute_environment_name", Guide::Gone),
    ("data", "aws_ecs_task_definition", "inference_accelerator", Guide::Gone),
    ("data", "aws_ecs_task_execution", "inference_accelerator_overrides", Guide::Gone),
    ("data", "aws_elbv2_listener_rule", "action.authenticate_cognito", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "action.authenticate_oidc", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "action.fixed_response", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "action.forward", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "action.redirect", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.host_header", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.http_header", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.http_request_method", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.path_pattern", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.query_string", Guide::Nested),
    ("data", "aws_elbv2_listener_rule", "condition.source_ip", Guide::Nested),
    ("data", "aws_globalaccelerator_accelerator", "id", Guide::Computed),
    ("data", "aws_identitystore_group", "filter", Guide::Gone),
    ("data", "aws_identitystore_user", "filter", Guide::Gone),
    ("data", "aws_launch_template", "elastic_gpu_specifications", Guide::Gone),
    ("data", "aws_launch_template", "elastic_inference_accelerator", Guide::Gone),
    ("data", "aws_opensearch_domain", "kibana_endpoint", Guide::Gone),
    ("data", "aws_opensearchserverless_security_config", "saml_options", Guide::Nested),
    ("data", "aws_quicksight_data_set", "tags_all", Guide::Gone),
    ("data", "aws_region", "name", Guide::Gone),
    ("data", "aws_s3_bucket", "region", Guide::Gone),
    ("data", "aws_service_discovery_service", "tags_all", Guide::Gone),
    ("data", "aws_servicequotas_templates", "region", Guide::Gone),
    ("data", "aws_ssmincidents_replication_set", "region", Guide::Gone),
    ("data", "aws_vpc_endpoint_service", "region", Guide::Gone),
    ("data", "aws_vpc_peering_connection", "region", Guide::Gone),
    // Resources.
    ("resource", "aws_api_gateway_account", "reset_on_delete", Guide::Gone),
    ("resource", "aws_api_gateway_deployment", "stage_name", Guide::Gone),
    ("resource", "aws_api_gateway_deployment", "stage_description", Guide::Gone),
    ("resource", "aws_api_gateway_deployment", "canary_settings", Guide::Gone),
    ("resource", "aws_api_gateway_deployment", "invoke_url", Guide::Gone),
    ("resource", "aws_api_gateway_deployment", "execution_arn", Guide::Gone),
    ("resource", "aws_batch_compute_environment", "compute_environment_name", Guide::Gone),
    ("resource", "aws_batch_compute_environment", "compute_environment_name_prefix", Guide::Gone),
    ("resource", "aws_batch_job_queue", "compute_environments", Guide::Gone),
    ("resource", "aws_bedrock_model_invocation_logging_configuration", "logging_config", Guide::Nested),
    ("resource", "aws_cloudformation_stack_set_instance", "region", Guide::Gone),
    ("resource", "aws_cloudfront_response_headers_policy", "etag", Guide::Computed),
    ("resource", "aws_config_aggregate_authorization", "region", Guide::Gone),
    ("resource", "aws_dms_endpoint", "s3_settings", Guide::Gone),
    ("resource", "aws_dx_gateway_association", "vpn_gateway_id", Guide::Gone),
    ("resource", "aws_dx_hosted_connection", "region", Guide::Gone),
    ("resource", "aws_ecs_task_definition", "inference_accelerator", Guide::Gone),
    ("resource", "aws_eip", "vpc", Guide::Gone),
    ("resource", "aws_eks_addon", "resolve_conflicts", Guide::Gone),
    ("resource", "aws_flow_log", "log_group_name", Guide::Gone),
    ("resource", "aws_guardduty_detector", "datasources", Guide::Gone),
    ("resource", "aws_guardduty_organization_configuration", "auto_enable", Guide::Gone),
    ("resource", "aws_guardduty_organization_configuration", "datasources", Guide::Gone),
    ("resource", "aws_instance", "cpu_core_count", Guide::Gone),
    ("resource", "aws_instance", "cpu_threads_per_core", Guide::Gone),
    ("resource", "aws_launch_template", "elastic_gpu_specifications", Guide::Gone),
    ("resource", "aws_launch_template", "elastic_inference_accelerator", Guide::Gone),
    ("resource", "aws_networkmanager_core_network", "base_policy_region", Guide::Gone),
    ("resource", "aws_opensearch_domain", "kibana_endpoint", Guide::Gone),
    ("resource", "aws_opensearchserverless_security_config", "saml_options", Guide::Nested),
    ("resource", "aws_paymentcryptography_key", "key_attributes", Guide::Nested),
    ("resource", "aws_redshift_cluster", "snapshot_copy", Guide::Gone),
    ("resource", "aws_redshift_cluster", "logging", Guide::Gone),
    ("resource", "aws_redshift_cluster", "cluster_public_key", Guide::Computed),
    ("resource", "aws_redshift_cluster", "cluster_revision_number", Guide::Computed),
    ("resource", "aws_redshift_cluster", "endpoint", Guide::Computed),
    ("resource", "aws_rekognition_stream_processor", "regions_of_interest.bounding_box", Guide::Nested),
    ("resource", "aws_resiliencehub_resiliency_policy", "policy", Guide::Nested),
    ("resource", "aws_s3_bucket", "region", Guide::Gone),
    ("resource", "aws_sagemaker_notebook_instance", "accelerator_types", Guide::Gone),
    ("resource", "aws_servicequotas_template", "region", Guide::Gone),
    ("resource", "aws_spot_instance_request", "block_duration_minutes", Guide::Gone),
    ("resource", "aws_ssm_association", "instance_id", Guide::Gone),
    ("resource", "aws_ssmincidents_replication_set", "region", Guide::Gone),
    ("resource", "aws_verifiedpermissions_schema", "definition", Guide::Nested),
];

/// How the guide changes an attribute, and so what of it a configuration for 5 and 6 avoids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guide {
    /// Removed, renamed or deprecated (and its replacement absent from 5.x): neither set nor read.
    Gone,
    /// Now computed only: never set.
    Computed,
    /// Now a list of nested blocks: never read without an index (`a.b`, not `a[0].b`).
    Nested,
    /// Now only "", true or false: never set to a number.
    Boolean,
    /// Now an error where 5.x warned (aws_ami's most_recent without owner filters): not used.
    Review,
}

/// The block kinds, types and attributes of `body` the guide names, as `file: what` lines.
fn upgrade_findings(name: &str, body: &Body) -> Vec<String> {
    let mut found = Vec::new();
    for block in body.blocks() {
        let kind = block.identifier();
        let ty = match (kind, block.labels().first()) {
            ("resource" | "data" | "provider", Some(label)) => label.as_str(),
            _ => continue,
        };
        for (k, t, path, how) in UPGRADE_GUIDE {
            if *k == kind && *t == ty && path.is_empty() {
                found.push(format!("{name}: {kind} {ty} ({how:?} in 6.x)"));
            }
        }
        // Enhanced Region Support: `region` on a resource or data source is 6.x's only.
        if kind != "provider" && block.body().attributes().any(|a| a.key() == "region") {
            found.push(format!(
                "{name}: {kind} {ty} sets `region`, which 5.x does not have"
            ));
        }
        set_arguments(name, kind, ty, "", block.body(), &mut found);
    }
    // Attributes read, wherever an expression reads them.
    let text = hcl::format::to_string(body).unwrap();
    for (kind, ty, path, how) in UPGRADE_GUIDE {
        if path.is_empty() || matches!(how, Guide::Computed | Guide::Boolean) || *kind == "provider"
        {
            continue;
        }
        let prefix = if *kind == "data" {
            r"data\."
        } else {
            r"(?:^|[^.\w])"
        };
        let steps: Vec<String> = path.split('.').map(regex_lite::escape).collect();
        let tail = match how {
            Guide::Nested => format!(r"\.{}\.", steps.join(r"(?:\[[^\]]*\])?\.")),
            _ => format!(r"\.{}\b", steps.join(r"(?:\[[^\]]*\])?\.")),
        };
        let reference = format!(r"{prefix}{ty}\.[\w-]+(?:\[[^\]]*\])?{tail}");
        if let Some(m) = regex_lite::Regex::new(&reference).unwrap().find(&text) {
            found.push(format!(
                "{name}: reads `{}` ({how:?} in 6.x)",
                m.as_str().trim()
            ));
        }
    }
    found
}

/// Arguments set inside a block (and its nested blocks) that the guide names.
fn set_arguments(name: &str, kind: &str, ty: &str, at: &str, body: &Body, found: &mut Vec<String>) {
    let join = |key: &str| match at {
        "" => key.to_owned(),
        _ => format!("{at}.{key}"),
    };
    for attribute in body.attributes() {
        let path = join(attribute.key());
        for (k, t, p, how) in UPGRADE_GUIDE {
            if *k != kind || *t != ty || *p != path {
                continue;
            }
            let number = matches!(attribute.expr(), Expression::Number(_));
            if *how != Guide::Boolean || number {
                found.push(format!(
                    "{name}: {kind} {ty} sets `{path}` ({how:?} in 6.x)"
                ));
            }
        }
    }
    for nested in body.blocks() {
        let path = join(nested.identifier());
        for (k, t, p, how) in UPGRADE_GUIDE {
            if *k == kind && *t == ty && *p == path && *how != Guide::Nested {
                found.push(format!(
                    "{name}: {kind} {ty} has a `{path}` block ({how:?} in 6.x)"
                ));
            }
        }
        set_arguments(name, kind, ty, &path, nested.body(), found);
    }
}

/// Every Terraform root and module of the repository: the module, the examples callers copy,
/// and the deployment test's roots.
fn terraform_dirs() -> Vec<String> {
    let mut dirs = vec!["terraform".to_owned()];
    for parent in ["examples", "tests/deploy/roots"] {
        let mut found: Vec<String> = std::fs::read_dir(root().join(parent))
            .unwrap()
            .map(|e| e.unwrap().path())
            // Terraform roots only (examples/airflow is a DAG).
            .filter(|p| p.is_dir() && p.join("main.tf").exists())
            .map(|p| format!("{parent}/{}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        found.sort();
        dirs.extend(found);
    }
    dirs
}

#[test]
fn nothing_the_provider_6_upgrade_guide_removes_or_renames_is_set_or_read() {
    let mut found = Vec::new();
    for dir in terraform_dirs() {
        found.extend(upgrade_findings(&dir, &parse_dir(&dir)));
    }
    assert!(
        found.is_empty(),
        "valid on 5.x, broken or deprecated on 6.x:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_upgrade_guide_check_finds_what_it_looks_for() {
    let body = hcl::parse(
        r#"
        provider "aws" {
          endpoints {
            opsworks = "http://127.0.0.1:1"
          }
        }
        data "aws_region" "current" {}
        resource "aws_eip" "ip" {
          vpc = true
        }
        resource "aws_lb_target_group" "tg" {
          preserve_client_ip = 1
        }
        resource "aws_sqs_queue" "q" {
          region = "eu-west-1"
        }
        locals {
          region = data.aws_region.current.name
          bucket = aws_s3_bucket.lake[0].region
          fine   = data.aws_region.current.id
        }
        "#,
    )
    .unwrap();
    let found = upgrade_findings("snippet", &body);
    for expected in [
        "provider aws sets `endpoints.opsworks`",
        "resource aws_eip sets `vpc`",
        "resource aws_lb_target_group sets `preserve_client_ip`",
        "resource aws_sqs_queue sets `region`",
        "reads `data.aws_region.current.name`",
        "reads `aws_s3_bucket.lake[0].region`",
    ] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:#?}");
}

/// The module and every root that calls it allow the same provider versions: the 5.x it
/// needs and every 6.x.
#[test]
fn the_module_and_its_callers_allow_provider_5_and_6() {
    for dir in terraform_dirs() {
        let body = parse_dir(&dir);
        let constraint = body
            .blocks()
            .filter(|b| b.identifier() == "terraform")
            .flat_map(|b| b.body().blocks())
            .filter(|b| b.identifier() == "required_providers")
            .find_map(|b| b.body().attributes().find(|a| a.key() == "aws"))
            .map(|a| hcl::format::to_string(a.expr()).unwrap())
            .unwrap_or_else(|| panic!("{dir} requires no aws provider"));
        assert!(
            constraint.contains(r#"">= 5.26, < 7.0""#),
            "{dir} allows {constraint}"
        );
    }
}
