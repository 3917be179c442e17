// Package deploytest checks the deployment files against each other and against the plugin:
// conf/ (fluent-bit classic configuration, read with plugin/flbconf), manifests/ (kustomize),
// Dockerfile and scripts/audit-setup.sh.
package deploytest
