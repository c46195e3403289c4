"""template.yaml as the single source of truth for local and test infrastructure.

Everything the local stack and the tests need to know about the deployment is read from the SAM template, one
module per concern (import a name from the module that defines it; this package re-exports nothing):

- `document`       `load_template` / `parse_template`: YAML with CloudFormation short tags (`!Ref`, `!Sub`,
                   `!GetAtt`, `!If`, ...) turned into their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`, ...);
                   the `Template` type and `TemplateError`.
- `intrinsics`     `resolve_parameters`, the intrinsic functions (`resolver_for`), `StackResources` (logical id →
                   physical id and attributes) and the default region and account.
- `aws_resources`  `create_aws_resources`: the template's DynamoDB tables, SNS topics (and subscriptions), SQS
                   queues (and policies) and EventBridge buses, rules and archives, through whatever boto3 endpoint
                   is configured: moto's in-process `mock_aws` in tests, moto server in `make local`. Other
                   resource types (functions, layers, APIs, IAM, alarms) are skipped.
- `functions`      `function_environment` (Globals merged with the function's own, intrinsics resolved),
                   `function_properties`, `load_handler` (imports a function's handler from its `CodeUri` by file
                   path), ...
- `api`            `api_routes` (the REST routes declared by functions' `Events` of `Type: Api`) and `api_settings`
                   (a REST API's stage, binary media types and gateway responses).
"""
