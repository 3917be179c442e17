# syntax=docker/dockerfile:1
#
# Two images from one file:
#   docker build --target plugin -t REGISTRY/auditd-cloud-logging:0.1.0 .
#   docker build --target setup  -t REGISTRY/auditd-cloud-logging-setup:0.1.0 .
# (manifests/base/kustomization.yaml names both; change registry and tag there.)
#
# Every base is pinned to a release tag, never latest. Add @sha256 digests when you mirror the bases.

# Builder: Debian 12 (glibc 2.36), the same as the runtime below, so the .so needs no newer glibc
# symbols than fluent-bit's image provides.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -buildmode=c-shared -trimpath -o /out/out_auditd_cloud_logging.so ./plugin

# Init container image: the setup script and its rules. It drives the HOST's systemctl and auditctl
# through chroot, so it needs only a shell, coreutils (chroot, readlink, sleep), sed and grep, all in
# the slim base; nothing is installed.
FROM debian:12.12-slim AS setup
COPY scripts/audit-setup.sh /opt/auditd-cloud-logging/audit-setup.sh
COPY scripts/rules/ /opt/auditd-cloud-logging/rules/
RUN chmod 0755 /opt/auditd-cloud-logging/audit-setup.sh
CMD ["/opt/auditd-cloud-logging/audit-setup.sh"]

# Shipper image: official fluent-bit 4.1.2 (distroless, Debian 12, glibc 2.36) plus the plugin.
# Why 4.1.2: the plugin uses fluent-bit-go a7a013e, which fills flb_plugin_proxy_def only up to the
# fields of fluent-bit < 4.2.3 (4.2.3 added event_type, 5.1.1 config_map; that fluent-bit-go leaves
# them unset). 4.1.2 is the newest release of the last minor line before that change, and its
# libsystemd (Debian 12, systemd 252) reads the journal files of current COS releases (keyed hash,
# zstd, compact mode). It is last so that a plain `docker build .` builds it.
FROM fluent/fluent-bit:4.1.2 AS plugin
COPY --from=build /out/out_auditd_cloud_logging.so /fluent-bit/bin/out_auditd_cloud_logging.so
COPY conf/fluent-bit.conf conf/fluent-bit-auditlog.conf conf/service.conf conf/input-journal.conf conf/input-auditlog.conf conf/output.conf conf/plugins.conf /fluent-bit/etc/
# The base image's ENTRYPOINT would receive CMD as arguments; clear it so CMD is the whole command.
ENTRYPOINT []
CMD ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]
