"""Docker-free local stack: moto server, the Stripe emulator and an API Gateway stand-in on template.yaml.

`python -m local_stack` (or `make local`) runs it. The modules are usable on their own by tests:

- `template`       — template.yaml as the single source of truth: CloudFormation tags, intrinsic functions,
                     tables/topics/queues created through boto3, function environments, API routes, handlers.
- `lambda_runtime` — runs a template function in this process like one Lambda instance (environment,
                     context, JSON round trip, one invocation at a time, one module namespace per function).
- `apigw`          — API Gateway REST proxy (v1 payload) faithfulness: routing, events, response mapping.
- `server`         — the HTTP server in front of `apigw`.
- `workers`        — the extension point for background event sources (stream/queue pollers, schedules).
- `stack`          — puts it all together; `__main__` is the command line.
- `process`        — runs `python -m local_stack` as a child process on free ports (end-to-end tests).

See README.md beside this file.
"""
