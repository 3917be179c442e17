// Package deploytest checks the deployment files against each other and against the plugin:
// conf/ (fluent-bit classic configuration), manifests/ (kustomize), Dockerfile and
// scripts/audit-setup.sh. It holds a parser for fluent-bit's classic configuration format that
// follows fluent-bit's own reader (src/config_format/flb_cf_fluentbit.c) as far as a parser can
// without the binary.
package deploytest
