################################################################################
# The roles' grants that grow with the tables, as customer-managed policies within IAM's
# limits at any number of tables
################################################################################

# IAM's quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
# a managed policy holds at most 6,144 characters and a role's inline policies 10,240 in
# all, whitespace not counted; a role takes 10 managed policies (20 on request). Each role's
# statements whose resources grow with the tables (the tables, their databases, buckets and
# prefixes) are cut into managed policies of at most 6,144 characters, one statement each;
# what does not grow (logs, queues, keys) stays in the role's inline policy.
locals {
  managed_policy_chars = 6144

  scoped_statements = {
    function = local.function_statements
    repair   = local.repair_statements
    crawler  = local.crawler_statements
  }

  # n resources of at most m characters (JSON-quoted) add at most n * (m + 1) - 1 to the
  # statement around them.
  scoped_policies = merge(flatten([
    for role, statements in local.scoped_statements : [
      for s in statements : {
        for i, chunk in chunklist(sort(distinct(s.resources)), max(1, floor(
          (local.managed_policy_chars - length(jsonencode({
            Version   = "2012-10-17"
            Statement = [{ Sid = s.sid, Effect = "Allow", Action = s.actions, Resource = [] }]
          })))
          / (max([for r in s.resources : length(jsonencode(r))]...) + 1)
          ))) : "${role}-${lower(s.sid)}-${i + 1}" => {
          role = role
          policy = jsonencode({
            Version   = "2012-10-17"
            Statement = [{ Sid = s.sid, Effect = "Allow", Action = s.actions, Resource = chunk }]
          })
        }
      } if length(s.resources) > 0
    ]
  ])...)

  policies_per_role = { for role, _ in local.scoped_statements : role => length([for k, p in local.scoped_policies : k if p.role == role]) }
  scoped_roles = {
    function = aws_iam_role.function.name
    repair   = aws_iam_role.repair.name
    crawler  = try(aws_iam_role.crawler[0].name, null)
  }
}

resource "aws_iam_policy" "scoped" {
  for_each = local.scoped_policies

  name        = "${var.name}-${each.key}"
  description = "${var.name}: part of the ${each.value.role} role's grants on the served tables (one of ${local.policies_per_role[each.value.role]})."
  policy      = each.value.policy
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = local.policies_per_role[each.value.role] <= var.managed_policies_per_role
      error_message = "The ${each.value.role} role's grants on these tables need ${local.policies_per_role[each.value.role]} managed policies of IAM's 6,144 characters, more than managed_policies_per_role = ${var.managed_policies_per_role} (IAM's quota of managed policies per role: 10, or up to 20 on request). Set iam_scope = \"database\" (every table of the served databases: policies sized by databases, not tables), serve the tables from more than one deployment, or raise the quota and managed_policies_per_role."
    }
    precondition {
      condition     = length(each.value.policy) <= local.managed_policy_chars
      error_message = "A resource of the ${each.value.role} role's grants is too long for one managed policy (6,144 characters)."
    }
  }
}

resource "aws_iam_role_policy_attachment" "scoped" {
  for_each = local.scoped_policies

  role       = local.scoped_roles[each.value.role]
  policy_arn = aws_iam_policy.scoped[each.key].arn
}
