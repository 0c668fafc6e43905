"""Export a spec's policies as production configuration, and read configuration back.

Public faces (imported from their modules, so that `simscale --help` stays fast):
`simscale.export.plan.plan_from_spec` (the deployment a spec describes),
`simscale.export.targets.TARGETS` / `export_plan` / `write_export` (render, check and write
one target: env, kubernetes, nginx, haproxy, redis, compose, prometheus, grafana; secrets
written 0600 and kept), `simscale.export.validate` (the real tools: nginx -t, haproxy -c,
kubernetes-validate, redis-server, promtool; `reach` reaches the compose cache from another
network namespace, `cluster` creates a real Redis Cluster), `simscale.export.limits` (the
number ranges each target accepts), `simscale.export.importer.import_file` (HPA,
ScaledObject, nginx upstream or Prometheus rules → spec fragment, read by
`import_kubernetes`, `import_nginx` and `import_prometheus`, checked and written by
`fragment`); the `export` and `import` commands are simscale.commands.export's.
"""
