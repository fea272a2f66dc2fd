# CAM-OS image: cam-kernel and cam-exporter on Debian 12, non-root.
#
#   docker build -t cam-os:0.1.0 .
#   docker run --rm cam-os:0.1.0                      # cam-kernel (the default)
#   docker run --rm cam-os:0.1.0 cam-exporter --help
#
# Two stages: `build` installs the "# build" packages of deps/debian.txt and
# runs `make install`; the runtime stage installs only the Debian packages
# owning the shared libraries the two programs link (found with ldd and
# dpkg -S by scripts/docker-packages.sh), so the lists never drift from the
# Makefile. Used by k8s/ and docker-compose.test.yml. Built as it is and run
# by podman in tests/containers/test_image.sh (make test-containers).

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY deps/debian.txt deps/debian.txt
COPY scripts/docker-packages.sh scripts/docker-packages.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(scripts/docker-packages.sh build) \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make -j"$(nproc)" all \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && scripts/docker-packages.sh runtime $(find /out/usr/local -type f -perm -u+x) \
      >/out/runtime-packages.txt

FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
# libgoogle-perftools4 (the CPU profiler) and libcurl4 (the exporter's span
# export) are dlopen()ed, so ldd cannot see them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages.txt) libgoogle-perftools4 libcurl4 \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 cam-os \
 && useradd --system --uid 10001 --gid cam-os --home-dir /var/lib/cam-os \
      --no-create-home --shell /usr/sbin/nologin cam-os \
 && install -d -o cam-os -g cam-os -m 0700 /var/lib/cam-os \
 && install -d -o cam-os -g cam-os -m 0750 /run/cam-os
# What `make install` installed: the programs (and their systemd units,
# unused here but small).
COPY --from=build /out/usr/local/ /usr/local/
# The bus socket folder: an emptyDir (Kubernetes) or a named volume shared
# with the exporter (docker-compose.test.yml) is mounted here.
ENV CAM_BUS_ADDR=ipc:///var/run/cam-os/bus.ipc
# The durable context store, registered agents, the policy and the audit log:
# mount a volume here (compose: cam-os-data; Kubernetes: a PVC or emptyDir).
ENV CAM_DATA_DIR=/var/lib/cam-os
WORKDIR /var/lib/cam-os
USER 10001:10001
EXPOSE 50051 8080
CMD ["/usr/local/bin/cam-kernel"]
